// The trainer writes its own files; their names stay with it (train/trainer.h).
#include "deepgen/run/run_dir.h"

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

}  // namespace deepgen::run
