#pragma once
// The per-group loops of the fused GroupNorm → SiLU (nn/fused.h) over raw pointers, so they can be
// compiled twice, once for AVX2 + FMA and once for the baseline ISA, and picked at run time: the
// build must run on any x86-64, while the loops are memory-bound and vectorise 8-wide on AVX2.
// Values are float32 or bfloat16 (stored as its 16 bits); the arithmetic is float32.
#include <cstdint>

namespace deepgen::nn::kernels {

enum class Type { f32, bf16 };

// One (example, group) block of G channels × `hw` positions, contiguous, and its channels'
// affine parameters.
struct Group {
  int64_t channels = 0;  // channels in the group
  int64_t hw = 0;        // positions per channel
  const float* gamma = nullptr;
  const float* beta = nullptr;
};

// One example of a channels-last (NHWC) tensor: `positions` rows of `channels` values, the
// channels split into `groups` runs.
struct Example {
  int64_t positions = 0;
  int64_t channels = 0;
  int64_t groups = 0;
  const float* gamma = nullptr;
  const float* beta = nullptr;
};

struct Table {
  // mean and 1/sqrt(var + eps) of x over the block (two passes: the block is in cache).
  void (*moments)(const void* x, Type xt, int64_t n, float eps, float* mean, float* rstd);
  // y = silu(γ_c (x − mean) rstd + β_c), written as `yt`.
  void (*forward)(const void* x, Type xt, const Group& g, float mean, float rstd, void* y, Type yt);
  // dx of the block, and this block's share of dγ_c and dβ_c (added to dgamma[c], dbeta[c]).
  // `scratch` holds channels × hw floats.
  // dx has x's type.
  void (*backward)(const void* dy, Type dyt, const void* x, Type xt, const Group& g, float mean,
                   float rstd, void* dx, float* dgamma, float* dbeta, float* scratch);
  // Channels-last, one example at a time: its G means and rstds, and y. scratch: 4 C floats.
  void (*forward_cl)(const void* x, Type xt, const Example& e, float eps, float* mean, float* rstd,
                     void* y, Type yt, float* scratch);
  // dx and this example's dγ, dβ (added). scratch: (7 + positions) C floats.
  void (*backward_cl)(const void* dy, Type dyt, const void* x, Type xt, const Example& e,
                      const float* mean, const float* rstd, void* dx, float* dgamma, float* dbeta,
                      float* scratch);
  // softplus over n float32 values (β = 1), and its backward dx = dy·σ(x).
  void (*softplus_forward)(const float* x, float* y, int64_t n);
  void (*softplus_backward)(const float* x, const float* dy, float* dx, int64_t n);
};

const Table& table_baseline();
const Table& table_avx2();  // only call where the CPU has AVX2 and FMA
bool avx2_compiled();       // false off x86-64: table_avx2 is then the baseline

}  // namespace deepgen::nn::kernels
