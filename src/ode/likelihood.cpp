#include "deepgen/ode/likelihood.h"

#include <torch/autograd.h>

#include <cmath>

#include "deepgen/core/error.h"

namespace deepgen::ode {

namespace {

// x as a leaf that records the graph of v, with gradients on even under a caller's NoGradGuard.
struct Traced {
  explicit Traced(const VectorFn& v, const at::Tensor& x)
      : input(x.detach().requires_grad_(true)), output(v(input)) {
    if (output.sizes() != input.sizes())
      throw Error("the divergence needs a field of its input's shape");
  }
  at::Tensor grad_of(const at::Tensor& scalar) const {
    return torch::autograd::grad({scalar}, {input}, {}, /*retain_graph=*/true)[0];
  }
  torch::AutoGradMode on{true};
  at::Tensor input, output;
};

}  // namespace

std::pair<at::Tensor, at::Tensor> value_and_divergence(const VectorFn& v, const at::Tensor& x) {
  const Traced t(v, x);
  const at::Tensor out = t.output.flatten(1);
  at::Tensor div = at::zeros({x.size(0)}, x.options());
  for (int64_t i = 0; i < out.size(1); ++i)  // ∂v_i/∂x_i for every example at once
    div = div + t.grad_of(out.select(1, i).sum()).flatten(1).select(1, i);
  return {t.output.detach(), div.detach()};
}

std::pair<at::Tensor, at::Tensor> value_and_divergence(const VectorFn& v, const at::Tensor& x,
                                                       const at::Tensor& probes) {
  if (probes.dim() != x.dim() + 1 || probes.sizes().slice(1) != x.sizes())
    throw Error("Hutchinson probes must be shaped (P, " + c10::str(x.sizes()).substr(1));
  const Traced t(v, x);
  at::Tensor div = at::zeros({x.size(0)}, x.options());
  for (int64_t p = 0; p < probes.size(0); ++p) {
    const at::Tensor e = probes[p];
    div = div + (t.grad_of((t.output * e).sum()) * e).flatten(1).sum(1);
  }
  return {t.output.detach(), (div / static_cast<double>(probes.size(0))).detach()};
}

at::Tensor isotropic_normal_log_prob(const at::Tensor& z, double mean, double var) {
  const double d = static_cast<double>(z.numel() / std::max<int64_t>(z.size(0), 1));
  return -0.5 * (z - mean).flatten(1).square().sum(1) / var - 0.5 * d * std::log(2 * M_PI * var);
}

std::vector<std::string> probe_names() { return {"rademacher", "gaussian"}; }

at::Tensor draw_probes(const std::string& kind, int64_t count, const at::Tensor& like,
                       at::Generator& gen) {
  std::vector<int64_t> shape{count};
  shape.insert(shape.end(), like.sizes().begin(), like.sizes().end());
  const auto cpu = like.options().device(at::kCPU);
  at::Tensor e;
  if (kind == "gaussian")
    e = at::randn(shape, gen, cpu);
  else if (kind == "rademacher")
    e = at::randint(0, 2, shape, gen, cpu) * 2 - 1;
  else
    throw Error("Hutchinson probe '" + kind + "' is unknown (known: rademacher, gaussian)");
  return e.to(like.device());
}

Flow integrate_flow(const Drift& f, const at::Tensor& z0, double t0, double t1,
                    const FlowOptions& o, at::Generator& gen,
                    const std::function<void(double t)>& on_step) {
  if (o.divergence != "exact" && o.divergence != "hutchinson")
    throw Error("divergence '" + o.divergence + "' is unknown (known: exact, hutchinson)");
  const bool exact = o.divergence == "exact";
  if (!exact && o.probes < 1) throw Error("Hutchinson's estimator needs at least one probe");
  const at::Tensor probes = exact ? at::Tensor() : draw_probes(o.probe, o.probes, z0, gen);
  const int64_t b = z0.size(0), d = z0.numel() / std::max<int64_t>(b, 1);
  const auto shape = z0.sizes().vec();
  // The state packs z (B, D) and the running ∫∇·f (B, 1), so one step-size control serves both.
  const Field field = [&](double t, const at::Tensor& y) {
    const at::Tensor z = y.narrow(1, 0, d).reshape(shape);
    const VectorFn v = [&](const at::Tensor& zz) { return f(zz, t); };
    auto [dz, div] = exact ? value_and_divergence(v, z) : value_and_divergence(v, z, probes);
    return at::cat({dz.reshape({b, d}).to(y.dtype()), div.to(y.dtype()).unsqueeze(1)}, 1);
  };
  const at::Tensor y0 = at::cat({z0.reshape({b, d}), at::zeros({b, 1}, z0.options())}, 1);
  const Solution s = solve(field, y0, t0, t1, o.solve, on_step);
  return {s.y.narrow(1, 0, d).reshape(shape), s.y.select(1, d), s.nfe};
}

}  // namespace deepgen::ode
