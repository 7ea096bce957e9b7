#pragma once
// The command layer: flags (from the option tables) in, run-layer and library calls out. It
// names no model family: families describe themselves (train/family.h, run/families.h).
#include <nlohmann/json.hpp>
#include <string>

#include "deepgen/core/options.h"

namespace deepgen::cli {

// What `deepgen train` takes beyond the run's configuration (not saved in config.json).
struct TrainCommand {
  std::string out;     // the run directory
  std::string config;  // a config.json to start from; flags override it
  bool resume = false;
  int dist_timeout = 300;  // data-parallel: seconds a rank waits for the others
};
const OptionTable<TrainCommand>& train_command_table();
int run_info();

// deepgen demo (src/cli/demo.cpp): the main job.
struct DemoRequest {
  std::string out = "runs/demo";
  int threads = 0;  // 0: the measured default of each scenario
  std::string device = "auto";
};
const OptionTable<DemoRequest>& demo_option_table();
int run_demo(const DemoRequest& request);

// deepgen fit gmm (src/cli/fit.cpp): Bayesian Gaussian mixture by CAVI, one JSON object out.
struct FitGmmRequest {
  std::string data, png;  // data: toy:NAME | csv:PATH; png: scatter of the fit (2-D only)
  int64_t components = 0;
  double tol = 1e-3;  // on the ELBO change per point
  int64_t max_iter = 100;
  uint64_t seed = 0;
  int threads = 0;
  double test_fraction = 0;  // csv: rows held out (not fitted); 0: every row is fitted
};
const OptionTable<FitGmmRequest>& fit_gmm_option_table();
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
const OptionTable<LangevinRequest>& langevin_option_table();
int run_langevin(const LangevinRequest& request);
nlohmann::json langevin(const LangevinRequest& request);  // what run_langevin prints

// `deepgen options`: every option of every table (the reference in docs/options.md).
int run_options(bool markdown);

}  // namespace deepgen::cli
