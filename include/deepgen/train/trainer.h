#pragma once
// The one training loop every model family uses.
#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "deepgen/data/dataset.h"
#include "deepgen/train/model.h"
#include "deepgen/train/optim.h"

namespace deepgen::dist {
class Communicator;
}

namespace deepgen::train {

struct TrainOptions {
  int64_t steps = 0;   // total optimiser steps; 0: epochs * batches per epoch
  int64_t epochs = 0;  // used when steps == 0
  int64_t batch = 128;
  uint64_t seed = 0;
  OptimizerOptions optimizer;
  double ema_decay = 0.0;           // 0: no EMA
  int64_t checkpoint_every = 1000;  // and always at the end and on interruption
  int64_t log_every = 50;           // one metrics.jsonl row per log_every steps
  int64_t eval_every = 0;           // 0: evaluate at the end only
  int64_t eval_batches = 0;         // test batches per evaluation; 0: the whole test set
  int64_t final_eval_batches = 0;   // run's eval.json after training: batches of 500; 0: all
  // A log window's mean loss this far above the best window so far, relative to |best|, is a
  // loss spike (train/spike.h): said in a message, marked in metrics.jsonl, and the checkpoint
  // before it is kept as checkpoint-before-spike.pt. 0: off.
  double spike_factor = 0.5;
  std::string run_dir;  // holds checkpoint.pt, model.safetensors, metrics.jsonl
  // Written into the weights files' __metadata__ (with "weights": model | ema), so a
  // model.safetensors describes itself away from its run directory.
  std::map<std::string, std::string> weights_metadata;
  bool resume = false;  // continue from run_dir/checkpoint.pt
  c10::Device device = c10::Device(c10::kCPU);
  // Data-parallel training (dist/comm.h): batch is the global batch, each rank takes its share of
  // every batch, gradients are averaged over ranks, and only rank 0 writes files. Null: one
  // process.
  std::shared_ptr<dist::Communicator> comm;
  int64_t bucket_elems = 1 << 22;  // gradient all-reduce slice: 16 MiB of float32
};

struct Progress {
  int64_t step = 0, total = 0, epoch = 0;
  double loss = 0.0;           // mean over the last log window
  double steps_per_sec = 0.0;  // over the last log window
  double eta_seconds = 0.0;
  int64_t spike_step = 0;  // where the last loss spike was seen (0: none)
};

struct TrainCallbacks {
  std::function<void(const Progress&)> on_progress;    // after every step
  std::function<bool()> should_stop;                   // polled every step (signals)
  std::function<void(const std::string&)> on_message;  // resumed, checkpoint written, ...
};

enum class Outcome { finished, interrupted };

struct TrainResult {
  Outcome outcome = Outcome::finished;
  int64_t step = 0;
  std::map<std::string, double> last_metrics;  // last logged training metrics
  std::map<std::string, double> test_metrics;  // last evaluation ("test/..." keys)
};

// Paths inside a run directory.
std::string checkpoint_path(const std::string& run_dir);
std::string weights_path(const std::string& run_dir);      // model.safetensors
std::string ema_weights_path(const std::string& run_dir);  // ema.safetensors
std::string metrics_path(const std::string& run_dir);
std::string spike_checkpoint_path(const std::string& run_dir);  // checkpoint-before-spike.pt
// diverged.json: where a run's loss became non-finite and with which lr and clip; a --resume
// with neither lowered is refused.
std::string divergence_path(const std::string& run_dir);

// Throws deepgen::Error naming the option for what no training could survive (a batch larger
// than the data, no length): train() calls it first; callers may call it before they write.
void check_options(const TrainOptions& options, const data::Dataset& train_data);

// Trains `model` (already on options.device) on `train_data`; evaluates on test_data when given.
// A non-finite loss throws deepgen::Error; the last checkpoint on disk stays the last good one.
TrainResult train(GenerativeModel& model, const data::Dataset& train_data,
                  const data::Dataset* test_data, const TrainOptions& options,
                  const TrainCallbacks& callbacks = {});

// Mean of model.evaluate() over a data set (weighted by batch size), without gradients. With a
// communicator of several ranks, each rank evaluates every world-th batch and the sums are
// reduced, so every rank returns the mean over the whole set.
// `progress(done, total)` is called after each batch (this rank's count when sharded).
using EvalProgress = std::function<void(int64_t done, int64_t total)>;
std::map<std::string, double> evaluate(GenerativeModel& model, const data::Dataset& data,
                                       int64_t batch, c10::Device device, int64_t max_batches = 0,
                                       dist::Communicator* comm = nullptr,
                                       const EvalProgress& progress = {});

}  // namespace deepgen::train
