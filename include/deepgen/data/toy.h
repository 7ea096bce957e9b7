#pragma once
// 2-D toy distributions generated in code (no files).
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace deepgen::data {

// 8gaussians, moons, swissroll, checkerboard, rings, ncsn-gmm.
std::vector<std::string> toy_names();
// n points, float32 (n, 2), a pure function of the generator state. ncsn-gmm is
// 0.2·N((−5,−5), I) + 0.8·N((5,5), I) (Song & Ermon 2019, §3.2). Throws Error on unknown name.
at::Tensor sample_toy(const std::string& name, int64_t n, at::Generator& gen);

}  // namespace deepgen::data
