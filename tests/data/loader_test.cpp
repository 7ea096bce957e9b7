#include "deepgen/data/loader.h"

#include <gtest/gtest.h>

#include <vector>

#include "deepgen/core/error.h"

namespace deepgen::data {
namespace {

bool is_permutation(const at::Tensor& p, int64_t n) {
  return p.numel() == n && std::get<0>(p.sort()).equal(at::arange(n, at::kLong));
}

TEST(Loader, EpochPermutationIsDeterministicPermutation) {
  const at::Tensor p = epoch_permutation(1000, 5, 0);
  EXPECT_EQ(p.scalar_type(), at::kLong);
  EXPECT_TRUE(is_permutation(p, 1000));
  EXPECT_TRUE(p.equal(epoch_permutation(1000, 5, 0)));
  EXPECT_FALSE(p.equal(epoch_permutation(1000, 5, 1)));
  EXPECT_FALSE(p.equal(epoch_permutation(1000, 6, 0)));
  // Seeds differing only in the high 32 bits must still give different orders.
  EXPECT_FALSE(p.equal(epoch_permutation(1000, 5 + (uint64_t{1} << 32), 0)));
}

TEST(Loader, SamplerCoversEachIndexOncePerEpoch) {
  BatchSampler s(103, 10, 1);
  ASSERT_EQ(s.batches_per_epoch(), 10);
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    std::vector<at::Tensor> parts;
    for (int64_t b = 0; b < 10; ++b) parts.push_back(s.indices(epoch * 10 + b));
    const at::Tensor seen = std::get<0>(at::cat(parts).sort());
    EXPECT_EQ(seen.numel(), 100);
    EXPECT_EQ(std::get<0>(at::_unique(seen)).numel(), 100);  // no repeats
    EXPECT_TRUE(seen.equal(std::get<0>(epoch_permutation(103, 1, epoch).slice(0, 0, 100).sort())));
  }
  EXPECT_EQ(s.epoch_of(25), 2);
}

TEST(Loader, ShardsUnionIsGlobalBatch) {
  BatchSampler global(64, 8, 9);
  BatchSampler r0(64, 8, 9, 0, 2), r1(64, 8, 9, 1, 2);
  for (int64_t step : {0, 3, 7, 8, 21}) {
    const at::Tensor a = r0.indices(step), b = r1.indices(step);
    EXPECT_EQ(a.numel(), 4);
    EXPECT_TRUE(at::cat({a, b}).equal(global.indices(step))) << "step " << step;
  }
}

TEST(Loader, ResumedSamplerMatches) {
  BatchSampler run(50, 7, 123);
  std::vector<at::Tensor> seen;
  for (int64_t step = 0; step < 20; ++step) seen.push_back(run.indices(step));
  for (int64_t step : {0, 6, 7, 13, 19}) {
    BatchSampler resumed(50, 7, 123);
    EXPECT_TRUE(resumed.indices(step).equal(seen[step])) << "step " << step;
  }
}

TEST(Loader, InvalidConfigurationsAreErrors) {
  EXPECT_THROW(BatchSampler(10, 11, 0), Error);
  EXPECT_THROW(BatchSampler(10, 3, 0, 0, 2), Error);
  EXPECT_THROW(BatchSampler(10, 0, 0), Error);
  EXPECT_THROW(BatchSampler(10, 4, 0, 2, 2), Error);
  EXPECT_THROW(BatchSampler(0, 1, 0), Error);
}

TEST(Loader, IndicesAreCopies) {
  BatchSampler s(20, 5, 0);
  at::Tensor a = s.indices(0);
  const at::Tensor expected = a.clone();
  a.fill_(-1);
  EXPECT_TRUE(s.indices(0).equal(expected));
}

TEST(Loader, GatherSelectsRows) {
  Dataset d;
  d.x = at::arange(12, at::kFloat).view({6, 2});
  const at::Tensor rows = gather(d, at::tensor({4, 1}, at::kLong), c10::Device(c10::kCPU));
  EXPECT_TRUE(rows.equal(at::tensor({8.0f, 9.0f, 2.0f, 3.0f}).view({2, 2})));
}

// 8-bit images are stored as bytes and converted per batch; every batch must equal, bit for bit,
// the rows of the whole set converted at once (the float32 store this replaced).
TEST(Loader, ByteImagesGatherBitIdenticalToFloatStore) {
  Dataset bytes;
  bytes.kind = Kind::image;
  bytes.x = at::arange(256, at::kInt).to(at::kByte).repeat({3}).view({12, 1, 8, 8});
  Dataset floats = bytes;
  floats.x = bytes.x.to(at::kFloat).div_(255);  // the old store
  BatchSampler sampler(12, 4, 7);
  for (int64_t step = 0; step < 6; ++step) {
    const at::Tensor idx = sampler.indices(step);
    const at::Tensor a = gather(bytes, idx, c10::Device(c10::kCPU));
    EXPECT_EQ(a.scalar_type(), at::kFloat);
    EXPECT_TRUE(a.equal(gather(floats, idx, c10::Device(c10::kCPU)))) << "step " << step;
  }
  EXPECT_TRUE(bytes.values().equal(floats.x));
  EXPECT_TRUE(bytes.rows(3, 7).equal(floats.x.slice(0, 3, 7)));
  EXPECT_FLOAT_EQ(bytes.values().max().item<float>(), 1.0f);  // byte 255 is exactly 1
  EXPECT_EQ(bytes.x.nbytes() * 4, floats.x.nbytes());
}

}  // namespace
}  // namespace deepgen::data
