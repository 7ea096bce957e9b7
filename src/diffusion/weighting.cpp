// Weightings w(ℓ), proposals p(ℓ) and the weighted loss of BEYOND B1.
#include "deepgen/diffusion/weighting.h"

#include <cmath>
#include <utility>

#include "deepgen/core/error.h"
#include "deepgen/diffusion/vdm.h"

namespace deepgen::diffusion {

at::Tensor sigmoid_weighting(const at::Tensor& logsnr, double bias) {
  return torch::sigmoid(bias - logsnr);
}

at::Tensor edm_weighting(const at::Tensor& logsnr) {
  constexpr double mean = 2.4, std = 2.4, sigma_data2 = 0.25;
  auto normal = torch::exp(-0.5 * ((logsnr - mean) / std).pow(2)) / (std * std::sqrt(2 * M_PI));
  return normal * (torch::exp(-logsnr) + sigma_data2) / sigma_data2;
}

namespace {

using Row = std::pair<std::string, LogSnrWeight (*)(double)>;

const std::vector<Row>& weightings() {
  static const std::vector<Row> table{
      {"elbo",
       [](double) -> LogSnrWeight {
         return [](const at::Tensor& l) { return torch::ones_like(l); };
       }},
      {"sigmoid",
       [](double b) -> LogSnrWeight {
         return [b](const at::Tensor& l) { return sigmoid_weighting(l, b); };
       }},
      {"edm", [](double) -> LogSnrWeight { return edm_weighting; }},
  };
  return table;
}

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace

std::vector<std::string> weighting_names() {
  std::vector<std::string> names;
  for (const auto& [n, make] : weightings()) names.push_back(n);
  return names;
}

LogSnrWeight weighting(const std::string& name, double bias) {
  for (const auto& [n, make] : weightings())
    if (n == name) return make(bias);
  throw Error("vdm: " + option_ref("vdm", "weighting") + " '" + name + "' is unknown: use " +
              joined(weighting_names()));
}

std::vector<std::string> proposal_names() { return {"uniform", "weighting"}; }

LogSnrProposal::LogSnrProposal(const LogSnrWeight& shape, const LogSnrWeight& weight,
                               double logsnr_min, double logsnr_max, int64_t cells)
    : lo_(logsnr_min), width_((logsnr_max - logsnr_min) / static_cast<double>(cells)) {
  if (!(logsnr_min < logsnr_max) || cells < 1)
    throw Error("vdm: the proposal needs a nonempty log-SNR range and at least one cell");
  auto edges = torch::linspace(logsnr_min, logsnr_max, cells + 1, torch::kDouble);
  auto f = shape(edges), w = weight(edges);
  auto mass = 0.5 * width_ * (f.slice(0, 0, cells) + f.slice(0, 1));
  auto needed = (w.slice(0, 0, cells) + w.slice(0, 1)) > 0;
  if ((mass <= 0).logical_and(needed).any().item<bool>() || !mass.isfinite().all().item<bool>())
    throw Error("vdm: " + option_ref("vdm", "proposal") +
                " has zero density where the weighting is positive, so w/p is undefined: use " +
                joined(proposal_names()));
  const double total = mass.sum().item<double>();
  density_ = mass / (total * width_);
  cdf_ = torch::cat({torch::zeros({1}, torch::kDouble), mass.cumsum(0) / total});
  cdf_[cells] = 1.0;
}

LogSnrProposal::Draw LogSnrProposal::draw(const at::Tensor& u) const {
  // On u's device: a draw every training step must not wait for a device-to-host copy.
  auto ud = u.to(torch::kDouble);
  auto cdf = cdf_.to(ud.device()), density = density_.to(ud.device());
  const int64_t cells = density.size(0);
  // The cell k with cdf[k] <= u < cdf[k+1]; cells of zero mass are never chosen.
  auto k =
      (torch::searchsorted(cdf, ud, /*out_int32=*/false, /*right=*/true) - 1).clamp(0, cells - 1);
  auto p = density.index_select(0, k);
  auto logsnr = lo_ + width_ * k.to(torch::kDouble) + (ud - cdf.index_select(0, k)) / p;
  return {logsnr.to(u.options()), p.to(u.options())};
}

at::Tensor LogSnrProposal::density(const at::Tensor& logsnr) const {
  auto l = logsnr.to(torch::kDouble).cpu();
  const int64_t cells = density_.size(0);
  auto k = torch::floor((l - lo_) / width_).to(torch::kLong);
  auto inside = (k >= 0).logical_and(k < cells);
  auto p = density_.index_select(0, k.clamp(0, cells - 1)).masked_fill(inside.logical_not(), 0);
  return p.to(logsnr.options());
}

LogSnrProposal make_proposal(const std::string& name, const LogSnrWeight& weight, double logsnr_min,
                             double logsnr_max) {
  if (name == "uniform")
    return LogSnrProposal([](const at::Tensor& l) { return torch::ones_like(l); }, weight,
                          logsnr_min, logsnr_max);
  if (name == "weighting") return LogSnrProposal(weight, weight, logsnr_min, logsnr_max);
  throw Error("vdm: " + option_ref("vdm", "proposal") + " '" + name + "' is unknown: use " +
              joined(proposal_names()));
}

at::Tensor weighted_diffusion_loss(const at::Tensor& eps, const at::Tensor& eps_hat,
                                   const at::Tensor& weight_over_density) {
  return 0.5 * weight_over_density * sum_per_example((eps - eps_hat).pow(2));
}

}  // namespace deepgen::diffusion
