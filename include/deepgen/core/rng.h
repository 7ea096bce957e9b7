#pragma once
// Explicit random state: every random draw in deepgen goes through a torch generator that is
// seeded and checkpointed, so a resumed run continues the exact same random stream.
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace deepgen {

// LibTorch's CPU generator keeps only 32 bits of a seed, so seeds are mixed (splitmix64) first:
// seeds that differ only in their high bits still give different streams.
uint64_t mix_seed(uint64_t seed, uint64_t stream = 0);
at::Generator make_generator(uint64_t seed);  // CPU generator
// Seeds the global CPU (and CUDA) generators: ops without an explicit generator draw from them.
void seed_global(uint64_t seed);
// Snapshot / restore of the global CPU generator as a byte tensor. (CUDA generator state is not
// yet checkpointed: resume on CUDA is exact in data order and parameters, not in noise draws.)
at::Tensor global_rng_state();
void set_global_rng_state(const at::Tensor& state);

}  // namespace deepgen
