#include "deepgen/data/loader.h"

#include <string>

#include "deepgen/core/error.h"
#include "deepgen/core/rng.h"

namespace deepgen::data {
namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw Error("batch sampler: " + message);
}

}  // namespace

at::Tensor epoch_permutation(int64_t n, uint64_t seed, int64_t epoch) {
  if (n <= 0) throw Error("epoch_permutation: data set is empty");
  at::Generator gen = make_generator(mix_seed(seed, static_cast<uint64_t>(epoch) + 1));
  return at::randperm(n, gen, at::kLong);
}

BatchSampler::BatchSampler(int64_t n, int64_t batch, uint64_t seed, int rank, int world)
    : n_(n), batch_(batch), seed_(seed), rank_(rank), world_(world), batches_per_epoch_(0) {
  require(n > 0, "the data set is empty");
  require(batch > 0, "batch size must be positive, got " + std::to_string(batch));
  require(world >= 1 && rank >= 0 && rank < world,
          "rank " + std::to_string(rank) + " is outside world size " + std::to_string(world));
  require(batch % world == 0, "batch size " + std::to_string(batch) +
                                  " is not divisible by the world size " + std::to_string(world) +
                                  ": " + option_ref("train", "batch") +
                                  " is the global batch, give a multiple of the ranks");
  require(batch <= n, "batch size " + std::to_string(batch) + " exceeds the data set size " +
                          std::to_string(n) + "; lower " + option_ref("train", "batch"));
  batches_per_epoch_ = n / batch;
}

at::Tensor BatchSampler::indices(int64_t step) {
  require(step >= 0, "step must be >= 0, got " + std::to_string(step));
  const int64_t epoch = epoch_of(step);
  if (epoch != cached_epoch_) {
    perm_ = epoch_permutation(n_, seed_, epoch);
    cached_epoch_ = epoch;
  }
  const int64_t share = batch_ / world_;
  const int64_t start = (step % batches_per_epoch_) * batch_ + rank_ * share;
  // A copy, so a caller writing into the indices cannot corrupt the cached permutation.
  return perm_.slice(0, start, start + share).clone();
}

at::Tensor gather(const Dataset& data, const at::Tensor& idx, c10::Device device) {
  if (!data.x.defined()) throw Error("gather: data set '" + data.name + "' holds no data");
  const at::Tensor rows = idx.to(data.x.device(), at::kLong);
  // Rows are picked in their stored form (bytes for 8-bit images), converted on the way.
  return as_values(data.x.index_select(0, rows)).to(device);
}

}  // namespace deepgen::data
