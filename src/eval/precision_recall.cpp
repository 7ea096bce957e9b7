#include "deepgen/eval/precision_recall.h"

#include <limits>

#include "deepgen/core/error.h"

namespace deepgen::eval {

namespace {

std::string shape_text(const at::Tensor& t) {
  return t.defined() ? c10::str(t.sizes()) : std::string("(undefined)");
}

at::Tensor checked_features(const at::Tensor& features, const std::string& what) {
  if (!features.defined() || features.dim() != 2 || features.size(1) < 1)
    throw Error("precision/recall: " + what + " have shape " + shape_text(features) +
                ", expected (N, D) feature vectors");
  const at::Tensor x = features.to(torch::kCPU, torch::kDouble).contiguous();
  if (!torch::isfinite(x).all().item<bool>())
    throw Error("precision/recall: " + what + " contain NaN or infinite values");
  return x;
}

void check_same_dim(const at::Tensor& a, const at::Tensor& b, const std::string& what_a,
                    const std::string& what_b) {
  if (a.size(1) != b.size(1))
    throw Error("precision/recall: " + what_a + " have " + std::to_string(a.size(1)) +
                " dimensions but " + what_b + " " + std::to_string(b.size(1)));
}

void check_k(int64_t k, int64_t n, const std::string& what) {
  if (k < 1 || k >= n)
    throw Error("precision/recall: k = " + std::to_string(k) + " needs 1 <= k < the " +
                std::to_string(n) + " " + what + " (each point's k-th neighbour is another point)");
}

void check_chunk(int64_t chunk_rows) {
  if (chunk_rows < 1) throw Error("precision/recall: chunk_rows must be positive");
}

// Every decision below (which points are the k nearest, whether a point is inside a ball) is
// that of distances summed coordinate by coordinate in float64, pair by pair: each distance is
// then the same number whatever the chunking or thread count (the tests compare chunked and
// unchunked results with ==), and a point's distance to its copy is exactly 0. Such sums for all
// pairs cost 4× a GEMM here (cdist without the matmul trick: 23 s against 6 s for 10 000² pairs on
// 2 cores), so the GEMM expansion ‖a‖² + ‖b‖² − 2a·b only narrows down which pairs need one.
// float32 is not used: its ε (1.2e-7 against 2.2e-16) would widen the band of pairs to recheck
// 5·10⁸-fold, and the features come as float64 anyway.

// Exact-per-pair distances ‖a_i − b_i‖ of matched rows.
at::Tensor pair_distances(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).pow(2).sum(1).sqrt();
}

// The expansion's squared distances (rows of a, all of b), clamped at 0, from one GEMM.
at::Tensor expanded_squared_distances(const at::Tensor& a, const at::Tensor& a_sq,
                                      const at::Tensor& b, const at::Tensor& b_sq) {
  return at::addmm(a_sq.unsqueeze(1) + b_sq.unsqueeze(0), a, b.t(), 1.0, -2.0).clamp_min_(0.0);
}

// Bound on |expanded − exact| squared distance near a ball's edge: the GEMM's rounding
// (≤ (D + 2) ε (‖a‖² + ‖b‖²), Higham, Accuracy and Stability of Numerical Algorithms §3.1), that
// of the exact sums themselves (≤ D ε d², d² ≤ 2 (‖a‖² + ‖b‖²)) and of squaring the radius (~3 ε
// d² at the edge) add up to less than 4 (D + 2) ε (‖a‖² + ‖b‖²).
at::Tensor expansion_slack(const at::Tensor& a_sq, const at::Tensor& b_sq, int64_t dim) {
  const double eps = std::numeric_limits<double>::epsilon();
  return 4.0 * static_cast<double>(dim + 2) * eps * (a_sq.unsqueeze(1) + b_sq.unsqueeze(0));
}

// Candidates beyond k taken from the expansion's ranking and re-ranked exactly: the k-th exact
// neighbour is missed only if more than this many points tie with it to within the slack.
constexpr int64_t kSpareNeighbours = 8;

at::Tensor radii_of(const at::Tensor& x, int64_t k, int64_t chunk_rows) {
  const int64_t n = x.size(0);
  const at::Tensor sq = x.pow(2).sum(1);
  // n − 1 candidates at most, so the point itself (at +∞ below) is never one of them.
  const int64_t candidates = std::min(k + kSpareNeighbours, n - 1);
  at::Tensor radii = at::empty({n}, x.options());
  for (int64_t i = 0; i < n; i += chunk_rows) {
    const int64_t end = std::min(i + chunk_rows, n);
    const at::Tensor rows = x.slice(0, i, end);
    at::Tensor d2 = expanded_squared_distances(rows, sq.slice(0, i, end), x, sq);
    // Row r of the chunk is point i + r: left out by index, not by its (rounded) distance.
    d2.narrow(1, i, end - i).diagonal().fill_(std::numeric_limits<double>::infinity());
    const at::Tensor nearest = std::get<1>(d2.topk(candidates, 1, /*largest=*/false));
    const at::Tensor exact =
        pair_distances(
            rows.unsqueeze(1).expand({end - i, candidates, x.size(1)}).reshape({-1, x.size(1)}),
            x.index_select(0, nearest.reshape({-1})))
            .reshape({end - i, candidates});
    radii.slice(0, i, end).copy_(std::get<0>(exact.kthvalue(k, 1)));
  }
  return radii;
}

// Query rows of one chunk inside some ball (eq. 1). Pairs whose expanded distance is clearly
// inside or outside are decided by it; the few within the slack of a ball's edge are re-measured.
int64_t inside_count(const at::Tensor& q, const at::Tensor& q_sq, const at::Tensor& ref,
                     const at::Tensor& ref_sq, const at::Tensor& radii) {
  const at::Tensor margin = expanded_squared_distances(q, q_sq, ref, ref_sq) - radii.pow(2);
  const at::Tensor slack = expansion_slack(q_sq, ref_sq, q.size(1));
  const at::Tensor surely = (margin < -slack).any(1);
  const at::Tensor edge = (margin.abs() <= slack).logical_and_(surely.logical_not().unsqueeze(1));
  const at::Tensor pairs = edge.nonzero();  // (P, 2): query row, reference row
  int64_t count = surely.sum().item<int64_t>();
  if (pairs.size(0) == 0) return count;
  const at::Tensor qi = pairs.select(1, 0), rj = pairs.select(1, 1);
  const at::Tensor in =
      pair_distances(q.index_select(0, qi), ref.index_select(0, rj)) <= radii.index_select(0, rj);
  // nonzero lists pairs row by row, so the rows found inside come sorted.
  return count + std::get<0>(at::unique_consecutive(qi.masked_select(in))).size(0);
}

double coverage_of(const at::Tensor& query, const at::Tensor& reference, const at::Tensor& radii,
                   int64_t chunk_rows) {
  const int64_t n = query.size(0);
  const at::Tensor q_sq = query.pow(2).sum(1), ref_sq = reference.pow(2).sum(1);
  int64_t inside = 0;
  for (int64_t i = 0; i < n; i += chunk_rows) {
    const int64_t end = std::min(i + chunk_rows, n);
    inside += inside_count(query.slice(0, i, end), q_sq.slice(0, i, end), reference, ref_sq, radii);
  }
  return static_cast<double>(inside) / static_cast<double>(n);
}

}  // namespace

at::Tensor k_nn_radii(const at::Tensor& features, int64_t k, int64_t chunk_rows) {
  const at::Tensor x = checked_features(features, "features");
  check_k(k, x.size(0), "points");
  check_chunk(chunk_rows);
  torch::NoGradGuard no_grad;
  return radii_of(x, k, chunk_rows);
}

double manifold_coverage(const at::Tensor& query, const at::Tensor& reference,
                         const at::Tensor& radii, int64_t chunk_rows) {
  const at::Tensor q = checked_features(query, "query features");
  const at::Tensor ref = checked_features(reference, "reference features");
  check_same_dim(q, ref, "query features", "reference features");
  if (q.size(0) < 1) throw Error("precision/recall: no query features");
  if (!radii.defined() || radii.dim() != 1 || radii.size(0) != ref.size(0))
    throw Error("precision/recall: radii have shape " + shape_text(radii) + ", expected (" +
                std::to_string(ref.size(0)) + "), one per reference point");
  check_chunk(chunk_rows);
  torch::NoGradGuard no_grad;
  return coverage_of(q, ref, radii.to(torch::kCPU, torch::kDouble), chunk_rows);
}

PrecisionRecall precision_recall(const at::Tensor& real_features, const at::Tensor& fake_features,
                                 int64_t k, int64_t chunk_rows) {
  const at::Tensor real = checked_features(real_features, "real features");
  const at::Tensor fake = checked_features(fake_features, "fake features");
  check_same_dim(real, fake, "real features", "fake features");
  check_k(k, real.size(0), "real points");
  check_k(k, fake.size(0), "fake points");
  check_chunk(chunk_rows);
  torch::NoGradGuard no_grad;
  PrecisionRecall pr;
  pr.precision = coverage_of(fake, real, radii_of(real, k, chunk_rows), chunk_rows);  // eq. 2
  pr.recall = coverage_of(real, fake, radii_of(fake, k, chunk_rows), chunk_rows);     // eq. 3
  pr.k = k;
  pr.n_real = real.size(0);
  pr.n_fake = fake.size(0);
  return pr;
}

}  // namespace deepgen::eval
