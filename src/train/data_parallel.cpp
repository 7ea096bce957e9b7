#include "data_parallel.h"

#include "deepgen/core/error.h"
#include "deepgen/core/rng.h"
#include "deepgen/train/ema.h"
#include "deepgen/train/flat_adam.h"

namespace deepgen::train {

DataParallel::DataParallel(std::shared_ptr<dist::Communicator> comm, int64_t bucket_elems,
                           const TrainCallbacks& callbacks)
    : comm_(comm ? std::move(comm) : dist::single_process()),
      bucket_elems_(bucket_elems),
      callbacks_(callbacks) {}

void DataParallel::attach(const GenerativeModel& model, torch::optim::Optimizer& optimizer) {
  flat_ = dynamic_cast<FlatAdam*>(&optimizer);
  if (comm_->world() == 1) return;
  const std::string blocker = model.data_parallel_blocker();
  if (!blocker.empty()) throw Error("data-parallel training (WORLD_SIZE > 1): " + blocker);
  if (!flat_)
    throw Error("data-parallel training needs the parameters in one buffer (one dtype and device)");
}

uint64_t DataParallel::rank_seed(uint64_t seed) const {
  const int r = rank();
  return r == 0 ? seed : mix_seed(seed, 0x7a4b0000ULL + static_cast<uint64_t>(r));
}

void DataParallel::broadcast_state(torch::nn::Module& module, const Ema* ema) {
  if (comm_->world() == 1) return;
  std::vector<at::Tensor> tensors{flat_->flat().values()};
  for (const at::Tensor& b : module.buffers()) tensors.push_back(b);
  if (ema)
    for (const at::Tensor& t : ema->shadow()) tensors.push_back(t);
  for (const at::Tensor& t : flat_->state_tensors()) tensors.push_back(t);
  torch::NoGradGuard no_grad;
  comm_->broadcast(tensors);
}

void DataParallel::share_checkpoint(CheckpointState& s, uint64_t seed) {
  if (comm_->world() == 1) return;
  at::Tensor ranks;  // rank 0's checkpoint: (saved world, generator state bytes)
  if (writer()) ranks = s.rng_ranks.defined() ? s.rng_ranks : s.rng.unsqueeze(0);
  at::Tensor head = torch::tensor(
      {s.step, writer() ? ranks.size(0) : int64_t{0}, writer() ? ranks.size(1) : int64_t{0}});
  comm_->broadcast({head});
  s.step = head[0].item<int64_t>();
  const int64_t saved_world = head[1].item<int64_t>();
  at::Tensor all =
      writer() ? ranks.contiguous() : at::empty({saved_world, head[2].item<int64_t>()}, at::kByte);
  comm_->broadcast({all});
  if (rank() < saved_world) {
    s.rng = all[rank()].clone();
    return;
  }
  seed_global(rank_seed(mix_seed(seed, 1 + static_cast<uint64_t>(s.step))));
  s.rng = global_rng_state();
  if (callbacks_.on_message)
    callbacks_.on_message("the checkpoint has the random state of " + std::to_string(saved_world) +
                          " rank(s); this rank starts a fresh noise stream");
}

at::Tensor DataParallel::gather_rng(const at::Tensor& rng) {
  return comm_->world() == 1 ? at::Tensor() : comm_->allgather(rng);
}

bool DataParallel::poll_stop() const { return callbacks_.should_stop && callbacks_.should_stop(); }

bool DataParallel::stop_requested() { return comm_->world() == 1 ? poll_stop() : stop_all_; }

double DataParallel::reduce(double loss) {
  if (comm_->world() == 1) return loss;
  at::Tensor scalars = torch::tensor({loss, poll_stop() ? 1.0 : 0.0}, at::kDouble);
  const at::Tensor& grads = flat_->flat().grads();
  std::vector<at::Tensor> bufs = dist::buckets(grads, bucket_elems_);
  bufs.push_back(scalars);
  comm_->allreduce_sum(bufs);
  grads.div_(comm_->world());
  stop_all_ = scalars[1].item<double>() > 0;
  return scalars[0].item<double>() / comm_->world();
}

void DataParallel::average(const at::Tensor& sums, int64_t count) {
  comm_->allreduce_sum({sums});
  sums.div_(comm_->world() * count);
}

}  // namespace deepgen::train
