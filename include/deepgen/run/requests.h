#pragma once
// `deepgen sample` and `deepgen eval` on a trained run. The family's own sampling and
// evaluation options come beside a request as `overrides` (run/model.h: with_overrides).
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "deepgen/core/options.h"

namespace deepgen::run {

struct SampleRequest {
  std::string run;  // the run directory
  std::string out;  // FILE.png (grid / scatter) | DIR/ (a PNG each) | FILE.npy | FILE.csv
  int64_t n = 64;
  uint64_t seed = 0;
  bool no_ema = false;
  // Conditional runs (run/classes.h): n samples of one class (a name or an index), or a grid
  // row of per_class samples for every class.
  std::string class_name;
  int64_t per_class = 0;
};
const OptionTable<SampleRequest>& sample_option_table();
// Writes the samples; returns the path written.
// `runtime`: process settings (device, threads, precision) over the run's config.json.
std::string sample_run(const SampleRequest& request, const nlohmann::json& overrides,
                       const nlohmann::json& runtime = nlohmann::json::object(),
                       const std::function<void(const std::string&)>& log = {});

struct EvalRequest {
  std::string run;
  int64_t batch = 500;
  int64_t max_batches = 0;  // 0: the whole test split
  uint64_t seed = 0;        // of the evaluation noise
  bool fid = false;         // classifier-FID, precision, recall of samples vs the test split
  int64_t fid_samples = 2000;
  int64_t class_samples = 0;  // conditional runs: samples of each class the classifier labels
  // Likelihood by the probability-flow ODE (eval/ode_likelihood.h): vdm, and score with ncsn.
  bool ode = false;
  int64_t ode_examples = 256;  // 0: the whole test split
  std::string ode_method = "rk45";
  double ode_rtol = 1e-5, ode_atol = 1e-5;
  int64_t ode_steps = 100;          // fixed-step solvers
  std::string divergence = "auto";  // auto | exact | hutchinson
  std::string probe = "rademacher";
  int64_t probes = 1;
  double ode_t0 = 0.0;  // vdm: the flow's start, the bound's own terms below it
  bool save = false;    // also write the result into the run as bounds.json (report, compare)
};
const OptionTable<EvalRequest>& eval_option_table();
// One JSON object: the evaluation envelope (run/outputs.h), the overrides it used, and the FID.
nlohmann::json eval_run(const EvalRequest& request, const nlohmann::json& overrides,
                        const std::function<void(const std::string&)>& log,
                        const nlohmann::json& runtime = nlohmann::json::object());

}  // namespace deepgen::run
