#pragma once
// Gaussian kernel density q(x) = (1/M) Σ_i N(x; x⁽ⁱ⁾, σ²I) of a reference set (MATH 3.2a): the
// q of explicit score matching against a Parzen window (Vincent 2011).
#include <ATen/core/Tensor.h>

namespace deepgen::score {

// log q(x) per row of x: logsumexp_i(−‖x − x⁽ⁱ⁾‖²/(2σ²)) − log M − (D/2)·log(2πσ²). x is
// (N, ...) and data (M, ...) with the same trailing shape; returns (N). Differentiable in x.
at::Tensor kde_log_density(const at::Tensor& x, const at::Tensor& data, double sigma);

// ∇ₓ log q(x) = Σ_i w_i(x)(x⁽ⁱ⁾ − x)/σ², w = softmax_i(−‖x − x⁽ⁱ⁾‖²/(2σ²)): the softmax-weighted
// mean of the reference points (MATH 3.2a), never raw exponentials (they underflow in high D).
// Same shape as x. Cost O(N·M·D), the first weakness of MATH 3.2b; rows of x are processed in
// chunks so the N×M weight matrix stays below ~2²² entries.
at::Tensor kde_score(const at::Tensor& x, const at::Tensor& data, double sigma);

}  // namespace deepgen::score
