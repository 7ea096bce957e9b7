// The fused loops compiled for AVX2 + FMA (CMakeLists.txt gives this file those flags on
// x86-64); nn/fused.cpp calls them only where the CPU has both.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "fused_kernels.h"

#if defined(__AVX2__) && defined(__FMA__)
namespace deepgen::nn::kernels {
namespace avx2 {
#include "fused_kernels.inc"
}  // namespace avx2

const Table& table_avx2() {
  static const Table t{avx2::moments,          avx2::forward,     avx2::backward,
                       avx2::forward_cl,       avx2::backward_cl, avx2::softplus_forward,
                       avx2::softplus_backward};
  return t;
}
bool avx2_compiled() { return true; }
}  // namespace deepgen::nn::kernels
#else
namespace deepgen::nn::kernels {
const Table& table_avx2() { return table_baseline(); }
bool avx2_compiled() { return false; }
}  // namespace deepgen::nn::kernels
#endif
