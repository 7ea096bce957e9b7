// The trainer writes its own files; their names stay with it (train/trainer.h).
#include "deepgen/run/run_dir.h"

#include <algorithm>

#include "deepgen/io/files.h"
#include "deepgen/train/trainer.h"

namespace deepgen::run {

std::string RunDir::checkpoint() const { return train::checkpoint_path(path); }
std::string RunDir::weights() const { return train::weights_path(path); }
std::string RunDir::ema_weights() const { return train::ema_weights_path(path); }
std::string RunDir::metrics() const { return train::metrics_path(path); }

std::vector<std::string> RunDir::outputs() const {
  return {checkpoint(),
          weights(),
          ema_weights(),
          metrics(),
          eval(),
          bounds(),
          samples_png(),
          samples_csv(),
          samples_svg(),
          reconstructions(),
          loss_svg(),
          report(),
          classes(),
          train::spike_checkpoint_path(path),
          train::divergence_path(path)};
}

nlohmann::json read_json_if_present(const std::string& path) {
  if (!io::file_exists(path)) return nullptr;
  nlohmann::json j = nlohmann::json::parse(io::read_file(path), nullptr, false);
  return j.is_discarded() ? nlohmann::json(nullptr) : j;
}

std::vector<nlohmann::json> saved_evaluations(const RunDir& dir) {
  const nlohmann::json j = read_json_if_present(dir.bounds());
  if (!j.is_object()) return {};
  if (!j.contains("evaluations")) return {j};
  std::vector<nlohmann::json> out;
  for (const auto& e : j["evaluations"])
    if (e.is_object()) out.push_back(e);
  return out;
}

namespace {

// What an evaluation measured: its metric names and which of the optional parts it holds.
std::vector<std::string> measured(const nlohmann::json& evaluation) {
  std::vector<std::string> what;
  const nlohmann::json metrics = evaluation.value("metrics", nlohmann::json::object());
  for (const auto& [k, v] : metrics.items()) what.push_back(k);  // items() of a named object
  for (const char* part : {"ode", "classifier_fid", "class_accuracy"})
    if (evaluation.contains(part)) what.emplace_back(std::string("+") + part);
  std::sort(what.begin(), what.end());
  return what;
}

}  // namespace

void save_evaluation(const RunDir& dir, const nlohmann::json& evaluation) {
  nlohmann::json list = nlohmann::json::array();
  for (auto& e : saved_evaluations(dir))
    if (measured(e) != measured(evaluation)) list.push_back(std::move(e));
  list.push_back(evaluation);
  io::write_file_atomic(dir.bounds(), nlohmann::json{{"evaluations", list}}.dump(2) + "\n");
}

}  // namespace deepgen::run
