// k-means initialisation and the CAVI loop of the Bayesian Gaussian mixture (PRML §10.2.1).
#include <cmath>
#include <limits>

#include "deepgen/core/error.h"
#include "deepgen/core/rng.h"
#include "deepgen/vi/gmm.h"
#include "gmm_internal.h"

namespace deepgen::vi {

using namespace gmm_detail;

namespace {

// Squared Euclidean distances of the points (N, D) to the centres (K, D): (N, K).
at::Tensor squared_distances(const at::Tensor& x, const at::Tensor& centres) {
  return (x.unsqueeze(1) - centres.unsqueeze(0)).pow(2).sum(2);
}

// k-means++ seeding (Arthur & Vassilvitskii 2007): the first centre uniformly at random, each
// next one with probability proportional to its squared distance to the nearest chosen centre.
at::Tensor kmeans_pp_centres(const at::Tensor& x, int64_t k, at::Generator& gen) {
  const int64_t n = x.size(0);
  std::vector<int64_t> chosen{torch::randint(n, {1}, gen, torch::kLong).item<int64_t>()};
  at::Tensor d2 = (x - x[chosen[0]]).pow(2).sum(1);
  while (static_cast<int64_t>(chosen.size()) < k) {
    const bool spread = d2.sum().item<double>() > 0;  // else every point is already a centre
    const int64_t next = spread ? torch::multinomial(d2, 1, false, gen).item<int64_t>()
                                : torch::randint(n, {1}, gen, torch::kLong).item<int64_t>();
    chosen.push_back(next);
    d2 = torch::minimum(d2, (x - x[next]).pow(2).sum(1));
  }
  return x.index_select(0, torch::tensor(chosen, torch::kLong));
}

// Lloyd's iterations from the given centres until no label changes (at most 100); an empty
// cluster keeps its centre. Returns the labels (N).
at::Tensor lloyd_labels(const at::Tensor& x, at::Tensor centres) {
  const int64_t k = centres.size(0);
  at::Tensor labels = squared_distances(x, centres).argmin(1);
  for (int iter = 0; iter < 100; ++iter) {
    const at::Tensor counts = torch::bincount(labels, {}, k).to(torch::kDouble).unsqueeze(1);
    const at::Tensor sums = torch::zeros_like(centres).index_add_(0, labels, x);
    centres = torch::where(counts > 0, sums / counts.clamp_min(1), centres);
    at::Tensor next = squared_distances(x, centres).argmin(1);
    if (next.equal(labels)) break;
    labels = next;
  }
  return labels;
}

void check_options(const GmmFitOptions& o, int64_t n) {
  const std::string k = std::to_string(o.components);
  if (o.components < 1) throw Error("GMM components must be >= 1, got " + k);
  if (o.components > n)
    throw Error("GMM components (" + k + ") exceed the number of points (" + std::to_string(n) +
                "): use at most " + std::to_string(n) + " components or more data");
  if (o.max_iter < 1) throw Error("GMM max_iter must be >= 1, got " + std::to_string(o.max_iter));
  if (!(o.tol >= 0)) throw Error("GMM tol must be >= 0, got " + std::to_string(o.tol));
  if (!(o.collapse_threshold >= 0 && o.collapse_threshold < 1))
    throw Error("GMM collapse_threshold must be in [0, 1), got " +
                std::to_string(o.collapse_threshold));
}

// The point estimates, the final E-step and the collapsed components of a fitted posterior.
void summarise(GmmFit& fit, const at::Tensor& x, double collapse_threshold) {
  const GmmPosterior& q = fit.posterior;
  fit.weights = q.alpha / q.alpha.sum();              // E[π_k]
  fit.means = q.m;                                    // E[μ_k]
  fit.covariances = q.w_inv / q.nu.view({-1, 1, 1});  // E[Λ_k]⁻¹ = (ν_k W_k)⁻¹
  fit.log_resp = gmm_e_step(x, q);
  // N_k of the last M-step, read back from α_k = α₀ + N_k.
  const at::Tensor nk = q.alpha - fit.prior.alpha0;
  const double limit = collapse_threshold * static_cast<double>(x.size(0));
  for (int64_t k = 0; k < nk.size(0); ++k)
    if (nk[k].item<double>() < limit) fit.collapsed.push_back(k);
}

}  // namespace

at::Tensor gmm_kmeans_resp(const at::Tensor& x_in, int64_t k, uint64_t seed) {
  const at::Tensor x = as_points(x_in, "GMM data x");
  if (k < 1 || k > x.size(0))
    throw Error("k-means needs 1 <= K <= N, got K = " + std::to_string(k) +
                ", N = " + std::to_string(x.size(0)));
  at::Generator gen = make_generator(mix_seed(seed, 0x67'6d'6d));  // "gmm"
  const at::Tensor labels = lloyd_labels(x, kmeans_pp_centres(x, k, gen));
  return torch::one_hot(labels, k).to(torch::kDouble);
}

GmmFit fit_gmm(const at::Tensor& x_in, const GmmFitOptions& options,
               const at::Tensor& initial_resp) {
  const at::Tensor x = as_points(x_in, "GMM data x");
  const int64_t n = x.size(0);
  check_options(options, n);
  GmmFit fit;
  fit.prior = gmm_resolve_prior(x, options.components, options.prior);
  at::Tensor r = initial_resp.defined() ? as_resp(initial_resp, n, "GMM initial responsibilities")
                                        : gmm_kmeans_resp(x, options.components, options.seed);
  if (r.size(1) != options.components)
    throw Error("GMM initial responsibilities have " + std::to_string(r.size(1)) +
                " columns, expected components = " + std::to_string(options.components));
  GmmPosterior q = gmm_m_step(x, r, fit.prior);
  double previous = -std::numeric_limits<double>::infinity();
  for (int64_t t = 1; t <= options.max_iter; ++t) {
    r = gmm_e_step(x, q).exp();
    q = gmm_m_step(x, r, fit.prior);
    const double elbo = gmm_elbo(x, r, q, fit.prior).total();
    if (!std::isfinite(elbo))
      throw Error("GMM: the ELBO is not finite at sweep " + std::to_string(t) +
                  "; rescale the data (e.g. standardise each coordinate)");
    fit.elbo.push_back(elbo);
    fit.iterations = t;
    if (std::abs(elbo - previous) / static_cast<double>(n) < options.tol) {
      fit.converged = true;
      break;
    }
    previous = elbo;
  }
  fit.posterior = q;
  summarise(fit, x, options.collapse_threshold);
  return fit;
}

}  // namespace deepgen::vi
