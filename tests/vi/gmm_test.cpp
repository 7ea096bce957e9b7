// Mean-field CAVI for the Bayesian Gaussian mixture (MATH 1.5; PRML §10.2): monotone ELBO,
// recovery of separated clusters, collapse of surplus components, the closed-form ELBO against a
// term-by-term transcription and against Monte Carlo, and scikit-learn's updates.
#include "deepgen/vi/gmm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "deepgen/core/error.h"
#include "support/temp_dir.h"

namespace deepgen::vi {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kDouble);
const double kLogPi = std::log(M_PI), kLog2Pi = std::log(2 * M_PI);

struct Mixture {
  std::vector<double> weights;
  at::Tensor means;  // (K, D)
  at::Tensor covs;   // (K, D, D)
};

struct Sample {
  at::Tensor x;       // (N, D)
  at::Tensor labels;  // (N)
};

Sample draw(const Mixture& m, int64_t n, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Tensor labels = torch::multinomial(torch::tensor(m.weights, kF64), n, true, gen);
  const int64_t d = m.means.size(1);
  at::Tensor eps = torch::randn({n, d, 1}, gen, kF64);
  at::Tensor l = torch::linalg_cholesky(m.covs).index_select(0, labels);
  return {m.means.index_select(0, labels) + l.matmul(eps).squeeze(2), labels};
}

// Three clusters, well separated (means >= 8 apart, standard deviations <= 1.5).
Mixture three_clusters() {
  return {
      {0.5, 0.3, 0.2},
      torch::tensor({{-6.0, 0.0}, {6.0, 0.0}, {0.0, 8.0}}, kF64),
      torch::tensor(
          {{{1.0, 0.5}, {0.5, 1.0}}, {{0.5, 0.0}, {0.0, 2.0}}, {{1.5, -0.7}, {-0.7, 1.0}}}, kF64)};
}

// Two overlapping clusters in 3-D: the fit has to work for its optimum.
Mixture overlapping_3d() {
  return {{0.6, 0.4},
          torch::tensor({{0.0, 0.0, 0.0}, {1.5, 1.0, -0.5}}, kF64),
          torch::tensor({{{1.0, 0.3, 0.0}, {0.3, 1.0, 0.2}, {0.0, 0.2, 1.0}},
                         {{0.6, 0.0, 0.1}, {0.0, 0.8, 0.0}, {0.1, 0.0, 1.2}}},
                        kF64)};
}

at::Tensor random_resp(int64_t n, int64_t k, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::_sample_dirichlet(torch::ones({n, k}, kF64), gen);
}

at::Tensor random_spd(int64_t k, int64_t d, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Tensor a = torch::randn({k, d, d}, gen, kF64);
  return a.matmul(a.transpose(1, 2)) + 0.5 * torch::eye(d, kF64);
}

// A posterior that no M-step produced, so the ELBO checks cover arbitrary q.
GmmPosterior arbitrary_posterior(int64_t d, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return {torch::tensor({4.0, 6.5, 3.0}, kF64), torch::tensor({2.0, 5.0, 3.5}, kF64),
          torch::randn({3, d}, gen, kF64), random_spd(3, d, seed + 1),
          torch::tensor({d + 2.0, d + 4.5, d + 3.0}, kF64)};
}

GmmPrior arbitrary_prior(int64_t d, uint64_t seed) {
  GmmPrior p;
  p.alpha0 = 0.7;
  p.beta0 = 0.6;
  p.nu0 = d + 1.5;
  p.m0 = torch::randn({d}, at::make_generator<at::CPUGeneratorImpl>(seed), kF64);
  p.w0_inv = random_spd(1, d, seed + 1)[0];
  return p;
}

bool all_finite(const at::Tensor& t) { return torch::isfinite(t).all().item<bool>(); }

// ---- CAVI ---------------------------------------------------------------------------------------

TEST(Gmm, ElboNeverDecreases) {
  // Each E-step maximises the ELBO in q(Z) and each M-step in q(π, μ, Λ) exactly, so the bound
  // cannot fall. In float64 it is a sum of ~N·K terms of size ~|L|/N, whose rounding is far below
  // 1e-10·|L|: a drop larger than that is a wrong update, not rounding.
  const std::vector<std::pair<Sample, int64_t>> cases = {{draw(three_clusters(), 600, 1), 3},
                                                         {draw(three_clusters(), 600, 2), 5},
                                                         {draw(overlapping_3d(), 500, 3), 2},
                                                         {draw(overlapping_3d(), 500, 4), 4}};
  for (const auto& [sample, k] : cases)
    for (uint64_t seed : {0, 1, 2}) {
      GmmFitOptions o;
      o.components = k;
      o.max_iter = 80;
      o.tol = 0;
      o.seed = seed;
      GmmFit fit = fit_gmm(sample.x, o);
      ASSERT_EQ(fit.elbo.size(), 80u);
      for (size_t t = 1; t < fit.elbo.size(); ++t)
        ASSERT_GE(fit.elbo[t], fit.elbo[t - 1] - 1e-10 * std::abs(fit.elbo[t]))
            << "K = " << k << ", seed " << seed << ", sweep " << t + 1;
    }
  // From random soft responsibilities too (no k-means start).
  Sample s = draw(overlapping_3d(), 300, 5);
  GmmFitOptions o;
  o.components = 3;
  o.max_iter = 80;
  o.tol = 0;
  GmmFit fit = fit_gmm(s.x, o, random_resp(300, 3, 6));
  for (size_t t = 1; t < fit.elbo.size(); ++t)
    ASSERT_GE(fit.elbo[t], fit.elbo[t - 1] - 1e-10 * std::abs(fit.elbo[t])) << "sweep " << t + 1;
}

TEST(Gmm, RecoversWellSeparatedClusters) {
  const Mixture truth = three_clusters();
  const int64_t n = 3000;
  Sample s = draw(truth, n, 7);
  GmmFitOptions o;
  o.components = 3;
  GmmFit fit = fit_gmm(s.x, o);
  EXPECT_TRUE(fit.converged);
  EXPECT_TRUE(fit.collapsed.empty());
  for (int64_t j = 0; j < 3; ++j) {
    SCOPED_TRACE("true component " + std::to_string(j));
    const int64_t k = (fit.means - truth.means[j]).norm(2, 1).argmin().item<int64_t>();
    // Standard errors with N_j >= 600 points: weight ≤ 0.01, mean ≤ 0.06, covariance entry
    // ≤ 0.12 (σ² √(2/N_j)); the tolerances are about 4 of them. The prior's pull
    // (β₀ = 1, W₀⁻¹ = data covariance over ν₀ + N_j) is below 0.07 on each covariance entry.
    EXPECT_NEAR(fit.weights[k].item<double>(), truth.weights[j], 0.04);
    EXPECT_LT((fit.means[k] - truth.means[j]).abs().max().item<double>(), 0.25);
    EXPECT_LT((fit.covariances[k] - truth.covs[j]).abs().max().item<double>(), 0.5);
    // Every point of cluster j goes to component k (the clusters are > 5σ apart).
    const at::Tensor mine = s.labels.eq(j);
    const at::Tensor assigned = fit.log_resp.argmax(1).index({mine});
    EXPECT_TRUE(assigned.eq(k).all().item<bool>());
  }
}

TEST(Gmm, SurplusComponentsCollapseAndAreReported) {
  // K = 6 on two clusters: with α₀ = 1/K < 1 the Dirichlet prior switches the surplus
  // components off (PRML §10.2.1, Fig. 10.6); they are listed, and every output stays finite.
  const Mixture two{{0.5, 0.5},
                    torch::tensor({{-4.0, 0.0}, {4.0, 1.0}}, kF64),
                    torch::stack({0.5 * torch::eye(2, kF64), torch::eye(2, kF64)})};
  Sample s = draw(two, 400, 8);
  GmmFitOptions o;
  o.components = 6;
  o.max_iter = 1000;
  o.tol = 1e-9;
  GmmFit fit = fit_gmm(s.x, o);
  EXPECT_TRUE(fit.converged) << fit.iterations;
  EXPECT_EQ(fit.collapsed.size(), 4u);
  for (const at::Tensor& t :
       {fit.weights, fit.means, fit.covariances, fit.log_resp, fit.posterior.alpha,
        fit.posterior.beta, fit.posterior.nu, fit.posterior.w_inv, torch::tensor(fit.elbo, kF64)})
    EXPECT_TRUE(all_finite(t));
  double kept = 0;
  for (int64_t k = 0; k < 6; ++k) {
    const bool collapsed =
        std::find(fit.collapsed.begin(), fit.collapsed.end(), k) != fit.collapsed.end();
    if (collapsed)
      EXPECT_LT(fit.weights[k].item<double>(), 1e-3);  // α₀ / (K α₀ + N) ≈ 4e-4
    else
      kept += fit.weights[k].item<double>();
  }
  EXPECT_GT(kept, 0.998);
}

TEST(Gmm, EmptyComponentFallsBackToThePrior) {
  // A column of exact zeros: N_k = 0 gives q(μ_k, Λ_k) = the prior and q's α_k = α₀, to rounding
  // (scikit-learn's N_k + 10·eps guard keeps x̄_k finite), and the E-step and ELBO stay finite.
  Sample s = draw(three_clusters(), 200, 9);
  at::Tensor resp = torch::cat({random_resp(200, 2, 10), torch::zeros({200, 1}, kF64)}, 1);
  GmmPrior p = gmm_resolve_prior(s.x, 3);
  GmmPosterior q = gmm_m_step(s.x, resp, p);
  EXPECT_NEAR(q.alpha[2].item<double>(), p.alpha0, 1e-12);
  EXPECT_NEAR(q.beta[2].item<double>(), p.beta0, 1e-12);
  EXPECT_NEAR(q.nu[2].item<double>(), p.nu0, 1e-12);
  EXPECT_TRUE(torch::allclose(q.m[2], p.m0, 0, 1e-12));
  EXPECT_TRUE(torch::allclose(q.w_inv[2], p.w0_inv, 1e-12, 1e-12));
  EXPECT_TRUE(all_finite(gmm_e_step(s.x, q)));
  EXPECT_TRUE(std::isfinite(gmm_elbo(s.x, resp, q, p).total()));
}

TEST(Gmm, KmeansStartIsDeterministicInTheSeed) {
  Sample s = draw(overlapping_3d(), 300, 11);
  GmmFitOptions o;
  o.components = 3;
  o.seed = 4;
  GmmFit a = fit_gmm(s.x, o), b = fit_gmm(s.x, o);
  EXPECT_TRUE(a.means.equal(b.means));
  EXPECT_EQ(a.elbo, b.elbo);
  at::Tensor r = gmm_kmeans_resp(s.x, 3, 4);
  EXPECT_TRUE(r.sum(1).eq(1).all().item<bool>());
  EXPECT_TRUE(r.equal(gmm_kmeans_resp(s.x, 3, 4)));
}

// ---- the closed-form ELBO ---------------------------------------------------------------------

// ln B(W, ν) (PRML B.79) from W itself.
double log_wishart_b(const at::Tensor& w, double nu) {
  const int64_t d = w.size(0);
  double sum = 0;
  for (int64_t i = 1; i <= d; ++i) sum += std::lgamma((nu + 1 - i) / 2);
  return -nu / 2 * torch::logdet(w).item<double>() - nu * d / 2 * std::log(2.0) -
         d * (d - 1) / 4.0 * kLogPi - sum;
}

double log_dirichlet_c(const std::vector<double>& a) {
  double total = 0, sum = 0;
  for (double v : a) total += v, sum += std::lgamma(v);
  return std::lgamma(total) - sum;
}

// PRML (10.71)–(10.77) transcribed as printed, with N_k, x̄_k, S_k (10.51–10.53), explicit
// inverses and scalar loops: an implementation independent of gmm_elbo's.
GmmElbo textbook_elbo(const at::Tensor& x, const at::Tensor& r, const GmmPosterior& q,
                      const GmmPrior& p) {
  const int64_t k_count = r.size(1), d = x.size(1);
  GmmElbo e;
  const double alpha_hat = q.alpha.sum().item<double>();
  std::vector<double> alphas;
  double sum_log_pi = 0;
  const at::Tensor w0_inv = p.w0_inv;
  for (int64_t k = 0; k < k_count; ++k) {
    const double alpha = q.alpha[k].item<double>(), beta = q.beta[k].item<double>();
    const double nu = q.nu[k].item<double>();
    const at::Tensor w = torch::inverse(q.w_inv[k]);
    const at::Tensor rk = r.select(1, k);
    const double nk = rk.sum().item<double>();
    const at::Tensor xbar = (rk.unsqueeze(1) * x).sum(0) / nk;
    const at::Tensor diff = x - xbar;
    const at::Tensor sk = (rk.unsqueeze(1) * diff).t().matmul(diff) / nk;
    double ln_lambda = d * std::log(2.0) + torch::logdet(w).item<double>();  // (10.65)
    for (int64_t i = 1; i <= d; ++i)
      ln_lambda += torch::digamma(torch::tensor((nu + 1 - i) / 2.0, kF64)).item<double>();
    const double ln_pi = torch::digamma(torch::tensor(alpha, kF64)).item<double>() -
                         torch::digamma(torch::tensor(alpha_hat, kF64)).item<double>();  // (10.66)
    const at::Tensor dx = xbar - q.m[k], dm = q.m[k] - p.m0;
    e.log_p_x += 0.5 * nk *
                 (ln_lambda - d / beta - nu * torch::trace(sk.matmul(w)).item<double>() -
                  nu * dx.dot(w.mv(dx)).item<double>() - d * kLog2Pi);  // (10.71)
    e.log_p_z += nk * ln_pi;                                            // (10.72)
    sum_log_pi += ln_pi;
    e.log_p_mu_lambda +=
        0.5 * (d * std::log(p.beta0 / (2 * M_PI)) + ln_lambda - d * p.beta0 / beta -
               p.beta0 * nu * dm.dot(w.mv(dm)).item<double>()) +
        log_wishart_b(torch::inverse(w0_inv), p.nu0) + (p.nu0 - d - 1) / 2 * ln_lambda -
        0.5 * nu * torch::trace(w0_inv.matmul(w)).item<double>();  // (10.74)
    e.log_q_pi += (alpha - 1) * ln_pi;                             // (10.76)
    const double entropy = -log_wishart_b(w, nu) - (nu - d - 1) / 2 * ln_lambda + nu * d / 2;
    e.log_q_mu_lambda +=
        0.5 * ln_lambda + d / 2.0 * std::log(beta / (2 * M_PI)) - d / 2.0 - entropy;  // (10.77)
    alphas.push_back(alpha);
  }
  e.log_p_pi = log_dirichlet_c(std::vector<double>(k_count, p.alpha0)) +
               (p.alpha0 - 1) * sum_log_pi;        // (10.73)
  e.log_q_z = (r * r.log()).sum().item<double>();  // (10.75), r > 0 here
  e.log_q_pi += log_dirichlet_c(alphas);
  return e;
}

TEST(GmmElbo, MatchesTheTextbookTermByTerm) {
  for (int64_t d : {1, 2, 3}) {
    SCOPED_TRACE("D = " + std::to_string(d));
    at::Tensor x = torch::randn({40, d}, at::make_generator<at::CPUGeneratorImpl>(20 + d), kF64);
    at::Tensor r = random_resp(40, 3, 30 + d);
    GmmPrior p = arbitrary_prior(d, 40 + d);
    for (const GmmPosterior& q : {arbitrary_posterior(d, 50 + d), gmm_m_step(x, r, p)}) {
      GmmElbo a = gmm_elbo(x, r, q, p), b = textbook_elbo(x, r, q, p);
      // Same sums in a different order and with inverses instead of Cholesky solves.
      auto close = [](double u, double v) { return std::abs(u - v) <= 1e-9 * (1 + std::abs(v)); };
      EXPECT_PRED2(close, a.log_p_x, b.log_p_x);
      EXPECT_PRED2(close, a.log_p_z, b.log_p_z);
      EXPECT_PRED2(close, a.log_p_pi, b.log_p_pi);
      EXPECT_PRED2(close, a.log_p_mu_lambda, b.log_p_mu_lambda);
      EXPECT_PRED2(close, a.log_q_z, b.log_q_z);
      EXPECT_PRED2(close, a.log_q_pi, b.log_q_pi);
      EXPECT_PRED2(close, a.log_q_mu_lambda, b.log_q_mu_lambda);
    }
  }
}

// log N(v; mean, (s Λ)⁻¹) for v, mean (S, D), Λ (S, D, D).
at::Tensor log_normal_precision(const at::Tensor& v, const at::Tensor& mean,
                                const at::Tensor& lambda, double s) {
  const int64_t d = v.size(1);
  const at::Tensor diff = (v - mean).unsqueeze(2);
  const at::Tensor quad = diff.transpose(1, 2).matmul(lambda).matmul(diff).view({-1});
  return 0.5 * (d * (std::log(s) - kLog2Pi) + torch::logdet(lambda) - s * quad);
}

// log W(Λ; W, ν) for Λ (S, D, D) (PRML B.78).
at::Tensor log_wishart(const at::Tensor& lambda, const at::Tensor& w, double nu) {
  const int64_t d = w.size(0);
  return log_wishart_b(w, nu) + (nu - d - 1) / 2 * torch::logdet(lambda) -
         0.5 * torch::inverse(w).matmul(lambda).diagonal(0, 1, 2).sum(1);
}

at::Tensor log_dirichlet(const at::Tensor& pi, const at::Tensor& a) {
  return torch::lgamma(a.sum()) - torch::lgamma(a).sum() + ((a - 1) * pi.log()).sum(1);
}

TEST(GmmElbo, ClosedFormMatchesMonteCarlo) {
  // ELBO = E_q[log p(X, Z, π, μ, Λ) − log q(Z, π, μ, Λ)]; Z is summed exactly, (π, μ, Λ) are
  // drawn from q: π ~ Dir(α), Λ_k ~ W(W_k, ν_k) by Bartlett's decomposition, μ_k ~ N(m_k,
  // (β_k Λ_k)⁻¹). 200k draws in float64, N = 10 points; the closed form must lie within 5
  // standard errors.
  const int64_t d = 2, n = 10, draws = 200000, kk = 3;
  at::Tensor x = torch::randn({n, d}, at::make_generator<at::CPUGeneratorImpl>(60), kF64);
  at::Tensor r = random_resp(n, kk, 61);
  GmmPrior p = arbitrary_prior(d, 62);
  GmmPosterior q = arbitrary_posterior(d, 63);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(64);
  at::Tensor pi = at::_sample_dirichlet(q.alpha.expand({draws, kk}).contiguous(), gen);
  at::Tensor terms = log_dirichlet(pi, torch::full({kk}, p.alpha0, kF64)) -
                     log_dirichlet(pi, q.alpha) - (r * r.log()).sum();
  at::Tensor log_lik = torch::zeros({draws, n}, kF64);
  for (int64_t k = 0; k < kk; ++k) {
    const double nu = q.nu[k].item<double>(), beta = q.beta[k].item<double>();
    const at::Tensor w = torch::inverse(q.w_inv[k]);
    // Bartlett: A lower triangular, A_ii² ~ χ²(ν − i + 1), A_ij ~ N(0, 1) below the diagonal.
    at::Tensor a = torch::randn({draws, d, d}, gen, kF64).tril(-1);
    const at::Tensor dof = (nu - torch::arange(d, kF64)).expand({draws, d}).contiguous();
    a = a + torch::diag_embed((2 * at::_standard_gamma(dof / 2, gen)).sqrt());
    const at::Tensor c = torch::linalg_cholesky(w).matmul(a);  // Λ = C Cᵀ
    const at::Tensor lambda = c.matmul(c.transpose(1, 2));
    const at::Tensor eps = torch::randn({draws, d, 1}, gen, kF64) / std::sqrt(beta);
    const at::Tensor mu =
        q.m[k] + torch::linalg_solve_triangular(c.transpose(1, 2), eps, true).squeeze(2);
    terms = terms + log_normal_precision(mu, p.m0.expand({draws, d}), lambda, p.beta0) +
            log_wishart(lambda, torch::inverse(p.w0_inv), p.nu0) -
            log_normal_precision(mu, q.m[k].expand({draws, d}), lambda, beta) -
            log_wishart(lambda, w, nu);
    for (int64_t i = 0; i < n; ++i) {
      const at::Tensor lp =
          pi.select(1, k).log() + log_normal_precision(x[i].expand({draws, d}), mu, lambda, 1.0);
      log_lik.select(1, i).add_(r[i][k].item<double>() * lp);
    }
  }
  terms = terms + log_lik.sum(1);
  const double se = terms.std().item<double>() / std::sqrt(static_cast<double>(draws));
  std::printf("[ MC ] closed form %.4f, Monte Carlo %.4f, standard error %.4f\n",
              gmm_elbo(x, r, q, p).total(), terms.mean().item<double>(), se);
  // 5 standard errors are about 0.35 nats; a dropped constant such as the K D(D−1)/4 ln π of
  // the Wishart normalisers (1.7 nats here) or a wrong D/β_k term (>= 1 nat) would show.
  ASSERT_LT(se, 0.1);
  EXPECT_NEAR(terms.mean().item<double>(), gmm_elbo(x, r, q, p).total(), 5 * se);
}

// ---- scikit-learn ------------------------------------------------------------------------------

const char* kSystemPython = "/usr/bin/python3";

bool have_sklearn() {
  return std::system(
             (std::string(kSystemPython) + " -c 'import sklearn' > /dev/null 2>&1").c_str()) == 0;
}

nlohmann::json to_json(const at::Tensor& t) {
  const at::Tensor c = t.to(torch::kDouble).contiguous();
  if (c.dim() == 1)
    return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
  nlohmann::json rows = nlohmann::json::array();
  for (int64_t i = 0; i < c.size(0); ++i) rows.push_back(to_json(c[i]));
  return rows;
}

at::Tensor from_json(const nlohmann::json& j) {
  if (!j.is_array() || j.empty() || !j[0].is_array())
    return torch::tensor(j.get<std::vector<double>>(), kF64);
  std::vector<at::Tensor> rows;
  for (const auto& row : j) rows.push_back(from_json(row));
  return torch::stack(rows);
}

// Runs tests/vi/gmm_sklearn.py on the data, responsibilities and prior; its JSON answer.
nlohmann::json run_sklearn(const at::Tensor& x, const at::Tensor& resp, int64_t iterations,
                           const nlohmann::json& prior) {
  testing::TempDir dir;
  const std::string input = dir.file("input.json");
  nlohmann::json spec{{"X", to_json(x)}, {"resp", to_json(resp)}, {"iterations", iterations}};
  if (!prior.is_null()) spec["prior"] = prior;
  std::ofstream(input) << spec.dump();  // shortest round-trip doubles: Python reads them exactly
  const std::string command = std::string(kSystemPython) + " '" + DEEPGEN_SOURCE_DIR +
                              "/tests/vi/gmm_sklearn.py' '" + input + "'";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return {};
  std::string out;
  char buf[4096];
  for (size_t got; (got = fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, got);
  const int status = pclose(pipe);
  EXPECT_EQ(status, 0) << out;
  return nlohmann::json::parse(out, nullptr, false);
}

double max_rel_diff(const at::Tensor& a, const at::Tensor& b) {
  return ((a - b).abs() / (1 + b.abs())).max().item<double>();
}

// L_full − L_sklearn. scikit-learn's lower bound, taken right after the M-step, drops the terms
// that do not depend on q: −(ND/2) ln 2π + K ln B(W₀, ν₀) + (KD/2) ln β₀ + ln C(α₀ 1_K)
// + K D(D−1)/4 ln π (its Wishart normaliser also omits the ln π term).
double sklearn_offset(const GmmPrior& p, int64_t n, int64_t k, int64_t d) {
  return -0.5 * n * d * kLog2Pi + k * log_wishart_b(torch::inverse(p.w0_inv), p.nu0) +
         0.5 * k * d * std::log(p.beta0) + log_dirichlet_c(std::vector<double>(k, p.alpha0)) +
         k * d * (d - 1) / 4.0 * kLogPi;
}

void expect_matches_sklearn(const at::Tensor& x, const at::Tensor& resp, const GmmPrior& prior,
                            const nlohmann::json& sklearn_prior, int64_t iterations) {
  const int64_t k = resp.size(1);
  nlohmann::json sk = run_sklearn(x, resp, iterations, sklearn_prior);
  ASSERT_TRUE(sk.is_object());
  GmmFitOptions o;
  o.components = k;
  o.max_iter = iterations;
  o.tol = 0;  // run every sweep, as the script does
  o.prior = prior;
  GmmFit fit = fit_gmm(x, o, resp);
  ASSERT_EQ(fit.iterations, iterations);
  // Same formulas, different summation order and factorisations: agreement to ~1e-12 per sweep;
  // 1e-8 relative (to 1 + |value|) leaves room for growth over the sweeps.
  const double tol = 1e-8;
  const double d_weights = max_rel_diff(fit.weights, from_json(sk["weights"]));
  const double d_means = max_rel_diff(fit.means, from_json(sk["means"]));
  const double d_covs = max_rel_diff(fit.covariances, from_json(sk["covariances"]));
  const double d_alpha = max_rel_diff(fit.posterior.alpha, from_json(sk["alpha"]));
  const double d_beta = max_rel_diff(fit.posterior.beta, from_json(sk["beta"]));
  const double d_nu = max_rel_diff(fit.posterior.nu, from_json(sk["nu"]));
  EXPECT_LT(d_weights, tol);
  EXPECT_LT(d_means, tol);
  EXPECT_LT(d_covs, tol);
  EXPECT_LT(d_alpha, tol);
  EXPECT_LT(d_beta, tol);
  EXPECT_LT(d_nu, tol);
  const double offset = sklearn_offset(fit.prior, x.size(0), k, x.size(1));
  const auto bounds = sk["lower_bounds"].get<std::vector<double>>();
  ASSERT_EQ(bounds.size(), fit.elbo.size());
  double d_elbo = 0;
  for (size_t t = 0; t < bounds.size(); ++t)
    d_elbo = std::max(d_elbo, std::abs(fit.elbo[t] - (bounds[t] + offset)) / std::abs(fit.elbo[t]));
  EXPECT_LT(d_elbo, 1e-10);
  std::printf(
      "[ sklearn %s ] max rel diff: weights %.2e means %.2e covariances %.2e alpha %.2e "
      "beta %.2e nu %.2e; ELBO − (lower bound + offset) %.2e\n",
      sk.value("sklearn", "?").c_str(), d_weights, d_means, d_covs, d_alpha, d_beta, d_nu, d_elbo);
}

TEST(GmmSklearn, DefaultPriorsSameUpdates) {
  if (!have_sklearn()) GTEST_SKIP() << kSystemPython << " cannot import sklearn (python3-sklearn)";
  Sample s = draw(three_clusters(), 300, 70);
  // Soft random responsibilities for K = 4 on 3 clusters: the run has real work to do.
  expect_matches_sklearn(s.x, random_resp(300, 4, 71), GmmPrior{}, nullptr, 25);
}

TEST(GmmSklearn, ExplicitPriorsAndAnEmptyComponent) {
  if (!have_sklearn()) GTEST_SKIP() << kSystemPython << " cannot import sklearn (python3-sklearn)";
  Sample s = draw(overlapping_3d(), 250, 72);
  at::Tensor resp = torch::cat({random_resp(250, 3, 73), torch::zeros({250, 1}, kF64)}, 1);
  GmmPrior p = arbitrary_prior(3, 74);
  nlohmann::json sp{{"alpha0", p.alpha0},
                    {"beta0", p.beta0},
                    {"nu0", p.nu0},
                    {"m0", to_json(p.m0)},
                    {"w0_inv", to_json(p.w0_inv)}};
  expect_matches_sklearn(s.x, resp, p, sp, 40);
}

// ---- errors ------------------------------------------------------------------------------------

void expect_error(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Gmm, BadInputIsAnError) {
  at::Tensor x = torch::randn({10, 2}, kF64);
  auto fit_k = [&](int64_t k, const at::Tensor& data) {
    GmmFitOptions o;
    o.components = k;
    return [=] { fit_gmm(data, o); };
  };
  expect_error(fit_k(0, x), "components must be >= 1");
  expect_error(fit_k(11, x), "exceed the number of points (10)");
  expect_error(fit_k(2, torch::randn({10}, kF64)), "(N, D)");
  expect_error(fit_k(2, torch::randn({2, 3, 4}, kF64)), "(N, D)");
  at::Tensor bad = x.clone();
  bad[3][1] = NAN;
  expect_error(fit_k(2, bad), "NaN");
  at::Tensor flat = x.clone();
  flat.select(1, 1).fill_(3.0);  // constant coordinate: singular default W₀⁻¹
  expect_error(fit_k(2, flat), "w0_inv");
  GmmFitOptions o;
  o.components = 2;
  expect_error([&] { fit_gmm(x, o, torch::full({10, 2}, 0.3, kF64)); }, "sum to 1");
  expect_error([&] { fit_gmm(x, o, torch::full({10, 3}, 1 / 3.0, kF64)); }, "columns");
  expect_error([&] { fit_gmm(x, o, torch::full({9, 2}, 0.5, kF64)); }, "N = 10");
  o.prior.nu0 = 0.5;
  expect_error([&] { fit_gmm(x, o); }, "nu0 must be > D - 1");
  o.prior.nu0 = 0;
  o.max_iter = 0;
  expect_error([&] { fit_gmm(x, o); }, "max_iter");
  expect_error(
      [&] {
        gmm_m_step(x, torch::full({10, 2}, 0.5, kF64), GmmPrior{});
      },
      "gmm_resolve_prior");
}

}  // namespace
}  // namespace deepgen::vi
