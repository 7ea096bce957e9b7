// The trainer writes its own files; their names stay with it (train/trainer.h).
#include "deepgen/run/run_dir.h"

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
          train::spike_checkpoint_path(path),
          train::divergence_path(path)};
}

}  // namespace deepgen::run
