// Score-matching losses (MATH 3.2, MATH 3.2c, MATH 3.2d; sliced and noise-conditional extensions).
#include "deepgen/score/losses.h"

#include <cmath>

#include "deepgen/core/error.h"
#include "deepgen/score/kde.h"

namespace deepgen::score {

namespace {

// ½‖a‖² per example: (B).
at::Tensor half_sq_norm(const at::Tensor& a) { return 0.5 * a.flatten(1).pow(2).sum(1); }

void check_sigma(double sigma, const char* who) {
  if (!(sigma > 0) || !std::isfinite(sigma))
    throw Error(std::string(who) + ": sigma must be positive and finite");
}

// One σ per example (B, 1, ...) broadcasting against x.
at::Tensor per_example(const at::Tensor& sigma, const at::Tensor& x) {
  std::vector<int64_t> shape(x.dim(), 1);
  shape[0] = x.size(0);
  return sigma.view(shape);
}

at::Tensor sigma_tensor(const std::vector<double>& sigmas, const at::Tensor& like) {
  if (sigmas.empty()) throw Error("ncsn: the σ ladder is empty");
  return at::tensor(sigmas, at::TensorOptions().dtype(at::kDouble))
      .to(like.device(), like.scalar_type());
}

}  // namespace

at::Tensor esm_loss(const at::Tensor& score, const at::Tensor& target) {
  return half_sq_norm(score - target).mean();
}

at::Tensor esm_kde_loss(const ScoreFn& net, const at::Tensor& x0, const at::Tensor& data,
                        double sigma, OptGenerator gen) {
  check_sigma(sigma, "esm-kde");
  const at::Tensor x = x0 + sigma * at::randn(x0.sizes(), gen, x0.options());
  at::Tensor target;
  {
    torch::NoGradGuard no_grad;  // the target is a constant of θ
    target = kde_score(x, data.to(x.device()), sigma);
  }
  return esm_loss(net(x), target);
}

at::Tensor dsm_loss(const ScoreFn& net, const at::Tensor& x0, double sigma, OptGenerator gen) {
  check_sigma(sigma, "dsm");
  const at::Tensor z = at::randn(x0.sizes(), gen, x0.options());
  // ∇ log q(x|x0) = −(x − x0)/σ² = −z/σ, so s − target = s + z/σ.
  return half_sq_norm(net(x0 + sigma * z) + z / sigma).mean();
}

at::Tensor ssm_loss(const ScoreFn& net, const at::Tensor& x, int64_t slices, OptGenerator gen) {
  if (slices < 1) throw Error("ssm: the number of slices must be >= 1");
  torch::AutoGradMode enable(true);  // the trace term needs autograd even under evaluation
  const at::Tensor leaf = x.detach().requires_grad_(true);
  const at::Tensor s = net(leaf);
  at::Tensor trace = at::zeros({x.size(0)}, x.options());
  for (int64_t k = 0; k < slices; ++k) {
    const at::Tensor v = at::randn(x.sizes(), gen, x.options());
    // ∇ₓ(sᵀv), kept differentiable (create_graph) so vᵀ∇ₓ(sᵀv) has a θ-gradient.
    const at::Tensor g = torch::autograd::grad({(s * v).sum()}, {leaf}, {},
                                               /*retain_graph=*/true, /*create_graph=*/true)[0];
    trace = trace + (g * v).flatten(1).sum(1);
  }
  return (half_sq_norm(s) + trace / static_cast<double>(slices)).mean();
}

at::Tensor ncsn_loss(const NoiseScoreFn& net, const at::Tensor& x0,
                     const std::vector<double>& sigmas, OptGenerator gen) {
  const at::Tensor ladder = sigma_tensor(sigmas, x0);
  const at::Tensor level = at::randint(static_cast<int64_t>(sigmas.size()), {x0.size(0)}, gen,
                                       at::TensorOptions().dtype(at::kLong).device(x0.device()));
  const at::Tensor sigma = ladder.index_select(0, level);
  const at::Tensor z = at::randn(x0.sizes(), gen, x0.options());
  const at::Tensor s = per_example(sigma, x0);
  return half_sq_norm(s * net(x0 + s * z, sigma) + z).mean();
}

at::Tensor ncsn_level_losses(const NoiseScoreFn& net, const at::Tensor& x0,
                             const std::vector<double>& sigmas, OptGenerator gen) {
  const at::Tensor ladder = sigma_tensor(sigmas, x0);
  std::vector<at::Tensor> out;
  for (int64_t i = 0; i < ladder.size(0); ++i) {
    const at::Tensor sigma = ladder[i].expand({x0.size(0)});
    const at::Tensor z = at::randn(x0.sizes(), gen, x0.options());
    const at::Tensor s = per_example(sigma.contiguous(), x0);
    out.push_back(half_sq_norm(s * net(x0 + s * z, sigma) + z).mean());
  }
  return at::stack(out);
}

std::vector<double> geometric_sigmas(double sigma_1, double sigma_L, int64_t levels) {
  if (!(sigma_1 > 0) || !(sigma_L > 0)) throw Error("geometric_sigmas: σ must be positive");
  if (levels < 1) throw Error("geometric_sigmas: need at least one level");
  if (levels == 1) return {sigma_1};
  std::vector<double> out;
  const double a = std::log(sigma_1), b = std::log(sigma_L);
  for (int64_t i = 0; i < levels; ++i)
    out.push_back(std::exp(a + (b - a) * static_cast<double>(i) / static_cast<double>(levels - 1)));
  return out;
}

}  // namespace deepgen::score
