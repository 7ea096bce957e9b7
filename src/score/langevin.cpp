// Langevin samplers (MATH 3.1a, MATH 3.1b): one step function per update rule, one loop per
// sampler.
#include "deepgen/score/langevin.h"

#include <cmath>

#include "deepgen/core/error.h"

namespace deepgen::score {

namespace {

at::Tensor noise_like(const at::Tensor& x, const OptGenerator& gen) {
  return at::randn(x.sizes(), gen, x.options());
}

void check_step(double delta, const char* who) {
  if (!(delta > 0) || !std::isfinite(delta))
    throw Error(std::string(who) + ": the step size must be positive and finite");
}

// log p(x) and ∇ₓ log p(x) by autograd, both detached.
std::pair<at::Tensor, at::Tensor> value_and_score(const LogProbFn& log_prob, const at::Tensor& x) {
  torch::AutoGradMode enable(true);
  const at::Tensor leaf = x.detach().requires_grad_(true);
  const at::Tensor lp = log_prob(leaf);
  const at::Tensor grad = torch::autograd::grad({lp.sum()}, {leaf})[0];
  return {lp.detach(), grad.detach()};
}

// log q(to | from) of the MALA proposal N(from + δ·s(from), 2δI), up to a constant, per example.
at::Tensor log_proposal(const at::Tensor& to, const at::Tensor& from, const at::Tensor& score_from,
                        double delta) {
  const at::Tensor r = (to - from - delta * score_from).flatten(1);
  return -r.pow(2).sum(1) / (4.0 * delta);
}

}  // namespace

at::Tensor gradient_ascent_step(const at::Tensor& x, const ScoreFn& score, double delta) {
  return x + delta * score(x);
}

at::Tensor langevin_step(const at::Tensor& x, const ScoreFn& score, double delta,
                         OptGenerator gen) {
  const at::Tensor drift = x + delta * score(x);
  return drift + std::sqrt(2.0 * delta) * noise_like(x, gen);
}

at::Tensor langevin(const at::Tensor& x0, const ScoreFn& score, double delta, int64_t steps,
                    OptGenerator gen, const StepCallback& callback) {
  check_step(delta, "langevin");
  at::Tensor x = x0;
  for (int64_t t = 0; t < steps; ++t) {
    x = langevin_step(x, score, delta, gen);
    if (callback) callback(t + 1, steps, x);
  }
  return x;
}

MalaResult mala(const at::Tensor& x0, const LogProbFn& log_prob, double delta, int64_t steps,
                OptGenerator gen, const StepCallback& callback) {
  check_step(delta, "mala");
  at::Tensor x = x0.detach();
  auto [lp, s] = value_and_score(log_prob, x);
  std::vector<int64_t> column(x.dim(), 1);  // (B, 1, ...) to broadcast the per-chain decision
  column[0] = x.size(0);
  double accepted = 0.0;
  for (int64_t t = 0; t < steps; ++t) {
    const at::Tensor y = x + delta * s + std::sqrt(2.0 * delta) * noise_like(x, gen);
    auto [lp_y, s_y] = value_and_score(log_prob, y);
    // Metropolis–Hastings with the asymmetric proposal: log α = log p(y) − log p(x)
    // + log q(x|y) − log q(y|x).
    const at::Tensor log_alpha =
        lp_y - lp + log_proposal(x, y, s_y, delta) - log_proposal(y, x, s, delta);
    const at::Tensor u = at::rand(log_alpha.sizes(), gen, log_alpha.options());
    const at::Tensor accept = u.log() < log_alpha;
    accepted += accept.sum().item<double>();
    const at::Tensor mask = accept.view(column);
    x = at::where(mask, y, x);
    s = at::where(mask, s_y, s);
    lp = at::where(accept, lp_y, lp);
    if (callback) callback(t + 1, steps, x);
  }
  const double total = static_cast<double>(x.size(0)) * static_cast<double>(steps);
  return {x, steps > 0 ? accepted / total : 0.0};
}

at::Tensor tweedie_denoise(const at::Tensor& x, const NoiseScoreFn& score, double sigma) {
  return x + sigma * sigma * score(x, at::full({x.size(0)}, sigma, x.options()));
}

at::Tensor annealed_langevin(const at::Tensor& x0, const NoiseScoreFn& score,
                             const std::vector<double>& sigmas, int64_t steps_per_level, double eps,
                             OptGenerator gen, bool final_denoise, const StepCallback& callback,
                             const LevelProjection& project) {
  if (sigmas.empty()) throw Error("annealed_langevin: the σ ladder is empty");
  check_step(eps, "annealed_langevin");
  const double last = sigmas.back();
  const int64_t total = steps_per_level * static_cast<int64_t>(sigmas.size());
  at::Tensor x = x0;
  int64_t done = 0;
  for (double sigma : sigmas) {
    const at::Tensor level = at::full({x.size(0)}, sigma, x.options());
    const ScoreFn at_level = [&](const at::Tensor& y) { return score(y, level); };
    const double delta = eps * (sigma * sigma) / (last * last);  // α_i = ε σ_i² / σ_L²
    for (int64_t t = 0; t < steps_per_level; ++t) {
      x = langevin_step(project ? project(x, sigma) : x, at_level, delta, gen);
      if (callback) callback(++done, total, x);
    }
  }
  if (!final_denoise) return x;
  return tweedie_denoise(project ? project(x, last) : x, score, last);
}

}  // namespace deepgen::score
