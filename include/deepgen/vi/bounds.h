#pragma once
// The importance-weighted bound (Burda et al. 2016, eq. 8; MATH 1.4):
// log p(x) >= log (1/K) Σ_k p(x, z_k)/q(z_k|x), z_k ~ q, computed with log-sum-exp.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>

namespace deepgen::vi {

// log (1/K) Σ_k exp(log_w[k]) over dim 0 of log_w (K, ...), stable for any magnitude.
at::Tensor log_mean_exp(const at::Tensor& log_w);

// The same over K weights drawn `chunk` at a time by log_weights(n) -> (n, B), so that large K
// (e.g. 5000) never holds K samples in memory at once. Returns (B).
at::Tensor iwae_bound(const std::function<at::Tensor(int64_t)>& log_weights, int64_t k,
                      int64_t chunk);

}  // namespace deepgen::vi
