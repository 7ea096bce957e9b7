#pragma once
// GroupNorm followed by SiLU as one operator: the pair every residual block of the U-Nets starts
// its two halves with (Ho et al. 2020, App. B). LibTorch runs them as two kernels, each a pass
// over the activations forward and backward, plus, under bf16 autocast, a float32 → bfloat16 copy
// before the convolution that follows; fused, the CPU makes one pass each way and writes the
// convolution's input type directly.
#include <ATen/core/Tensor.h>

#include <string>

namespace deepgen::nn {

// silu(GroupNorm(x; groups, weight, bias, eps)) over (B, C, ...) with per-channel weight and bias.
// The statistics and the arithmetic are float32 whatever x's type (as CUDA autocast keeps
// GroupNorm). The result is bfloat16 where CPU autocast to bfloat16 is on (a convolution reads it
// next, which autocast would cast to that), else float32 for a bfloat16 or half x, else x's type.
// Differentiable to any order (a second derivative recomputes the two operators unfused).
at::Tensor group_norm_silu(const at::Tensor& x, int64_t groups, const at::Tensor& weight,
                           const at::Tensor& bias, double eps = 1e-5);

// The two operators unfused: the reference group_norm_silu is tested against, and its path on
// devices and types the fused loops do not cover.
at::Tensor group_norm_silu_reference(const at::Tensor& x, int64_t groups, const at::Tensor& weight,
                                     const at::Tensor& bias, double eps = 1e-5);

// softplus(x) = ln(1 + e^x) (β = 1), the score MLPs' activation: one vectorised loop each way
// for float32 on the CPU (LibTorch's kernel costs ~2.5 ns a value here), torch::softplus
// elsewhere and for second derivatives. Within ~2 ulp of it for x > −87 (below, both are < 2e-38).
at::Tensor softplus(const at::Tensor& x);

// Which loops group_norm_silu and softplus run on this CPU: "avx2", "baseline", or "off" where
// they are turned off and run LibTorch's operators, as the Python mirror (python/deepgen) does.
// DEEPGEN_FUSED=0 in the environment turns them off for the whole process, for a bit-for-bit
// comparison with that mirror (tests/python/export_test.py); set_fused_kernels overrides it.
std::string fused_kernels();
void set_fused_kernels(bool on);

}  // namespace deepgen::nn
