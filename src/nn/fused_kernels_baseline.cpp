// The fused loops for the baseline ISA of the build (any x86-64, or another architecture).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "fused_kernels.h"

namespace deepgen::nn::kernels {
namespace baseline {
#include "fused_kernels.inc"
}  // namespace baseline

const Table& table_baseline() {
  static const Table t{baseline::moments,          baseline::forward,
                       baseline::backward,         baseline::forward_cl,
                       baseline::backward_cl,      baseline::softplus_forward,
                       baseline::softplus_backward};
  return t;
}
}  // namespace deepgen::nn::kernels
