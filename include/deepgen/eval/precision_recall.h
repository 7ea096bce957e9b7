#pragma once
// Improved precision and recall (Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric
// for Assessing Generative Models", §2). FID folds sample quality and coverage into one number;
// these two separate them. Each feature set stands for its manifold as the union of balls around
// its points, each ball reaching the point's k-th nearest neighbour in the same set:
//   f(φ, Φ) = 1 if ‖φ − φ'‖ ≤ ‖φ' − NN_k(φ', Φ)‖ for at least one φ' ∈ Φ, else 0   (eq. 1)
//   precision = (1/|Φ_g|) Σ_{φ_g ∈ Φ_g} f(φ_g, Φ_r)   (eq. 2: samples on the real manifold)
//   recall    = (1/|Φ_r|) Σ_{φ_r ∈ Φ_r} f(φ_r, Φ_g)   (eq. 3: real data on the sample manifold)
// Both lie in [0, 1]. They are fractions of a few thousand points whose balls shrink as a set
// grows, so they are noisy below ~1000 points per set and depend on the two set sizes (the paper
// uses 50 000 of each; see docs/results.md).
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace deepgen::eval {

// The paper's neighbourhood size: small enough that outliers' balls stay small, large enough that
// the union of balls is not a set of isolated points.
constexpr int64_t kPrecisionRecallK = 3;

// Rows of a distance matrix held at once: 512 × 10 000 float64 distances are 40 MB (a few such
// matrices live at once), where the whole 10 000 × 10 000 matrix would be 800 MB.
constexpr int64_t kDistanceChunkRows = 512;

// ‖φ_i − NN_k(φ_i, Φ)‖ for each row of features (N, D): the distance to its k-th nearest other
// row. The point itself is left out by index, so an exact duplicate counts as a neighbour at
// distance 0. (N) float64. Error unless 1 <= k < N.
at::Tensor k_nn_radii(const at::Tensor& features, int64_t k,
                      int64_t chunk_rows = kDistanceChunkRows);

// Fraction of query rows (N, D) inside at least one reference ball ‖q − r_j‖ ≤ radii_j, with
// reference (M, D) and radii (M): the mean of f over the query set (eq. 2 / eq. 3).
double manifold_coverage(const at::Tensor& query, const at::Tensor& reference,
                         const at::Tensor& radii, int64_t chunk_rows = kDistanceChunkRows);

struct PrecisionRecall {
  double precision = 0.0;  // fake points on the real manifold
  double recall = 0.0;     // real points on the fake manifold
  int64_t k = 0;
  int64_t n_real = 0;
  int64_t n_fake = 0;
};

// Both directions from real (N, D) and fake (M, D) features. Error for other shapes, differing D,
// non-finite values, or k outside 1 <= k < min(N, M).
PrecisionRecall precision_recall(const at::Tensor& real_features, const at::Tensor& fake_features,
                                 int64_t k = kPrecisionRecallK,
                                 int64_t chunk_rows = kDistanceChunkRows);

}  // namespace deepgen::eval
