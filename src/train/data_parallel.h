#pragma once
// The data-parallel side of the training loop (not installed): what the ranks exchange so that
// they train as one run. With one process every call is the trivial case (nothing is sent, the
// loss and the stop request are this process's own), so the loop reads the same for any world.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <memory>
#include <string>

#include "deepgen/dist/comm.h"
#include "deepgen/train/checkpoint.h"
#include "deepgen/train/model.h"
#include "deepgen/train/trainer.h"

namespace deepgen::train {

class Ema;
class FlatAdam;

class DataParallel {
 public:
  // comm null: one process. callbacks.should_stop is polled, on_message told of a fresh stream.
  DataParallel(std::shared_ptr<dist::Communicator> comm, int64_t bucket_elems,
               const TrainCallbacks& callbacks);
  // The run's model and optimiser, once made. Throws deepgen::Error when several ranks cannot
  // train them (the model's data_parallel_blocker, or parameters that are not one flat buffer).
  void attach(const GenerativeModel& model, torch::optim::Optimizer& optimizer);

  int rank() const { return comm_->rank(); }
  int world() const { return comm_->world(); }
  bool writer() const { return comm_->rank() == 0; }  // rank 0 writes every file
  dist::Communicator& comm() { return *comm_; }
  // Every rank draws its own noise; rank 0's stream is the single-process one.
  uint64_t rank_seed(uint64_t seed) const;

  // Rank 0's parameters, buffers, EMA and optimiser state to every rank, so all start the same.
  void broadcast_state(torch::nn::Module& module, const Ema* ema);
  // On resume, from rank 0's checkpoint `s` (loaded there only): the step, and every rank's own
  // saved generator state; a rank the checkpoint has none for starts a fresh noise stream from
  // `seed` and the step.
  void share_checkpoint(CheckpointState& s, uint64_t seed);
  // Every rank's generator state, for the checkpoint: (world, n); undefined with one process.
  at::Tensor gather_rng(const at::Tensor& rng);

  // Polled before every step. One process asks should_stop now; several ranks use the flag they
  // agreed on in the last step's reduce, so that all stop after the same step.
  bool stop_requested();
  // After backward: the gradients averaged over ranks (bucketed, one flat buffer), sent together
  // with the loss and this rank's stop request. Returns the ranks' mean loss, which is
  // non-finite on every rank when it is on any, so all ranks fail at the same step.
  double reduce(double loss);
  // Sums over `count` steps on this rank, in place -> their mean over the steps of every rank.
  void average(const at::Tensor& sums, int64_t count);

 private:
  bool poll_stop() const;
  std::shared_ptr<dist::Communicator> comm_;
  FlatAdam* flat_ = nullptr;  // the optimiser when it is the flat one (several ranks need it)
  int64_t bucket_elems_;
  const TrainCallbacks& callbacks_;
  bool stop_all_ = false;
};

}  // namespace deepgen::train
