#pragma once
// The command layer: plain config structs in, library calls out. Only cli/ knows every model
// family; the library's layers never do.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "deepgen/data/dataset.h"
#include "deepgen/train/model.h"
#include "deepgen/train/trainer.h"

namespace deepgen::cli {

// Everything a run is made of; saved resolved as RUN_DIR/config.json.
struct RunConfig {
  RunConfig() { train.epochs = 10; }  // a sensible length when neither --steps nor --epochs
  std::string model = "vae";
  nlohmann::json model_options = nlohmann::json::object();
  data::DataOptions data;
  std::vector<int64_t> data_shape;  // filled from the data set when training starts
  train::TrainOptions train;        // run_dir and device are set from the fields below
  std::string device = "auto";
  int threads = 0;       // intra-op (OpenMP) threads; 0: default
  int blas_threads = 0;  // OpenBLAS threads; 0: default
  // Not saved: how long a data-parallel rank waits for the others (rendezvous, collectives).
  int dist_timeout_s = 300;
};

nlohmann::json to_json(const RunConfig& config);
// Defaults overlaid with `j`; unknown keys are an error naming the key.
RunConfig run_config_from_json(const nlohmann::json& j);
nlohmann::json default_config_json();

// Model registry.
std::vector<std::string> model_names();
std::unique_ptr<train::GenerativeModel> make_model(const RunConfig& config);
// Every option of the model with defaults filled in (what config.json records).
nlohmann::json resolved_model_options(const RunConfig& config);
// Fills what depends on the training set (data_shape, per-example state sizes) and resolves
// the model options.
void adapt_to_data(RunConfig& config, const data::Dataset& train);

// Data a model keeps beside its weights (esm-kde: the kernel density's points).
void attach_data(train::GenerativeModel& model, const data::Dataset& train);
// What the test metrics of the run's model are measured in.
std::string metric_units(const RunConfig& config);
// vdm: the sampler and its number of steps ("" / 0 keep the run's); returns them as JSON, or
// null for models without a choice (then a non-empty request is an error).
nlohmann::json configure_sampling(train::GenerativeModel& model, const std::string& sampler,
                                  int64_t steps);

// Commands. Each returns the process exit code.
struct SampleRequest {
  std::string run_dir, out;
  std::string sampler;  // vdm: ancestral | ddim ("" keeps the run's)
  int64_t steps = 0;    // vdm: sampling steps (0 keeps the run's)
  int64_t n = 64;
  uint64_t seed = 0;
  bool ema = true;
};
struct EvalRequest {
  std::string run_dir;
  int64_t batch = 500;
  int64_t max_batches = 0;
  uint64_t seed = 0;
  int64_t iwae_k = 0;             // vae: IWAE bound with K samples
  bool amortization_gap = false;  // vae
  int64_t refine_steps = -1;      // vae: -1 keeps the model's default
  double refine_lr = 0;           // vae: 0 keeps the model's default
  std::string sampler;            // vdm: for the sample-based metrics of points
  int64_t steps = 0;
  int64_t eval_samples = 0;  // vdm: (t, ε) draws per test example (0 keeps the run's)
  int64_t T = -1;            // vdm: steps of the evaluated diffusion loss (-1: the run's)
  bool fid = false;          // classifier-FID of samples against the test set (mnist runs)
  int64_t fid_samples = 2000;
};
// Passes the evaluation extras of `request` to the model; an error if the model has none.
void configure_evaluation(train::GenerativeModel& model, const EvalRequest& request);
int run_train(RunConfig config, bool resume, const std::string& run_dir);
int run_sample(const SampleRequest& request);
int run_eval(const EvalRequest& request);
int run_info();
int run_demo(const std::string& out_dir, int threads, const std::string& device);
// deepgen fit gmm (src/cli/fit.cpp): Bayesian Gaussian mixture by CAVI, one JSON object out.
struct FitGmmRequest {
  std::string data, png;  // data: toy:NAME | csv:PATH; png: scatter of the fit (2-D only)
  int64_t components = 0;
  double tol = 1e-3;  // on the ELBO change per point
  int64_t max_iter = 100;
  uint64_t seed = 0;
  int threads = 0;
};
int run_fit_gmm(const FitGmmRequest& request);
nlohmann::json fit_gmm(const FitGmmRequest& request);  // what run_fit_gmm prints

// deepgen langevin (src/cli/langevin.cpp): sample a target with a known score; one JSON out.
struct LangevinRequest {
  std::string target, out;  // gmm:.. | gaussian:.. | toy:NAME (toy: kernel density of its points)
  int64_t n = 2000, steps = 1000;
  double step_size = 0.01;  // δ of x + δ∇log p + sqrt(2δ)ε; --annealed: the ε of δ_i = ε σ_i²/σ_L²
  bool annealed = false, mala = false;
  double sigma_begin = 20, sigma_end = 1;  // --annealed: NCSN's toy ladder
  int64_t levels = 10;
  double init_box = 8;     // chains start uniform in [−b, b]^D
  double kde_sigma = 0.1;  // toy targets: kernel width
  int64_t kde_points = 2000;
  uint64_t seed = 0;
  int threads = 0;
};
int run_langevin(const LangevinRequest& request);
nlohmann::json langevin(const LangevinRequest& request);  // what run_langevin prints

// Shared by the commands.
void write_csv(const std::string& path, const at::Tensor& points);  // one row per point
RunConfig load_run_config(const std::string& run_dir);
std::unique_ptr<train::GenerativeModel> load_trained_model(const RunConfig& config,
                                                           const std::string& run_dir, bool ema);
void write_outputs(train::GenerativeModel& model, const RunConfig& config, const data::Splits& data,
                   const std::string& run_dir);
void write_report(const std::string& run_dir);

}  // namespace deepgen::cli
