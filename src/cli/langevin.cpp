// deepgen langevin: Langevin dynamics (MATH 3.1b), MALA, or annealed Langevin (Song & Ermon
// 2019) on a target whose score is known: an analytic Gaussian mixture, or the kernel density
// of a toy data set (MATH 3.2a), whose noised versions are exact too (wider kernels).
#include "deepgen/score/langevin.h"

#include <iostream>

#include "app.h"
#include "deepgen/core/error.h"
#include "deepgen/core/rng.h"
#include "deepgen/core/runtime.h"
#include "deepgen/data/toy.h"
#include "deepgen/io/files.h"
#include "deepgen/io/image.h"
#include "deepgen/io/plot.h"
#include "deepgen/run/outputs.h"
#include "deepgen/score/kde.h"
#include "deepgen/score/losses.h"
#include "deepgen/score/targets.h"
#include "terminal.h"

namespace deepgen::cli {

const OptionTable<LangevinRequest>& langevin_option_table() {
  static const OptionTable<LangevinRequest> table = [] {
    OptionTable<LangevinRequest> t("langevin");
    using R = LangevinRequest;
    t.add("target", &R::target,
          "gmm:w,m1,..,mD,s;... | gaussian:m1,..,mD,s | toy:NAME (ncsn-gmm exact; other toys: "
          "kernel density of their points) (required)");
    t.add("out", &R::out, "Output directory: samples.csv, samples.png (required)");
    t.add("n", &R::n, "Chains").min(2);
    t.add("steps", &R::steps, "Steps (--annealed: per level)").min(1);
    t.add("step_size", &R::step_size,
          "δ in x + δ∇log p + sqrt(2δ)ε; --annealed: ε of δ_i = ε σ_i²/σ_L²")
        .greater(0);
    t.add("annealed", &R::annealed, "Annealed Langevin over a geometric σ ladder");
    t.add("mala", &R::mala, "Metropolis-adjusted Langevin (exact; needs a mixture target)");
    t.add("sigma_begin", &R::sigma_begin, "--annealed: σ_1");
    t.add("sigma_end", &R::sigma_end, "--annealed: σ_L");
    t.add("levels", &R::levels, "--annealed: L, the levels of the ladder");
    t.add("init_box", &R::init_box, "Chains start uniform in [-b, b]^D").greater(0);
    t.add("kde_sigma", &R::kde_sigma, "toy targets: kernel width").greater(0);
    t.add("kde_points", &R::kde_points, "toy targets: points of the kernel density").min(1);
    t.add("seed", &R::seed, "Random seed");
    t.add("threads", &R::threads, "Intra-op CPU threads (0: one per core)").min(0);
    return t;
  }();
  return table;
}

namespace {

using nlohmann::json;

json rows_of(const at::Tensor& t) {
  auto c = t.to(torch::kDouble).contiguous();
  if (c.dim() == 1)
    return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
  json out = json::array();
  for (int64_t i = 0; i < c.size(0); ++i) out.push_back(rows_of(c[i]));
  return out;
}

// A target: exact score at noise level σ (0: the target itself), and its log density if known.
struct Target {
  std::function<at::Tensor(const at::Tensor&, double)> score;
  std::function<at::Tensor(const at::Tensor&)> log_prob;  // empty for kernel densities
  at::Tensor means, weights;                              // mixtures only
};

Target make_target(const LangevinRequest& r) {
  const bool toy = r.target.rfind("toy:", 0) == 0;
  if (!toy || r.target == "toy:ncsn-gmm") {
    auto mix = std::make_shared<score::GaussianMixture>(
        score::parse_target(toy ? r.target.substr(4) : r.target));
    return {[mix](const at::Tensor& x, double s) {
              return s > 0 ? mix->noised(s).score(x) : mix->score(x);
            },
            [mix](const at::Tensor& x) { return mix->log_prob(x); }, mix->means, mix->weights};
  }
  auto gen = make_generator(r.seed + 1);
  auto data = data::sample_toy(r.target.substr(4), r.kde_points, gen).to(torch::kDouble);
  const double h = r.kde_sigma;
  return {[data, h](const at::Tensor& x, double s) {
            return score::kde_score(x, data, std::sqrt(h * h + s * s));  // KDE ⊛ N(0, s²)
          },
          {},
          {},
          {}};
}

void check(const LangevinRequest& r) {
  langevin_option_table().validate(r);
  if (r.target.empty()) throw Error("--target is required (e.g. --target toy:ncsn-gmm)");
  if (r.annealed && r.mala) throw Error("--annealed and --mala are different samplers: pick one");
  if (r.annealed && !(r.sigma_begin > r.sigma_end && r.sigma_end > 0 && r.levels >= 2))
    throw Error("--annealed needs --sigma-begin > --sigma-end > 0 and --levels >= 2");
  if (r.out.empty()) throw Error("--out DIR is required");
  // NCSN's step δ_i = ε σ_i²/σ_L² makes δ_i/σ_i² = ε/σ_L² at every level; above 1 the chains
  // overshoot the modes of the noised target and diverge.
  if (r.annealed && r.step_size / (r.sigma_end * r.sigma_end) > 1)
    throw Error("--step-size " + c10::str(r.step_size) + " with --sigma-end " +
                c10::str(r.sigma_end) +
                " gives steps δ_i = " + c10::str(r.step_size / (r.sigma_end * r.sigma_end)) +
                "·σ_i², which diverge: use --step-size <= σ_L² (e.g. 0.1·σ_L²)");
}

}  // namespace

json langevin(const LangevinRequest& r) {
  check(r);
  if (const auto t = apply_threads(r.threads); !t.warning.empty())
    log_line("warning: " + t.warning);
  Target target = make_target(r);
  auto gen = make_generator(r.seed);
  const int64_t dim = target.means.defined() ? target.means.size(1) : 2;
  auto x0 = (at::rand({r.n, dim}, gen, torch::kDouble) * 2 - 1) * r.init_box;
  auto progress = [](int64_t step, int64_t total, const at::Tensor&) {
    if (step % 100 == 0 || step == total)
      log_line("langevin step " + std::to_string(step) + "/" + std::to_string(total));
  };
  json out{{"target", r.target}, {"n", r.n}};
  at::Tensor x;
  if (r.annealed) {
    auto sigmas = score::geometric_sigmas(r.sigma_begin, r.sigma_end, r.levels);
    score::NoiseScoreFn s = [&](const at::Tensor& z, const at::Tensor& sigma) {
      return target.score(z, sigma[0].item<double>());
    };
    x = score::annealed_langevin(x0, s, sigmas, r.steps, r.step_size, gen, true, progress);
    out["sampler"] = "annealed";
    out["sigmas"] = sigmas;
    out["steps_per_level"] = r.steps;
    out["eps"] = r.step_size;
  } else if (r.mala) {
    if (!target.log_prob)
      throw Error("--mala needs a target with a known density (gmm:, gaussian:, toy:ncsn-gmm)");
    auto m = score::mala(x0, target.log_prob, r.step_size, r.steps, gen, progress);
    x = m.x;
    out["sampler"] = "mala";
    out["acceptance"] = m.acceptance;
  } else {
    x = score::langevin(
        x0, [&](const at::Tensor& z) { return target.score(z, 0.0); }, r.step_size, r.steps, gen,
        progress);
    out["sampler"] = "langevin";
  }
  if (!r.annealed) {
    out["steps"] = r.steps;
    out["step_size"] = r.step_size;
  }
  if (!torch::isfinite(x).all().item<bool>())
    throw Error("the chains diverged (non-finite samples): use a smaller --step-size");
  out["mean"] = rows_of(x.mean(0));
  out["covariance"] = rows_of(x.t().cov());
  if (target.means.defined()) {
    out["component_means"] = rows_of(target.means);
    out["component_weights"] = rows_of(target.weights);
    out["component_fractions"] = rows_of(score::component_fractions(x, target.means));
  }
  io::make_dirs(r.out);
  run::write_csv(r.out + "/samples.csv", x.to(torch::kFloat));
  if (dim == 2) io::write_png(r.out + "/samples.png", io::scatter_image({x.to(torch::kFloat)}));
  return out;
}

int run_langevin(const LangevinRequest& r) {
  std::cout << langevin(r).dump() << std::endl;
  return 0;
}

}  // namespace deepgen::cli
