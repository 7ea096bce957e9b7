// Reverse-process steps, the probability-flow ODE solvers (BEYOND B3) and the one sampling loop.
#include "deepgen/diffusion/sampler.h"

#include "deepgen/core/error.h"
#include "deepgen/diffusion/schedule.h"
#include "deepgen/diffusion/vdm.h"

namespace deepgen::diffusion {

namespace {

// Of per-example γ (per_example shape).
at::Tensor alpha(const at::Tensor& g) { return torch::exp(0.5 * log_alpha2(g)); }
at::Tensor sigma(const at::Tensor& g) { return torch::exp(0.5 * log_sigma2(g)); }

// DPM-Solver-1 from γ_t to γ_to with ε̂ held at ε̂_t (BEYOND B3; Lu et al. 2022, eq. 3.7):
// (α_to/α_t) z_t − σ_to expm1(h) ε̂_t, h = η_to − η_t = (γ_t − γ_to)/2. It is DDIM written in η,
// the form the higher-order solvers correct.
at::Tensor dpm_solver1(const at::Tensor& z, const at::Tensor& eps_t, const at::Tensor& gt,
                       const at::Tensor& gto) {
  return torch::exp(0.5 * (log_alpha2(gto) - log_alpha2(gt))) * z -
         sigma(gto) * torch::expm1(0.5 * (gt - gto)) * eps_t;
}

// γ at η_t + r h, the intermediate points of the singlestep solvers: η is linear in γ, so no
// inverse of the schedule is needed.
at::Tensor gamma_between(const at::Tensor& gamma_t, const at::Tensor& gamma_s, double r) {
  return gamma_t - r * (gamma_t - gamma_s);
}

// D = (1 + 1/(2r)) x̂ − (1/(2r)) x̂_prev with r = h_prev/h: the multistep solvers' linear
// extrapolation of x̂ in η (BEYOND B3); without an earlier x̂ (the first step) D = x̂.
at::Tensor extrapolated(const at::Tensor& x_hat, const at::Tensor& h, const at::Tensor& x_hat_prev,
                        const at::Tensor& h_prev) {
  return x_hat_prev.defined() ? x_hat + h / (2 * h_prev) * (x_hat - x_hat_prev) : x_hat;
}

}  // namespace

at::Tensor standard_normal_like(const at::Tensor& z, at::Generator& gen) {
  return at::randn(z.sizes(), gen, z.scalar_type()).to(z.device());
}

at::Tensor ancestral_step(const at::Tensor& z_t, const at::Tensor& eps_hat,
                          const at::Tensor& gamma_t, const at::Tensor& gamma_s,
                          const at::Tensor& noise) {
  auto p = reverse(z_t, x_from_eps(z_t, eps_hat, gamma_t), gamma_s, gamma_t);
  return p.mean + p.var.sqrt() * noise;
}

at::Tensor ddim_step(const at::Tensor& z_t, const at::Tensor& eps_hat, const at::Tensor& gamma_t,
                     const at::Tensor& gamma_s) {
  auto x_hat = x_from_eps(z_t, eps_hat, gamma_t);
  auto gs = per_example(gamma_s, z_t);
  return torch::exp(0.5 * log_alpha2(gs)) * x_hat + torch::exp(0.5 * log_sigma2(gs)) * eps_hat;
}

at::Tensor dpm_solver2_step(const at::Tensor& z_t, const EpsFn& eps, const at::Tensor& gamma_t,
                            const at::Tensor& gamma_s) {
  constexpr double r = 0.5;
  const auto gamma_1 = gamma_between(gamma_t, gamma_s, r);
  const auto gt = per_example(gamma_t, z_t), gs = per_example(gamma_s, z_t);
  const auto eps_t = eps(z_t, gamma_t);
  const auto u = dpm_solver1(z_t, eps_t, gt, per_example(gamma_1, z_t));
  const auto d = eps(u, gamma_1) - eps_t;
  return dpm_solver1(z_t, eps_t, gt, gs) - sigma(gs) / (2 * r) * torch::expm1(0.5 * (gt - gs)) * d;
}

at::Tensor dpm_solver3_step(const at::Tensor& z_t, const EpsFn& eps, const at::Tensor& gamma_t,
                            const at::Tensor& gamma_s) {
  constexpr double r1 = 1.0 / 3, r2 = 2.0 / 3;
  const auto gamma_1 = gamma_between(gamma_t, gamma_s, r1);
  const auto gamma_2 = gamma_between(gamma_t, gamma_s, r2);
  const auto gt = per_example(gamma_t, z_t), gs = per_example(gamma_s, z_t);
  const auto g2 = per_example(gamma_2, z_t);
  const auto h = 0.5 * (gt - gs);
  // (e^x − 1)/x − 1 ≈ x/2 at the small steps of many-step runs: expm1 keeps it accurate there.
  auto phi = [](const at::Tensor& x) { return torch::expm1(x) / x - 1; };
  const auto eps_t = eps(z_t, gamma_t);
  const auto u1 = dpm_solver1(z_t, eps_t, gt, per_example(gamma_1, z_t));
  const auto d1 = eps(u1, gamma_1) - eps_t;
  const auto u2 = dpm_solver1(z_t, eps_t, gt, g2) - sigma(g2) * (r2 / r1) * phi(r2 * h) * d1;
  const auto d2 = eps(u2, gamma_2) - eps_t;
  return dpm_solver1(z_t, eps_t, gt, gs) - sigma(gs) / r2 * phi(h) * d2;
}

at::Tensor heun_step(const at::Tensor& z_t, const EpsFn& eps, const at::Tensor& gamma_t,
                     const at::Tensor& gamma_s) {
  const auto gt = per_example(gamma_t, z_t), gs = per_example(gamma_s, z_t);
  const auto x_t = z_t / alpha(gt);
  const auto d_sigma = torch::exp(0.5 * gs) - torch::exp(0.5 * gt);  // σ̃_s − σ̃_t, σ̃ = e^{γ/2}
  const auto slope_t = eps(z_t, gamma_t);
  const auto z_euler = alpha(gs) * (x_t + d_sigma * slope_t);
  const auto slope_s = eps(z_euler, gamma_s);
  return alpha(gs) * (x_t + d_sigma * (0.5 * (slope_t + slope_s)));
}

at::Tensor dpmpp_2m_step(const at::Tensor& z_t, const at::Tensor& x_hat, const at::Tensor& gamma_t,
                         const at::Tensor& gamma_s, const at::Tensor& x_hat_prev,
                         const at::Tensor& h_prev) {
  const auto gt = per_example(gamma_t, z_t), gs = per_example(gamma_s, z_t);
  const auto h = 0.5 * (gt - gs);
  const auto d = extrapolated(x_hat, h, x_hat_prev, h_prev);
  return torch::exp(0.5 * (log_sigma2(gs) - log_sigma2(gt))) * z_t -
         alpha(gs) * torch::expm1(-h) * d;
}

at::Tensor dpmpp_2m_sde_step(const at::Tensor& z_t, const at::Tensor& x_hat,
                             const at::Tensor& gamma_t, const at::Tensor& gamma_s,
                             const at::Tensor& x_hat_prev, const at::Tensor& h_prev,
                             const at::Tensor& noise) {
  const auto gt = per_example(gamma_t, z_t), gs = per_example(gamma_s, z_t);
  const auto h = 0.5 * (gt - gs);
  const auto d = extrapolated(x_hat, h, x_hat_prev, h_prev);
  const auto keep = -torch::expm1(-2 * h);  // 1 − e^{−2h}: the share of z_t the step re-draws
  return torch::exp(0.5 * (log_sigma2(gs) - log_sigma2(gt)) - h) * z_t + alpha(gs) * keep * d +
         sigma(gs) * keep.sqrt() * noise;
}

namespace {

// What a step may use besides z and its two γ: the network, the noise source and, for the
// multistep solver, the previous step's data prediction and η-step.
struct StepState {
  const EpsFn& eps;
  at::Generator& gen;
  at::Tensor x_hat_prev, h_prev;
};

// A step of a multistep solver: x̂ at z_t, the update from it, then x̂ and the η-step kept for
// the next step's extrapolation.
template <class Update>
at::Tensor multistep(const at::Tensor& z, const at::Tensor& gamma_t, const at::Tensor& gamma_s,
                     StepState& st, Update update) {
  auto x_hat = x_from_eps(z, st.eps(z, gamma_t), gamma_t);
  auto z_s = update(x_hat);
  st.x_hat_prev = x_hat;
  st.h_prev = 0.5 * (per_example(gamma_t, z) - per_example(gamma_s, z));
  return z_s;
}

// One step z_t -> z_s of a sampler.
using Step = at::Tensor (*)(const at::Tensor& z, const at::Tensor& gamma_t,
                            const at::Tensor& gamma_s, StepState& state);

struct SamplerRow {
  const char* name;
  Step step;
  int order;           // global order of the ODE solver in the step size (ancestral: 1)
  int evals_per_step;  // network evaluations per step
  int64_t min_steps;   // fewer steps are a lower-order method under this solver's name
};

// The samplers by name: a new sampler is its step function and one row here.
const std::vector<SamplerRow>& samplers() {
  static const std::vector<SamplerRow> table{
      {"ancestral",
       [](const at::Tensor& z, const at::Tensor& gamma_t, const at::Tensor& gamma_s,
          StepState& st) {
         auto eps_hat = st.eps(z, gamma_t);
         return ancestral_step(z, eps_hat, gamma_t, gamma_s, standard_normal_like(z, st.gen));
       },
       1, 1, 1},
      {"ddim",
       [](const at::Tensor& z, const at::Tensor& gamma_t, const at::Tensor& gamma_s,
          StepState& st) { return ddim_step(z, st.eps(z, gamma_t), gamma_t, gamma_s); },
       1, 1, 1},
      {"dpm2",
       [](const at::Tensor& z, const at::Tensor& gamma_t, const at::Tensor& gamma_s,
          StepState& st) { return dpm_solver2_step(z, st.eps, gamma_t, gamma_s); },
       2, 2, 1},
      {"dpm3",
       [](const at::Tensor& z, const at::Tensor& gamma_t, const at::Tensor& gamma_s,
          StepState& st) { return dpm_solver3_step(z, st.eps, gamma_t, gamma_s); },
       3, 3, 1},
      // One step has no earlier x̂ to extrapolate from: it is DDIM, so two steps at least.
      {"dpmpp2m",
       [](const at::Tensor& z, const at::Tensor& gamma_t, const at::Tensor& gamma_s,
          StepState& st) {
         return multistep(z, gamma_t, gamma_s, st, [&](const at::Tensor& x_hat) {
           return dpmpp_2m_step(z, x_hat, gamma_t, gamma_s, st.x_hat_prev, st.h_prev);
         });
       },
       2, 1, 2},
      // Stochastic: `order` counts it with ancestral as 1 (the ODE solvers' notion); in
      // distribution it is second order (sampler_test). One step is the ancestral step itself.
      {"dpmpp2m-sde",
       [](const at::Tensor& z, const at::Tensor& gamma_t, const at::Tensor& gamma_s,
          StepState& st) {
         return multistep(z, gamma_t, gamma_s, st, [&](const at::Tensor& x_hat) {
           return dpmpp_2m_sde_step(z, x_hat, gamma_t, gamma_s, st.x_hat_prev, st.h_prev,
                                    standard_normal_like(z, st.gen));
         });
       },
       1, 1, 1},
      {"heun",
       [](const at::Tensor& z, const at::Tensor& gamma_t, const at::Tensor& gamma_s,
          StepState& st) { return heun_step(z, st.eps, gamma_t, gamma_s); },
       2, 2, 1},
  };
  return table;
}

const SamplerRow& find_sampler(const std::string& name) {
  for (const auto& row : samplers())
    if (row.name == name) return row;
  std::string names;
  for (const auto& n : sampler_names()) names += (names.empty() ? "" : ", ") + n;
  throw Error("vdm: " + option_ref("vdm", "sampler") + " '" + name + "' is unknown: use " + names);
}

}  // namespace

std::vector<std::string> sampler_names() {
  std::vector<std::string> names;
  for (const auto& row : samplers()) names.emplace_back(row.name);
  return names;
}

int sampler_order(const std::string& name) { return find_sampler(name).order; }

int64_t sampler_nfe(const std::string& name, int64_t steps) {
  return find_sampler(name).evals_per_step * steps;
}

void check_sampler(const std::string& sampler, int64_t steps) {
  const SamplerRow& row = find_sampler(sampler);
  if (steps < 1) throw Error("vdm: " + option_ref("vdm", "sample_steps") + " must be >= 1");
  if (steps < row.min_steps)
    throw Error("vdm: " + option_ref("vdm", "sampler") + " " + sampler + " needs " +
                option_ref("vdm", "sample_steps") + " >= " + std::to_string(row.min_steps) +
                " to be of order " + std::to_string(row.order) + ": raise the steps or use ddim");
}

std::vector<std::string> sampling_grids() { return {"t", "eta"}; }

at::Tensor sampling_gammas(NoiseSchedule& schedule, const std::string& grid, int64_t steps) {
  auto u = torch::linspace(0, 1, steps + 1, schedule->gamma0().options());
  if (grid == "t") return schedule->gamma(u);
  if (grid == "eta") {
    auto g0 = schedule->gamma0(), g1 = schedule->gamma1();
    return g0 + (g1 - g0) * u;
  }
  throw Error("vdm: " + option_ref("vdm", "sample_grid") + " '" + grid +
              "' is unknown: use t, eta");
}

at::Tensor sample_loop(const std::string& sampler, const EpsFn& eps, const at::Tensor& gammas,
                       at::Tensor z, at::Generator& gen,
                       const std::function<void(int64_t, int64_t)>& on_step) {
  const int64_t steps = gammas.size(0) - 1;
  check_sampler(sampler, steps);
  const Step step = find_sampler(sampler).step;
  StepState state{eps, gen, {}, {}};
  const int64_t b = z.size(0);
  for (int64_t i = steps; i >= 1; --i) {
    z = step(z, gammas[i].expand({b}), gammas[i - 1].expand({b}), state);
    if (on_step) on_step(steps - i + 1, steps);
  }
  return z;
}

}  // namespace deepgen::diffusion
