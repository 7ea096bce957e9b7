#pragma once
// Pixel transforms used by the models' likelihoods. Inputs are images in [0, 1].
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

namespace deepgen::data {

at::Tensor binarize_static(const at::Tensor& x, double threshold = 0.5);  // x > threshold
// Each pixel ~ Bernoulli(x), redrawn at every call (Salakhutdinov & Murray 2008).
at::Tensor binarize_dynamic(const at::Tensor& x, c10::optional<at::Generator> gen = c10::nullopt);
at::Tensor to_signed(const at::Tensor& x);    // [0, 1] -> [-1, 1]
at::Tensor from_signed(const at::Tensor& x);  // [-1, 1] -> [0, 1]
// 8-bit pixel values 0..255 (int64) of an image in [0, 1].
at::Tensor quantize_8bit(const at::Tensor& x);
// Uniform dequantisation: (k + u) / 256, u ~ U[0, 1), for continuous likelihood models on 8-bit
// data (the density on [0,1]^D lower-bounds the discrete likelihood).
at::Tensor dequantize_uniform(const at::Tensor& x, c10::optional<at::Generator> gen = c10::nullopt);

}  // namespace deepgen::data
