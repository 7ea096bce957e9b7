// VE-SDE samplers (Song et al. 2021): predictor–corrector on the reverse SDE and fixed-step
// solvers of the probability-flow ODE.
#include "deepgen/score/sde.h"

#include <cmath>
#include <utility>

#include "deepgen/core/error.h"

namespace deepgen::score {

namespace {

at::Tensor sigma_column(const at::Tensor& x, double sigma) {
  return at::full({x.size(0)}, sigma, x.options());
}

// Mean over the batch of the per-example Euclidean norm.
double mean_norm(const at::Tensor& t) { return t.flatten(1).norm(2, 1).mean().item<double>(); }

void check_grid(const std::vector<double>& sigmas, const char* who) {
  if (sigmas.empty()) throw Error(std::string(who) + ": the σ grid is empty");
  for (size_t i = 0; i < sigmas.size(); ++i) {
    if (!(sigmas[i] > 0) || !std::isfinite(sigmas[i]))
      throw Error(std::string(who) + ": every σ must be positive and finite");
    if (i > 0 && !(sigmas[i] < sigmas[i - 1]))
      throw Error(std::string(who) + ": the σ grid must descend");
  }
}

template <class Step>
using NamedSteps = std::vector<std::pair<std::string, Step>>;

template <class Step>
std::vector<std::string> names_of(const NamedSteps<Step>& table) {
  std::vector<std::string> names;
  for (const auto& [n, step] : table) names.push_back(n);
  return names;
}

// The row `name` of a step table, or an error from `who` naming `option` and the choices.
template <class Step>
Step find_step(const NamedSteps<Step>& table, const std::string& name, const char* who,
               const char* option) {
  for (const auto& [n, step] : table)
    if (n == name) return step;
  std::string names;
  for (const auto& n : names_of(table)) names += (names.empty() ? "" : ", ") + n;
  throw Error(std::string(who) + ": " + option_ref("score", option) + " '" + name +
              "' is unknown: use " + names);
}

// dx/dσ of the probability-flow ODE: −σ·s(x, σ) (= (x − D(x))/σ, D the Tweedie denoiser).
at::Tensor pf_ode_slope(const at::Tensor& x, const NoiseScoreFn& score, double sigma) {
  return -sigma * score(x, sigma_column(x, sigma));
}

using OdeStep = at::Tensor (*)(const at::Tensor& x, const NoiseScoreFn& score, double sigma,
                               double sigma_next);

at::Tensor euler_step(const at::Tensor& x, const NoiseScoreFn& score, double sigma,
                      double sigma_next) {
  return x + (sigma_next - sigma) * pf_ode_slope(x, score, sigma);
}

// Karras et al. 2022, Alg. 1 lines 5–8: the trapezoid of the slopes at both ends of the step.
at::Tensor heun_step(const at::Tensor& x, const NoiseScoreFn& score, double sigma,
                     double sigma_next) {
  const double h = sigma_next - sigma;
  const at::Tensor d = pf_ode_slope(x, score, sigma);
  const at::Tensor d_next = pf_ode_slope(x + h * d, score, sigma_next);
  return x + 0.5 * h * (d + d_next);
}

// The ODE solvers by name: a new solver is its step function and one row here.
const NamedSteps<OdeStep>& ode_solvers() {
  static const NamedSteps<OdeStep> table{
      {"euler", &euler_step},
      {"heun", &heun_step},
  };
  return table;
}

// x + Δ·s(x, σ) + c·√Δ·z with Δ = σ² − σ_next² (g² dt of the VE SDE): reverse diffusion (c = 1)
// and the ancestral step (c = σ_next/σ) differ only in how much noise they add back.
at::Tensor one_step_predictor(const at::Tensor& x, const NoiseScoreFn& score, double sigma,
                              double sigma_next, double noise_share, OptGenerator gen) {
  const double variance = sigma * sigma - sigma_next * sigma_next;
  const at::Tensor drift = x + variance * score(x, sigma_column(x, sigma));
  return drift + noise_share * std::sqrt(variance) * at::randn(x.sizes(), gen, x.options());
}

// What a predictor step may use besides x and its two σ: the multistep predictor keeps the
// previous step's Tweedie estimate and log-σ step.
struct PredictorState {
  const NoiseScoreFn& score;
  OptGenerator gen;
  at::Tensor d_prev;
  double h_prev = 0;
};

using PredictorStep = at::Tensor (*)(const at::Tensor& x, double sigma, double sigma_next,
                                     PredictorState& st);

at::Tensor dpmpp_2m_sde_ve_step(const at::Tensor& x, double sigma, double sigma_next,
                                PredictorState& st) {
  const double h = std::log(sigma / sigma_next), q = sigma_next * sigma_next / (sigma * sigma);
  const at::Tensor d = x + sigma * sigma * st.score(x, sigma_column(x, sigma));
  const at::Tensor d_ex = st.d_prev.defined() ? d + h / (2 * st.h_prev) * (d - st.d_prev) : d;
  st.d_prev = d;
  st.h_prev = h;
  return q * x + (1 - q) * d_ex +
         sigma_next * std::sqrt(1 - q) * at::randn(x.sizes(), st.gen, x.options());
}

// The predictors by name: a new predictor is its step function and one row here.
const NamedSteps<PredictorStep>& predictors() {
  static const NamedSteps<PredictorStep> table{
      {"reverse-diffusion",
       [](const at::Tensor& x, double sigma, double sigma_next, PredictorState& st) {
         return reverse_diffusion_step(x, st.score, sigma, sigma_next, st.gen);
       }},
      {"ancestral",
       [](const at::Tensor& x, double sigma, double sigma_next, PredictorState& st) {
         return ancestral_ve_step(x, st.score, sigma, sigma_next, st.gen);
       }},
      {"dpmpp2m-sde", &dpmpp_2m_sde_ve_step},
  };
  return table;
}

}  // namespace

std::vector<std::string> predictor_names() { return names_of(predictors()); }

at::Tensor ancestral_ve_step(const at::Tensor& x, const NoiseScoreFn& score, double sigma,
                             double sigma_next, OptGenerator gen) {
  return one_step_predictor(x, score, sigma, sigma_next, sigma_next / sigma, gen);
}

at::Tensor reverse_diffusion_step(const at::Tensor& x, const NoiseScoreFn& score, double sigma,
                                  double sigma_next, OptGenerator gen) {
  return one_step_predictor(x, score, sigma, sigma_next, 1.0, gen);
}

at::Tensor langevin_corrector_step(const at::Tensor& x, const NoiseScoreFn& score, double sigma,
                                   double snr, OptGenerator gen) {
  const at::Tensor s = score(x, sigma_column(x, sigma));
  const at::Tensor z = at::randn(x.sizes(), gen, x.options());
  const double signal = mean_norm(s);
  if (!(signal > 0)) return x;  // every chain at a stationary point: ε would be infinite
  const double ratio = snr * mean_norm(z) / signal;
  const double eps = 2.0 * ratio * ratio;
  return x + eps * s + std::sqrt(2.0 * eps) * z;
}

at::Tensor pc_sampler(const at::Tensor& x0, const NoiseScoreFn& score,
                      const std::vector<double>& sigmas, int64_t corrector_steps, double snr,
                      OptGenerator gen, bool final_denoise, const StepCallback& callback,
                      const std::string& predictor) {
  check_grid(sigmas, "pc_sampler");
  const PredictorStep predict = find_step(predictors(), predictor, "pc_sampler", "predictor");
  if (!(snr > 0) || !std::isfinite(snr))
    throw Error("pc_sampler: " + option_ref("score", "snr") + " must be positive and finite");
  if (corrector_steps < 0)
    throw Error("pc_sampler: " + option_ref("score", "corrector_steps") + " must be >= 0");
  const int64_t levels = static_cast<int64_t>(sigmas.size()) - 1;
  const int64_t total = levels * (1 + corrector_steps);
  at::Tensor x = x0;
  int64_t done = 0;
  PredictorState state{score, gen};
  for (int64_t i = 0; i < levels; ++i) {
    x = predict(x, sigmas[i], sigmas[i + 1], state);
    if (callback) callback(++done, total, x);
    for (int64_t j = 0; j < corrector_steps; ++j) {
      x = langevin_corrector_step(x, score, sigmas[i + 1], snr, gen);
      if (callback) callback(++done, total, x);
    }
  }
  return final_denoise ? tweedie_denoise(x, score, sigmas.back()) : x;
}

std::vector<std::string> ode_solver_names() { return names_of(ode_solvers()); }

at::Tensor probability_flow_ode(const at::Tensor& x0, const NoiseScoreFn& score,
                                const std::vector<double>& sigmas, const std::string& solver,
                                bool final_denoise, const StepCallback& callback) {
  check_grid(sigmas, "probability_flow_ode");
  const OdeStep step = find_step(ode_solvers(), solver, "probability_flow_ode", "ode_solver");
  const int64_t total = static_cast<int64_t>(sigmas.size()) - 1;
  at::Tensor x = x0;
  for (int64_t i = 0; i < total; ++i) {
    x = step(x, score, sigmas[i], sigmas[i + 1]);
    if (callback) callback(i + 1, total, x);
  }
  return final_denoise ? tweedie_denoise(x, score, sigmas.back()) : x;
}

at::Tensor ve_flow_drift(const at::Tensor& score, double sigma, double log_r) {
  return -sigma * sigma * log_r * score;
}

}  // namespace deepgen::score
