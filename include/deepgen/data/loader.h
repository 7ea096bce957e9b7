#pragma once
// Deterministic batching: data order is a pure function of (seed, epoch), so a run resumed at
// step k sees exactly the batches it would have seen uninterrupted.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>

#include "deepgen/data/dataset.h"

namespace deepgen::data {

// A permutation of 0..n-1 drawn from a generator seeded by (seed, epoch).
at::Tensor epoch_permutation(int64_t n, uint64_t seed, int64_t epoch);

class BatchSampler {
 public:
  // batch is the global batch; with world > 1 each rank takes its contiguous slice of it.
  BatchSampler(int64_t n, int64_t batch, uint64_t seed, int rank = 0, int world = 1);
  int64_t batches_per_epoch() const { return batches_per_epoch_; }  // incomplete tail dropped
  int64_t epoch_of(int64_t step) const { return step / batches_per_epoch_; }
  // int64 indices (this rank's share) of the batch taken at global step `step`.
  at::Tensor indices(int64_t step);

 private:
  int64_t n_, batch_;
  uint64_t seed_;
  int rank_, world_;
  int64_t batches_per_epoch_;
  int64_t cached_epoch_ = -1;
  at::Tensor perm_;
};

// Rows `idx` of data.x, on `device`, as float32 data units (8-bit images converted per batch).
at::Tensor gather(const Dataset& data, const at::Tensor& idx, c10::Device device);

}  // namespace deepgen::data
