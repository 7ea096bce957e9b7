#include "deepgen/data/transforms.h"

namespace deepgen::data {
namespace {

// U[0, 1) shaped like x. An explicit generator may live on another device than x (the usual
// case: a CPU generator for CUDA data), so the draw happens on the generator's device.
at::Tensor uniform_like(const at::Tensor& x, const c10::optional<at::Generator>& gen) {
  if (!gen.has_value()) return at::rand(x.sizes(), x.options().dtype(at::kFloat));
  const auto options = x.options().dtype(at::kFloat).device(gen->device());
  return at::rand(x.sizes(), *gen, options).to(x.device());
}

}  // namespace

at::Tensor binarize_static(const at::Tensor& x, double threshold) {
  return (x > threshold).to(x.scalar_type());
}

at::Tensor binarize_dynamic(const at::Tensor& x, c10::optional<at::Generator> gen) {
  return (uniform_like(x, gen) < x).to(x.scalar_type());
}

at::Tensor to_signed(const at::Tensor& x) { return x * 2 - 1; }

at::Tensor from_signed(const at::Tensor& x) { return (x + 1) / 2; }

at::Tensor quantize_8bit(const at::Tensor& x) {
  return at::round(x * 255).clamp(0, 255).to(at::kLong);
}

at::Tensor dequantize_uniform(const at::Tensor& x, c10::optional<at::Generator> gen) {
  // In float32, 255 + u rounds up to 256 once u > 1 - 2^-17; capping u at 1 - 2^-16 keeps every
  // value strictly inside its bin [k/256, (k+1)/256).
  const at::Tensor u = uniform_like(x, gen).clamp_max(1.0 - 1.0 / 65536);
  return (quantize_8bit(x).to(at::kFloat) + u) / 256;
}

}  // namespace deepgen::data
