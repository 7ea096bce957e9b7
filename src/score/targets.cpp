// Analytic Gaussian and Gaussian-mixture targets: log densities, scores, samples, parsing.
#include "deepgen/score/targets.h"

#include <cmath>
#include <sstream>
#include <vector>

#include "deepgen/core/error.h"

namespace deepgen::score {

namespace {

constexpr double kLog2Pi = 1.8378770664093454836;

// Everything below is laid out (K, B), components first: reductions over the few components
// then run along the outer dimension, which ATen vectorises (over a short inner dimension
// softmax/logsumexp cost ~10x more at B = 1e4, K = 2).

// Component variances s_k² (K, 1), or s_k² + σ_b² (K, B) when noise_sigma is given.
at::Tensor variances(const GaussianMixture& m, const at::Tensor& x, const at::Tensor& noise) {
  const at::Tensor v = m.stds.pow(2).to(x.dtype()).unsqueeze(1);
  return noise.defined() ? v + noise.to(x.dtype()).reshape({1, -1}).pow(2) : v;
}

// log w_k + log N(x_b; μ_k, v_kb I): (K, B). The squared distances are summed over D by a
// matrix product (an exact sum, and fast where a reduction over a short dimension is not).
at::Tensor joint_log(const GaussianMixture& m, const at::Tensor& x, const at::Tensor& v) {
  const at::Tensor means = m.means.to(x.dtype());
  const at::Tensor ones = at::ones({m.dim()}, x.options());
  const at::Tensor d2 = (means.unsqueeze(1) - x.unsqueeze(0)).pow(2).matmul(ones);
  const double d = static_cast<double>(m.dim());
  return m.weights.to(x.dtype()).log().unsqueeze(1) - d2 / (2 * v) - 0.5 * d * (kLog2Pi + v.log());
}

std::vector<double> numbers(const std::string& text, const std::string& spec) {
  std::vector<double> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      size_t used = 0;
      out.push_back(std::stod(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw Error("target '" + spec + "': '" + item + "' is not a number");
    }
  }
  return out;
}

GaussianMixture from_rows(const std::vector<std::vector<double>>& rows, const std::string& spec) {
  const char* form = "': use gmm:w,m_1,..,m_D,s;w,... or gaussian:m_1,..,m_D,s";
  const size_t width = rows.front().size();
  if (width < 3) throw Error("target '" + spec + "': a component needs w, a mean and s" + form);
  std::vector<double> w, mu, s;
  for (const auto& r : rows) {
    if (r.size() != width) throw Error("target '" + spec + "': components differ in length" + form);
    if (!(r.front() > 0) || !(r.back() > 0))
      throw Error("target '" + spec + "': weights and stds must be positive");
    w.push_back(r.front());
    mu.insert(mu.end(), r.begin() + 1, r.end() - 1);
    s.push_back(r.back());
  }
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  const auto k = static_cast<int64_t>(rows.size());
  at::Tensor weights = at::tensor(w, f64);
  return {weights / weights.sum(), at::tensor(mu, f64).view({k, -1}), at::tensor(s, f64)};
}

}  // namespace

at::Tensor DiagGaussian::log_prob(const at::Tensor& x) const {
  const at::Tensor m = mean.to(x.dtype()), s = std.to(x.dtype());
  const at::Tensor z = (x - m) / s;
  return (-0.5 * z.pow(2) - s.log() - 0.5 * kLog2Pi).sum(-1);
}

at::Tensor DiagGaussian::score(const at::Tensor& x) const {
  return -(x - mean.to(x.dtype())) / std.to(x.dtype()).pow(2);
}

DiagGaussian DiagGaussian::noised(double sigma) const {
  return {mean, (std.pow(2) + sigma * sigma).sqrt()};
}

at::Tensor GaussianMixture::log_prob(const at::Tensor& x, const at::Tensor& noise_sigma) const {
  return joint_log(*this, x, variances(*this, x, noise_sigma)).logsumexp(0);
}

at::Tensor GaussianMixture::score(const at::Tensor& x, const at::Tensor& noise_sigma) const {
  const at::Tensor v = variances(*this, x, noise_sigma);
  const at::Tensor r_over_v = joint_log(*this, x, v).softmax(0) / v;  // r_kb / v_kb
  return r_over_v.t().matmul(means.to(x.dtype())) - x * r_over_v.sum(0).unsqueeze(1);
}

GaussianMixture GaussianMixture::noised(double sigma) const {
  return {weights, means, (stds.pow(2) + sigma * sigma).sqrt()};
}

at::Tensor GaussianMixture::sample(int64_t n, at::Generator& gen) const {
  const at::Tensor k = at::multinomial(weights, n, /*replacement=*/true, gen);
  const at::Tensor z = at::randn({n, dim()}, gen, means.options());
  return means.index_select(0, k) + stds.index_select(0, k).unsqueeze(1) * z;
}

at::Tensor GaussianMixture::mean() const { return weights.matmul(means); }

at::Tensor GaussianMixture::covariance() const {
  const at::Tensor second = (weights.unsqueeze(1) * means).t().matmul(means) +
                            (weights * stds.pow(2)).sum() * at::eye(dim(), means.options());
  const at::Tensor m = mean();
  return second - at::outer(m, m);
}

GaussianMixture GaussianMixture::to(at::ScalarType dtype) const {
  return {weights.to(dtype), means.to(dtype), stds.to(dtype)};
}

GaussianMixture parse_target(const std::string& spec) {
  if (spec == "ncsn-gmm") return ncsn_gmm();
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon), body = spec.substr(colon + 1);
  if (colon == std::string::npos || (kind != "gmm" && kind != "gaussian") || body.empty())
    throw Error("unknown target '" + spec +
                "': use ncsn-gmm, gaussian:m_1,..,m_D,s or gmm:w,m_1,..,m_D,s;w,...");
  if (kind == "gaussian") {
    std::vector<double> row = numbers(body, spec);
    row.insert(row.begin(), 1.0);
    return from_rows({row}, spec);
  }
  std::vector<std::vector<double>> rows;
  std::stringstream in(body);
  std::string component;
  while (std::getline(in, component, ';')) rows.push_back(numbers(component, spec));
  return from_rows(rows, spec);
}

GaussianMixture ncsn_gmm() { return parse_target("gmm:0.2,-5,-5,1;0.8,5,5,1"); }

at::Tensor component_fractions(const at::Tensor& samples, const at::Tensor& means) {
  const at::Tensor x = samples.flatten(1).to(at::kDouble);
  const at::Tensor nearest = at::cdist(x, means.to(at::kDouble)).argmin(1);
  return at::bincount(nearest, {}, means.size(0)).to(at::kDouble) / x.size(0);
}

}  // namespace deepgen::score
