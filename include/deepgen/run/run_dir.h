#pragma once
// The run directory: every file a run holds, named in one place.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace deepgen::run {

struct RunDir {
  explicit RunDir(std::string path) : path(std::move(path)) {}
  std::string path;
  std::string config() const { return file("config.json"); }  // the resolved RunConfig
  std::string checkpoint() const;   // model, EMA, optimiser, step, RNG (train/checkpoint.h)
  std::string weights() const;      // model.safetensors
  std::string ema_weights() const;  // ema.safetensors
  std::string metrics() const;      // metrics.jsonl
  std::string eval() const { return file("eval.json"); }
  // The saved evaluations (eval --save; the demo's VAE bounds): save_evaluation
  std::string bounds() const { return file("bounds.json"); }
  // The training set's class names, index = label (labelled data only; read_class_names).
  std::string classes() const { return file("classes.json"); }
  std::string samples_png() const { return file("samples.png"); }
  std::string samples_csv() const { return file("samples.csv"); }
  std::string samples_svg() const { return file("samples.svg"); }  // 2-D: scatter with axes
  std::string reconstructions() const { return file("reconstructions.png"); }
  std::string loss_svg() const { return file("loss.svg"); }
  std::string report() const { return file("report.html"); }
  std::string file(const std::string& name) const { return path + "/" + name; }
  // Every file a run writes (config.json aside): a new run in a used directory removes them
  // first, so nothing of the earlier run (its EMA weights, its samples) passes for this one's.
  std::vector<std::string> outputs() const;
};

// A run's JSON output (eval.json, bounds.json), or null when it is missing or not JSON: reports
// and comparisons show what a run has.
nlohmann::json read_json_if_present(const std::string& path);

// The evaluations saved in a run (bounds.json), oldest first; a file from before the list, one
// evaluation object, reads as a list of one; none when missing or unreadable.
std::vector<nlohmann::json> saved_evaluations(const RunDir& dir);
// Adds an evaluation to bounds.json (atomic write). It replaces an earlier one that measured the
// same things (the same metrics, and the same of the ODE, FID and class-accuracy parts), so a
// repeated evaluation updates its numbers and a different one (an IWAE bound beside an ODE
// estimate) keeps both.
void save_evaluation(const RunDir& dir, const nlohmann::json& evaluation);

}  // namespace deepgen::run
