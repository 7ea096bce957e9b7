#include "deepgen/vi/vae.h"

#include <nlohmann/json.hpp>

#include "deepgen/core/error.h"
#include "deepgen/data/transforms.h"
#include "deepgen/vi/gaussian.h"

namespace deepgen::vi {

namespace {

constexpr double kMinLogSigma = -6.9;  // σ ≥ 1e-3: a learned σ → 0 would make the bound diverge

int64_t numel(const std::vector<int64_t>& shape) { return c10::multiply_integers(shape); }

bool is_image(const std::vector<int64_t>& shape) { return shape.size() == 3; }

}  // namespace

void validate(const VaeOptions& o) {
  if (o.data_shape().empty() || numel(o.data_shape()) <= 0) throw Error("vae: empty data shape");
  if (o.latent() <= 0) throw Error("vae: --latent must be positive");
  for (int64_t h : o.hidden())
    if (h <= 0) throw Error("vae: --hidden sizes must be positive");
  nn::activate(o.activation(), torch::zeros({1}));  // throws on an unknown name
  if (o.likelihood() != "gaussian" && o.likelihood() != "bernoulli")
    throw Error("vae: unknown --likelihood '" + o.likelihood() + "': use gaussian or bernoulli");
  if (o.sigma() < 0) throw Error("vae: --sigma must be > 0 (fixed) or 0 (learned)");
  if (!(o.sigma_init() > 0)) throw Error("vae: sigma_init must be positive");
  if (o.mean_activation() != "sigmoid" && o.mean_activation() != "identity")
    throw Error("vae: mean_activation must be sigmoid or identity");
  if (!(o.beta() >= 0)) throw Error("vae: --beta must be >= 0");
}

std::string to_json(const VaeOptions& o) {
  nlohmann::json j{{"hidden", o.hidden()},
                   {"latent", o.latent()},
                   {"activation", o.activation()},
                   {"likelihood", o.likelihood()},
                   {"sigma", o.sigma()},
                   {"sigma_init", o.sigma_init()},
                   {"mean_activation", o.mean_activation()},
                   {"beta", o.beta()},
                   {"dynamic_binarization", o.dynamic_binarization()}};
  return j.dump();
}

VaeOptions vae_options_from_json(const std::string& text, std::vector<int64_t> data_shape) {
  VaeOptions o(std::move(data_shape));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.empty() ? "{}" : text);
    for (const auto& [key, value] : j.items()) {
      if (key == "hidden")
        o.hidden(value.get<std::vector<int64_t>>());
      else if (key == "latent")
        o.latent(value.get<int64_t>());
      else if (key == "activation")
        o.activation(value.get<std::string>());
      else if (key == "likelihood")
        o.likelihood(value.get<std::string>());
      else if (key == "sigma")
        o.sigma(value.get<double>());
      else if (key == "sigma_init")
        o.sigma_init(value.get<double>());
      else if (key == "mean_activation")
        o.mean_activation(value.get<std::string>());
      else if (key == "beta")
        o.beta(value.get<double>());
      else if (key == "dynamic_binarization")
        o.dynamic_binarization(value.get<bool>());
      else
        throw Error("vae: unknown option '" + key + "'");
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("vae options: ") + e.what());
  }
  validate(o);
  return o;
}

VaeImpl::VaeImpl(VaeOptions options) : options_(std::move(options)) {
  validate(options_);
  dim_ = numel(options_.data_shape());
  std::vector<int64_t> reversed(options_.hidden().rbegin(), options_.hidden().rend());
  encoder_ = register_module("encoder",
                             nn::MLP(nn::MLPOptions(dim_, options_.hidden(), 2 * options_.latent())
                                         .activation(options_.activation())));
  decoder_ = register_module(
      "decoder",
      nn::MLP(nn::MLPOptions(options_.latent(), reversed, dim_).activation(options_.activation())));
  const bool learned = options_.sigma() == 0.0;
  at::Tensor init =
      torch::full({1}, std::log(learned ? options_.sigma_init() : options_.sigma()), torch::kFloat);
  log_sigma_ = learned ? register_parameter("log_sigma", init) : register_buffer("log_sigma", init);
}

std::pair<at::Tensor, at::Tensor> VaeImpl::encode(const at::Tensor& x) {
  auto h = encoder_->forward(x.reshape({x.size(0), dim_})).chunk(2, 1);
  return {h[0], h[1]};
}

at::Tensor VaeImpl::decode(const at::Tensor& z) {
  std::vector<int64_t> shape{z.size(0)};
  shape.insert(shape.end(), options_.data_shape().begin(), options_.data_shape().end());
  at::Tensor out = decoder_->forward(z).reshape(shape);
  if (options_.likelihood() == "gaussian" && options_.mean_activation() == "sigmoid")
    out = torch::sigmoid(out);
  return out;
}

at::Tensor VaeImpl::log_sigma() const { return log_sigma_.clamp_min(kMinLogSigma); }

at::Tensor VaeImpl::log_likelihood(const at::Tensor& x, const at::Tensor& decoded) {
  at::Tensor ll = options_.likelihood() == "bernoulli"
                      ? bernoulli_log_prob(x, decoded)
                      : gaussian_log_prob(x, decoded, 2.0 * log_sigma());
  return ll.reshape({x.size(0), dim_}).sum(1);
}

NegElbo VaeImpl::negative_elbo(const at::Tensor& x, const at::Tensor& eps) {
  auto [mu, logvar] = encode(x);
  at::Tensor z = reparameterize(mu, logvar, eps.defined() ? eps : torch::randn_like(mu));
  return {-log_likelihood(x, decode(z)), kl_standard_normal(mu, logvar).sum(1)};
}

at::Tensor VaeModel::likelihood_input(const at::Tensor& x) const {
  const auto& o = vae_->options();
  if (o.likelihood() != "bernoulli") return x;
  return o.dynamic_binarization() ? data::binarize_dynamic(x) : data::binarize_static(x);
}

train::LossOutput VaeModel::loss(const at::Tensor& x) {
  NegElbo t = vae_->negative_elbo(likelihood_input(x));
  at::Tensor recon = t.recon.mean(), kl = t.kl.mean();
  train::LossOutput out{recon + vae_->options().beta() * kl,
                        {{"recon", recon.detach()}, {"kl", kl.detach()}}};
  if (vae_->options().likelihood() == "gaussian")
    out.parts.emplace_back("sigma", vae_->log_sigma().exp().detach().squeeze());
  return out;
}

train::LossOutput VaeModel::evaluate(const at::Tensor& x) {
  NegElbo t = vae_->negative_elbo(likelihood_input(x));
  at::Tensor recon = t.recon.mean(), kl = t.kl.mean();
  return {recon + kl, {{"neg_elbo", recon + kl}, {"recon", recon}, {"kl", kl}}};
}

at::Tensor VaeModel::sample(int64_t n) {
  const auto& o = vae_->options();
  at::Tensor z = torch::randn({n, o.latent()}, vae_->log_sigma().options());
  at::Tensor out = vae_->decode(z);
  if (o.likelihood() == "bernoulli") return torch::sigmoid(out);
  if (is_image(o.data_shape())) return out;
  return out + vae_->log_sigma().exp() * torch::randn_like(out);
}

at::Tensor VaeModel::reconstruct(const at::Tensor& x) {
  at::Tensor out = vae_->decode(vae_->encode(x).first);
  return vae_->options().likelihood() == "bernoulli" ? torch::sigmoid(out) : out;
}

}  // namespace deepgen::vi
