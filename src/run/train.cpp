// One run from configuration to report.
#include "deepgen/run/train.h"

#include <filesystem>

#include "deepgen/core/error.h"
#include "deepgen/core/rng.h"
#include "deepgen/core/runtime.h"
#include "deepgen/core/version.h"
#include "deepgen/dist/comm.h"
#include "deepgen/io/files.h"
#include "deepgen/run/model.h"
#include "deepgen/run/outputs.h"
#include "deepgen/run/run_dir.h"
#include "deepgen/run/run_lock.h"

namespace deepgen::run {

namespace {

int64_t parameter_count(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s;
  for (int64_t d : shape) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

// A conditional model (nn/condition.h) learns the training set's classes: their count is
// recorded in its options.
void record_classes(nlohmann::json& given, const data::Dataset& train, const std::string& spec) {
  if (!given.value("conditional", false)) return;
  if (!train.labels.defined() || train.size() == 0)
    throw Error(spec +
                " has no class labels, so --conditional cannot train on it: use mnist, "
                "fashion-mnist, folder:PATH with one subfolder per class, or csv:PATH with "
                "--label-column");
  given["classes"] = train.classes.empty() ? train.labels.max().item<int64_t>() + 1
                                           : static_cast<int64_t>(train.classes.size());
}

// What the data decide: the sample shape, then the family's data-dependent options.
std::vector<std::string> adapt_to_data(RunConfig& c, const data::Dataset& train) {
  const train::Family& f = family_of(c);
  c.data_shape = train.sample_shape();
  record_classes(c.model_options, train, c.data.spec);
  std::vector<std::string> notes = f.adapt(c.model_options, train, c.train);
  c.model_options = f.resolve(c.model_options, c.data_shape);
  return notes;
}

// What a weights file needs to be used without its run directory (issue 16).
std::map<std::string, std::string> weights_metadata(const RunConfig& c, data::Kind kind) {
  return {{"deepgen_version", version()},
          {"family", c.model},
          {"config", to_json(c).dump()},
          {"data_shape", nlohmann::json(c.data_shape).dump()},
          {"data_units", kind == data::Kind::image
                             ? "pixels in [0, 1] (an 8-bit byte k is k / 255), channels first"
                             : "points in the units of the data file"}};
}

}  // namespace

train::Outcome train_run(TrainRun run, const TrainHooks& hooks) {
  RunConfig& c = run.config;
  const dist::WorldEnv env = dist::world_from_env();
  const bool lead = env.rank == 0;
  auto log = [&](const std::string& line) {
    if (lead && hooks.log) hooks.log(line);
  };
  const ThreadSettings threads =
      apply_threads(c.runtime.threads, c.runtime.blas_threads, env.local_world);
  if (!threads.warning.empty()) log("warning: " + threads.warning);
  const c10::Device device = resolve_device(c.runtime.device, env.local_rank);
  data::Splits splits = data::load_data(c.data);
  if (splits.test.size() == 0)
    throw Error(c.data.spec + " gives no test split: training reports test metrics, so set " +
                option_ref("data", "test_fraction") + " in (0, 1)");
  if (splits.train.sample_shape() != splits.test.sample_shape())
    throw Error(c.data.spec + ": its train samples are " + shape_text(splits.train.sample_shape()) +
                " but its test samples " + shape_text(splits.test.sample_shape()) +
                ": the two splits must hold data of one shape");
  for (const auto& note : adapt_to_data(c, splits.train)) log(note);
  seed_global(c.train.seed);
  auto model = make_model(c);
  const Precision precision = use_precision(c.runtime, device, *model, log);
  model->module().to(device);
  model->keep_training_data(splits.train);
  c.train.run_dir = run.run_dir;
  c.train.device = device;
  c.train.resume = run.resume;
  c.train.weights_metadata = weights_metadata(c, splits.train.kind);
  train::check_options(c.train, splits.train);  // before the run directory is made
  const RunDir dir(run.run_dir);
  std::unique_ptr<RunLock> lock;
  if (lead) {
    io::make_dirs(run.run_dir);
    lock = std::make_unique<RunLock>(run.run_dir);
    if (!run.resume)
      for (const auto& file : dir.outputs()) std::filesystem::remove(file);
    io::write_file_atomic(dir.config(), to_json(c).dump(2) + "\n");
    if (!splits.train.classes.empty())
      io::write_file_atomic(dir.classes(), nlohmann::json(splits.train.classes).dump() + "\n");
  }
  if (env.world > 1) {
    if (run.dist_timeout_s <= 0)
      throw Error("the data-parallel timeout must be a positive number of seconds");
    c.train.comm = dist::join(env, device, std::chrono::seconds(run.dist_timeout_s));
  }
  const std::string ranks =
      env.world > 1 ? " as " + std::to_string(env.world) + " data-parallel ranks" : "";
  log("training " + c.model + " (" + std::to_string(parameter_count(model->module())) +
      " parameters) on " + c.data.spec + " (" + std::to_string(splits.train.size()) + " train / " +
      std::to_string(splits.test.size()) + " test, " + shape_text(c.data_shape) + ") on " +
      device.str() + ranks + " with " + std::to_string(threads.intra_op) + " intra-op + " +
      std::to_string(threads.blas) + " BLAS thread(s)" + (env.world > 1 ? " each" : "") + ", " +
      precision_name(precision) + " networks");
  const train::TrainResult r =
      train::train(*model, splits.train, &splits.test, c.train,
                   hooks.callbacks ? hooks.callbacks(lead) : train::TrainCallbacks{});
  if (r.outcome == train::Outcome::interrupted) {
    log("interrupted at step " + std::to_string(r.step) +
        "; checkpoint saved. Continue with: deepgen train --out " + run.run_dir + " --resume");
    return r.outcome;
  }
  if (hooks.after_loop) hooks.after_loop();
  if (!lead) return r.outcome;
  auto trained = load_trained_model(c, run.run_dir, true);
  trained->keep_training_data(splits.train);
  write_outputs(*trained, c, splits, run.run_dir);
  write_report(run.run_dir);
  log("done: " + dir.report());
  return r.outcome;
}

}  // namespace deepgen::run
