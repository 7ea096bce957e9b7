// Gaussian kernel density estimate and its score, via log-sum-exp (MATH 3.2a).
#include "deepgen/score/kde.h"

#include <cmath>

#include "deepgen/core/error.h"

namespace deepgen::score {

namespace {

constexpr double kLog2Pi = 1.8378770664093454836;
constexpr int64_t kMaxWeights = int64_t{1} << 22;  // N×M entries per chunk (32 MiB in float64)

void check(const at::Tensor& x, const at::Tensor& data, double sigma) {
  if (!(sigma > 0)) throw Error("kde: the kernel width sigma must be positive");
  if (data.dim() < 1 || data.size(0) == 0) throw Error("kde: the reference set is empty");
  if (x.sizes().slice(1) != data.sizes().slice(1))
    throw Error("kde: points and reference set differ in shape");
}

// −‖x − x⁽ⁱ⁾‖²/(2σ²), (N, M), given the reference points' squared norms `norms` (M). The expansion
// (2x·x⁽ⁱ⁾ − ‖x‖² − ‖x⁽ⁱ⁾‖²)/(2σ²) is one addmm into the only N×M tensor, finished in place (no
// N×M×D tensor, no further N×M temporaries). It loses digits to cancellation when x is very near a
// reference point, which float64 absorbs and which in float32 shifts logits by ~1e-7·‖x‖²/σ²;
// clamping at 0 keeps that rounding from making a squared distance negative.
at::Tensor logits(const at::Tensor& x, const at::Tensor& data, const at::Tensor& norms,
                  double sigma) {
  const double c = 1 / (2 * sigma * sigma);
  return at::addmm(norms, x, data.t(), -c, 2 * c).sub_(x.pow(2).sum(1, true), c).clamp_max_(0);
}

int64_t chunk_rows(int64_t m) { return std::max<int64_t>(1, kMaxWeights / m); }

}  // namespace

at::Tensor kde_log_density(const at::Tensor& x, const at::Tensor& data, double sigma) {
  check(x, data, sigma);
  const at::Tensor xf = x.flatten(1), df = data.flatten(1).to(x.dtype());
  const double d = static_cast<double>(xf.size(1)), m = static_cast<double>(df.size(0));
  const double constant = -std::log(m) - 0.5 * d * (kLog2Pi + 2 * std::log(sigma));
  const at::Tensor norms = df.pow(2).sum(1);
  std::vector<at::Tensor> parts;
  for (const at::Tensor& rows : xf.split(chunk_rows(df.size(0))))
    parts.push_back(logits(rows, df, norms, sigma).logsumexp(1) + constant);
  return at::cat(parts);
}

at::Tensor kde_score(const at::Tensor& x, const at::Tensor& data, double sigma) {
  check(x, data, sigma);
  const at::Tensor xf = x.flatten(1), df = data.flatten(1).to(x.dtype());
  const at::Tensor norms = df.pow(2).sum(1);  // once, not per chunk
  std::vector<at::Tensor> parts;
  for (const at::Tensor& rows : xf.split(chunk_rows(df.size(0)))) {
    // The softmax in place, normalised after the product (N×D, not N×M): less the row maximum,
    // the largest term is exp(0) = 1, so nothing overflows and the sum is >= 1.
    at::Tensor e = logits(rows, df, norms, sigma);
    e.sub_(std::get<0>(e.max(1, true))).exp_();
    parts.push_back(e.matmul(df).div_(e.sum(1, true)).sub_(rows).div_(sigma * sigma));
  }
  return at::cat(parts).view(x.sizes());
}

}  // namespace deepgen::score
