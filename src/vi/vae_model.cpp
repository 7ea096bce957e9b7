// VaeModel: the VAE behind the shared trainer and the CLI (losses, evaluation, samples).
#include <cmath>
#include <limits>

#include "deepgen/core/error.h"
#include "deepgen/data/transforms.h"
#include "deepgen/vi/bounds.h"
#include "deepgen/vi/vae.h"

namespace deepgen::vi {

namespace {

bool is_image(const std::vector<int64_t>& shape) { return shape.size() == 3; }

}  // namespace

at::Tensor VaeModel::likelihood_input(const at::Tensor& x) const {
  const auto& o = vae_->options();
  if (o.likelihood() != "bernoulli") return x;
  if (o.binarize() == "dynamic") return data::binarize_dynamic(x);
  return o.binarize() == "threshold" ? data::binarize_static(x) : x;
}

// β·min(1, (step+1)/warm-up): the KL weight rises linearly (Bowman et al. 2016, Sønderby et al.
// 2016) so the decoder learns to use z before the KL term pulls q onto the prior.
double VaeModel::kl_weight(int64_t step) const {
  const auto& o = vae_->options();
  if (o.kl_warmup() <= 0) return o.beta();
  return o.beta() * std::min(1.0, static_cast<double>(step + 1) / o.kl_warmup());
}

train::LossOutput VaeModel::loss(const at::Tensor& x) {
  return train_loss({x, {}, std::numeric_limits<int64_t>::max() - 1});
}

train::LossOutput VaeModel::train_loss(const train::TrainBatch& batch) {
  const auto& o = vae_->options();
  if (o.inference() == "full" && batch.index.defined() && batch.index.size(0) != o.num_points())
    throw Error("vae: " + option_ref("vae", "inference") +
                " full is variational EM, every step on all " + std::to_string(o.num_points()) +
                " training examples: use " + option_ref("train", "batch") + " " +
                std::to_string(o.num_points()) + " (or " + option_ref("vae", "inference") +
                " svi for minibatches)");
  const at::Tensor x = likelihood_input(batch.x);
  const at::Tensor labels = classes() > 0 ? batch.labels : at::Tensor();
  auto [mu, logvar] = vae_->posterior(x, batch.index, labels);
  if (o.objective() == "iwae") {
    at::Tensor bound = log_mean_exp(vae_->log_weights(x, mu, logvar, o.k(), labels)).mean();
    return {-bound, {{"neg_iwae", -bound.detach()}}};
  }
  // The batch mean of −ELBO_i: (1/N)·(N/B)Σ_batch, an unbiased estimate of the full-data
  // objective divided by the constant N, so per-example nats are logged in every mode.
  NegElbo t = vae_->negative_elbo(x, mu, logvar, o.k(), labels);
  at::Tensor recon = t.recon.mean(), kl = t.kl.mean();
  const double w = kl_weight(batch.step);
  train::LossOutput out{recon + w * kl, {{"recon", recon.detach()}, {"kl", kl.detach()}}};
  if (o.kl_warmup() > 0) out.parts.emplace_back("kl_weight", torch::full({}, w));
  if (o.likelihood() == "gaussian")
    out.parts.emplace_back("sigma", vae_->log_sigma().exp().detach().squeeze());
  return out;
}

void VaeModel::after_step(const train::TrainBatch& /*batch*/) {
  if (!vae_->amortized()) vae_->local()->step(vae_->options().local_lr(), {});
}

std::pair<at::Tensor, at::Tensor> VaeModel::refine(const at::Tensor& x, const at::Tensor& mu,
                                                   const at::Tensor& logvar,
                                                   const at::Tensor& labels) {
  auto neg_elbo = [&](const at::Tensor& m, const at::Tensor& lv) {
    return vae_->negative_elbo(x, m, lv, 1, labels).total().sum();
  };
  return fit_local_posterior(neg_elbo, mu, logvar, eval_.refine_steps, eval_.refine_lr);
}

std::pair<at::Tensor, at::Tensor> VaeModel::test_posterior(const at::Tensor& x,
                                                           const at::Tensor& labels) {
  if (vae_->amortized()) return vae_->encode(x, labels);
  const at::Tensor zeros = torch::zeros({x.size(0), vae_->options().latent()}, x.options());
  return refine(x, zeros, zeros, labels);
}

train::LossOutput VaeModel::evaluate(const at::Tensor& x) { return bounds(x, {}); }

train::LossOutput VaeModel::test_loss(const train::TrainBatch& batch) {
  return bounds(batch.x, classes() > 0 ? batch.labels : at::Tensor());
}

train::LossOutput VaeModel::bounds(const at::Tensor& x_raw, const at::Tensor& labels) {
  const at::Tensor x = likelihood_input(x_raw);
  auto [mu, logvar] = test_posterior(x, labels);
  NegElbo t = vae_->negative_elbo(x, mu, logvar, 1, labels);
  at::Tensor recon = t.recon.mean(), kl = t.kl.mean();
  train::LossOutput out{recon + kl, {{"neg_elbo", recon + kl}, {"recon", recon}, {"kl", kl}}};
  // The discretised decoder's bounds are on −log P(x) of the 8-bit image: also per bit and pixel.
  const bool per_bit = vae_->options().likelihood() == "logistic";
  const double bits = 1.0 / (static_cast<double>(x[0].numel()) * std::log(2.0));
  if (per_bit) out.parts.emplace_back("bpd", (recon + kl) * bits);
  if (eval_.iwae_k > 0) {
    const int64_t chunk = std::max<int64_t>(1, eval_.iwae_rows / x.size(0));
    auto weights = [&](int64_t n) { return vae_->log_weights(x, mu, logvar, n, labels); };
    const at::Tensor nll = -iwae_bound(weights, eval_.iwae_k, chunk).mean();
    out.parts.emplace_back("iwae_nll", nll);
    if (per_bit) out.parts.emplace_back("iwae_bpd", nll * bits);
  }
  if (eval_.amortization_gap && vae_->amortized()) {
    const at::Tensor encoder =
        vae_->negative_elbo(x, mu, logvar, eval_.gap_samples, labels).total();
    auto [mu2, logvar2] = refine(x, mu, logvar, labels);
    const at::Tensor refined =
        vae_->negative_elbo(x, mu2, logvar2, eval_.gap_samples, labels).total();
    out.parts.emplace_back("neg_elbo_encoder", encoder.mean());
    out.parts.emplace_back("neg_elbo_refined", refined.mean());
    out.parts.emplace_back("amortization_gap", (encoder - refined).mean());
  }
  return out;
}

at::Tensor VaeModel::to_sample(const at::Tensor& decoded) {
  const auto& o = vae_->options();
  if (o.likelihood() != "gaussian" || is_image(o.data_shape())) return vae_->mean_image(decoded);
  return decoded + vae_->log_sigma().exp() * torch::randn_like(decoded);
}

at::Tensor VaeModel::sample(int64_t n) {
  if (classes() > 0)
    return sample_classes(nn::uniform_labels(n, classes(), vae_->log_sigma().device()), 0.0);
  return to_sample(vae_->decode(vae_->sample_prior(n)));
}

// x ~ p(x|z,y) with z ~ p(z) = N(0, I): the prior does not depend on y (Sohn et al. 2015's
// CVAE with a fixed prior).
at::Tensor VaeModel::sample_classes(const at::Tensor& labels, double guidance) {
  if (classes() == 0) return GenerativeModel::sample_classes(labels, guidance);
  if (guidance != 0.0)
    throw Error(
        "vae: a vae has no classifier-free guidance (it is not trained with an "
        "unconditional half): sample with --guidance 0");
  nn::check_labels(labels, classes());
  return to_sample(vae_->decode(vae_->sample_prior(labels.size(0)), labels));
}

at::Tensor VaeModel::reconstruct(const at::Tensor& x) {
  if (classes() > 0) return {};
  const at::Tensor mu =
      vae_->amortized() ? vae_->encode(x).first : test_posterior(likelihood_input(x)).first;
  return vae_->mean_image(vae_->decode(mu));
}

}  // namespace deepgen::vi

namespace deepgen::vi {

std::string VaeModel::data_parallel_blocker() const {
  if (vae_->amortized()) return {};
  return option_ref("vae", "inference") + " " + vae_->options().inference() +
         " keeps a q for every training example in buffers that each rank would update for its "
         "own rows only; train it in one process, or use " +
         option_ref("vae", "inference") + " amortized";
}

}  // namespace deepgen::vi
