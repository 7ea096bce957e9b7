#pragma once
// Training a run end to end: data, the family's model, config.json, the shared trainer
// (data-parallel under torchrun), then the outputs and report of the trained weights.
#include <functional>
#include <string>

#include "deepgen/run/config.h"
#include "deepgen/train/trainer.h"

namespace deepgen::run {

struct TrainRun {
  RunConfig config;
  std::string run_dir;
  bool resume = false;
  int dist_timeout_s = 300;  // data-parallel: how long a rank waits for the others
};

struct TrainHooks {
  std::function<void(const std::string&)> log;  // one line for the user
  // The trainer's callbacks for this rank (`lead`: rank 0, which alone reports).
  std::function<train::TrainCallbacks(bool lead)> callbacks;
  // The training loop has finished (not interrupted): what follows, the outputs of the trained
  // weights, has nothing to checkpoint, so a stop request may end the process at once.
  std::function<void()> after_loop;
};

// Data-parallel when WORLD_SIZE > 1 (torchrun, or the variables set by hand): every rank trains
// on its share of each batch; rank 0 alone writes the run directory and the outputs.
train::Outcome train_run(TrainRun run, const TrainHooks& hooks);

}  // namespace deepgen::run
