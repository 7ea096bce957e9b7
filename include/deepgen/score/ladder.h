#pragma once
// NCSNv2's rules for the noise ladder and the annealed-Langevin step (Song & Ermon 2020,
// "Improved Techniques for Training Score-Based Generative Models", §3): σ_1 from the data
// (Technique 1), the ratio γ = σ_{i−1}/σ_i from the data dimension (Technique 2), and the step
// ε from γ, σ_L and the steps per level T (Technique 4).
//
// Step convention: NCSNv2's Technique 4 analyses x' = x + α s + √(2α) z with α_i = ε σ_i²/σ_L²,
// which is deepgen's (langevin.h) with δ_i = α_i, so ε here is ScoreOptions::sample_eps as is
// (NCSN v1's paper form (α/2) s + √α z would halve it; that factor does not apply here).
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace deepgen::score {

// Technique 1: the largest Euclidean distance between two rows of x (N, ...) (each row one
// point, as stored: 8-bit bytes read as k / 255, data::as_values), in float64. Exact over all pairs
// when N <= max_points; otherwise exact over max_points rows taken at an even stride
// (deterministic: no generator). The stride subsample gives a lower bound; the ladder length moves
// by log(true/subsample)/log γ levels, under one for MNIST.
double max_pairwise_distance(const at::Tensor& x, int64_t max_points = 4000);

// Technique 2's overlap Φ(√(2D)(γ − 1) + 3γ) − Φ(√(2D)(γ − 1) − 3γ): the probability that a
// sample of level i lies in the high-density shell of level i − 1.
double ladder_overlap(int64_t dim, double ratio);
// Technique 2: the γ > 1 with ladder_overlap(D, γ) = 1/2, by bisection. Needs D >= 5: for
// √(2D) <= 3 the overlap stays above 1/2 for every γ (no solution; throws).
double ladder_ratio(int64_t dim);
// Technique 2: L = 1 + ceil(log(σ_1/σ_L)/log γ), the fewest geometric levels with ratio <= γ.
int64_t ladder_length(double sigma_1, double sigma_L, double ratio);

// Technique 4: s_T²/σ_i² = (1 − κ)^{2T}(γ² − b) + b, κ = ε/σ_L², b = 2κ/(1 − (1 − κ)²): the
// variance ratio after T steps at level i of a chain that starts at level i − 1's variance,
// for one-point (Gaussian) data.
double langevin_variance_ratio(double eps, double sigma_L, double ratio, int64_t steps);
// Technique 4: the ε in (0, 2σ_L²) that brings langevin_variance_ratio closest to 1, returned
// as ScoreOptions::sample_eps (deepgen's δ convention, see above). The ratio exceeds 1 for every
// ε > 0 (b > 1 and γ² > 1), so "≈ 1" is its minimum, found by bisection on the sign of its
// slope (it falls then rises in κ); NCSNv2's configs pick this minimiser, e.g. CIFAR-10's
// ε = 6.2e-6 (L = 232, T = 5).
double langevin_step_for(double sigma_L, double ratio, int64_t steps);

}  // namespace deepgen::score
