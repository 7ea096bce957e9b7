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

// −‖x − x⁽ⁱ⁾‖²/(2σ²), (N, M). The expansion ‖x‖² − 2x·x⁽ⁱ⁾ + ‖x⁽ⁱ⁾‖² is a matrix product (no
// N×M×D tensor); it loses digits to cancellation when x is very near a reference point, which
// float64 absorbs and which in float32 shifts logits by ~1e-7·‖x‖²/σ².
at::Tensor logits(const at::Tensor& x, const at::Tensor& data, double sigma) {
  const at::Tensor d2 =
      (x.pow(2).sum(1, true) - 2 * x.matmul(data.t()) + data.pow(2).sum(1).unsqueeze(0))
          .clamp_min(0);
  return d2 / (-2 * sigma * sigma);
}

int64_t chunk_rows(int64_t m) { return std::max<int64_t>(1, kMaxWeights / m); }

}  // namespace

at::Tensor kde_log_density(const at::Tensor& x, const at::Tensor& data, double sigma) {
  check(x, data, sigma);
  const at::Tensor xf = x.flatten(1), df = data.flatten(1).to(x.dtype());
  const double d = static_cast<double>(xf.size(1)), m = static_cast<double>(df.size(0));
  const double constant = -std::log(m) - 0.5 * d * (kLog2Pi + 2 * std::log(sigma));
  std::vector<at::Tensor> parts;
  for (const at::Tensor& rows : xf.split(chunk_rows(df.size(0))))
    parts.push_back(logits(rows, df, sigma).logsumexp(1) + constant);
  return at::cat(parts);
}

at::Tensor kde_score(const at::Tensor& x, const at::Tensor& data, double sigma) {
  check(x, data, sigma);
  const at::Tensor xf = x.flatten(1), df = data.flatten(1).to(x.dtype());
  std::vector<at::Tensor> parts;
  for (const at::Tensor& rows : xf.split(chunk_rows(df.size(0)))) {
    const at::Tensor w = logits(rows, df, sigma).softmax(1);
    parts.push_back((w.matmul(df) - rows) / (sigma * sigma));
  }
  return at::cat(parts).view(x.sizes());
}

}  // namespace deepgen::score
