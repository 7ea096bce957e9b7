#include "deepgen/core/rng.h"

#include <ATen/CPUGeneratorImpl.h>

#include "deepgen/core/error.h"

namespace deepgen {

uint64_t mix_seed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

at::Generator make_generator(uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return gen;
}

void seed_global(uint64_t seed) { torch::manual_seed(seed); }

at::Tensor global_rng_state() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state().clone();
}

void set_global_rng_state(const at::Tensor& state) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  try {
    gen.set_state(state.to(at::kByte).contiguous());
  } catch (const std::exception& e) {
    throw Error(std::string("checkpoint holds an invalid random-generator state: ") + e.what());
  }
}

}  // namespace deepgen
