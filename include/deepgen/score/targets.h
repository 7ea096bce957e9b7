#pragma once
// Analytic targets with exact log densities and scores: the references the samplers and the
// score-matching losses are tested against (MATH 3.1b), and the exact noised scores of the NCSN
// toy experiment (Song & Ermon 2019, §3.2 and App. B.1).
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <string>

namespace deepgen::score {

// N(mean, diag std²) in D dimensions; x is (B, D).
struct DiagGaussian {
  at::Tensor mean;                                 // (D)
  at::Tensor std;                                  // (D); an isotropic Gaussian repeats one value
  at::Tensor log_prob(const at::Tensor& x) const;  // (B)
  at::Tensor score(const at::Tensor& x) const;     // −(x − mean)/std², (B, D)
  DiagGaussian noised(double sigma) const;         // convolved with N(0, σ²I): std² + σ²
};

// Σ_k w_k N(μ_k, s_k² I) with isotropic components (a shared std repeats one value).
//
// With noise_sigma (one σ_b per row of x) the density is the mixture convolved with N(0, σ_b²I),
// i.e. component variances s_k² + σ_b²: the exact score of the perturbed data that annealed
// Langevin needs (ermongroup/ncsn#6: the toy code used σ_b² alone, which is not the convolution).
struct GaussianMixture {
  at::Tensor weights;  // (K), summing to 1
  at::Tensor means;    // (K, D)
  at::Tensor stds;     // (K)
  int64_t dim() const { return means.size(1); }
  at::Tensor log_prob(const at::Tensor& x, const at::Tensor& noise_sigma = {}) const;  // (B)
  // Σ_k r_k(x)(μ_k − x)/v_k with responsibilities r = softmax_k(log w_k + log N_k(x)),
  // computed in log space so far-away points do not underflow. (B, D)
  at::Tensor score(const at::Tensor& x, const at::Tensor& noise_sigma = {}) const;
  GaussianMixture noised(double sigma) const;              // every std² + σ²
  at::Tensor sample(int64_t n, at::Generator& gen) const;  // (n, D), in the means' dtype
  at::Tensor mean() const;                                 // Σ w_k μ_k, (D)
  at::Tensor covariance() const;  // Σ w_k (s_k² I + μ_k μ_kᵀ) − mean meanᵀ, (D, D)
  GaussianMixture to(at::ScalarType dtype) const;
};

// "gmm:w,m_1,..,m_D,s;w,m_1,..,m_D,s;..." (every component the same D; weights > 0, normalised
// to sum 1), "gaussian:m_1,..,m_D,s" (one isotropic component) or "ncsn-gmm". float64.
// Throws deepgen::Error naming the spec and the expected form.
GaussianMixture parse_target(const std::string& spec);

// 0.2·N((−5,−5), I) + 0.8·N((5,5), I): the NCSN toy mixture (data::sample_toy "ncsn-gmm").
GaussianMixture ncsn_gmm();

// Share of samples (N, D) nearest to each mean (K, D) in Euclidean distance: (K), sums to 1.
at::Tensor component_fractions(const at::Tensor& samples, const at::Tensor& means);

}  // namespace deepgen::score
