#pragma once
// Checks and linear algebra shared by the Bayesian Gaussian mixture files (gmm*.cpp).
#include <ATen/core/Tensor.h>

#include <string>

#include "deepgen/vi/gmm.h"

namespace deepgen::vi::gmm_detail {

// x as contiguous float64 on the CPU; Error unless it is (N, D) with N, D >= 1 and finite.
at::Tensor as_points(const at::Tensor& x, const std::string& what);
// r as float64 (N, K); Error unless finite, non-negative, with rows summing to 1 (1e-6).
at::Tensor as_resp(const at::Tensor& resp, int64_t n, const std::string& what);
// Lower Cholesky factors of symmetric positive-definite matrices (.., D, D); Error naming `what`.
at::Tensor lower_cholesky(const at::Tensor& a, const std::string& what);
// ‖L⁻¹ v‖² for L (.., D, D) lower triangular and v (.., D, M): (.., M).
at::Tensor solve_sq_norm(const at::Tensor& l, const at::Tensor& v);
// Error unless the prior has every field resolved and in range for dimension d.
void check_prior(const GmmPrior& prior, int64_t d);
// Error unless the posterior's tensors have the shapes of K components in d dimensions.
void check_posterior(const GmmPosterior& q, int64_t d);

}  // namespace deepgen::vi::gmm_detail
