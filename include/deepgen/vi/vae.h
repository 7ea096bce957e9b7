#pragma once
// The VAE of MATH.md 1.4 (Kingma & Welling 2014): q(z|x) = N(mu(x), diag σ²(x)), p(z) = N(0, I),
// p(x|z) Gaussian N(f(z), σ²I) (σ fixed or learned) or Bernoulli(sigmoid(f(z))).
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <utility>
#include <vector>

#include "deepgen/nn/mlp.h"
#include "deepgen/train/model.h"

namespace deepgen::vi {

struct VaeOptions {
  explicit VaeOptions(std::vector<int64_t> data_shape = {1, 28, 28})
      : data_shape_(std::move(data_shape)) {}
  TORCH_ARG(std::vector<int64_t>, data_shape);  // one sample, e.g. {1, 28, 28} or {2}
  TORCH_ARG(std::vector<int64_t>, hidden) = std::vector<int64_t>{400};
  TORCH_ARG(int64_t, latent) = 20;
  TORCH_ARG(std::string, activation) = "relu";
  TORCH_ARG(std::string, likelihood) = "gaussian";  // gaussian | bernoulli
  // Gaussian decoder std σ: > 0 fixes it; 0 learns one shared σ (started at sigma_init).
  TORCH_ARG(double, sigma) = 0.0;
  TORCH_ARG(double, sigma_init) = 0.1;
  // Gaussian decoder mean: sigmoid keeps it in [0, 1] (images); identity for unbounded data.
  TORCH_ARG(std::string, mean_activation) = "sigmoid";
  TORCH_ARG(double, beta) = 1.0;                 // weight of the KL term in the training loss
  TORCH_ARG(bool, dynamic_binarization) = true;  // bernoulli: resample binary pixels per batch
};

// JSON of every option (saved in the run's config.json) and back; unknown keys are an error.
std::string to_json(const VaeOptions& options);
VaeOptions vae_options_from_json(const std::string& json, std::vector<int64_t> data_shape);
void validate(const VaeOptions& options);

// Per-example terms of the negative ELBO, summed over data / latent dimensions.
struct NegElbo {
  at::Tensor recon;  // −log p(x|z), one z ~ q(z|x) per example
  at::Tensor kl;     // KL(q(z|x) || p(z)), closed form
  at::Tensor total() const { return recon + kl; }
};

class VaeImpl : public torch::nn::Module {
 public:
  explicit VaeImpl(VaeOptions options);
  // (mu, log σ²) of q(z|x), each (B, latent).
  std::pair<at::Tensor, at::Tensor> encode(const at::Tensor& x);
  // Decoder output in data shape: the Gaussian mean, or the Bernoulli logits.
  at::Tensor decode(const at::Tensor& z);
  // log p(x|z) per example from the decoder output of z.
  at::Tensor log_likelihood(const at::Tensor& x, const at::Tensor& decoded);
  // −ELBO terms with z = mu + σ·eps (eps supplied, or drawn when undefined).
  NegElbo negative_elbo(const at::Tensor& x, const at::Tensor& eps = {});
  at::Tensor log_sigma() const;  // log σ of the Gaussian decoder
  const VaeOptions& options() const { return options_; }

 private:
  VaeOptions options_;
  int64_t dim_;
  nn::MLP encoder_{nullptr}, decoder_{nullptr};
  at::Tensor log_sigma_;
};
TORCH_MODULE(Vae);

class VaeModel : public train::GenerativeModel {
 public:
  explicit VaeModel(VaeOptions options) : vae_(std::move(options)) {}
  std::string name() const override { return "vae"; }
  torch::nn::Module& module() override { return *vae_; }
  train::LossOutput loss(const at::Tensor& x) override;
  train::LossOutput evaluate(const at::Tensor& x) override;
  // Images: the decoder's mean (or probabilities) of z ~ N(0, I); other data: x ~ p(x|z).
  at::Tensor sample(int64_t n) override;
  at::Tensor reconstruct(const at::Tensor& x) override;  // decoder mean at z = mu(x)
  Vae& vae() { return vae_; }

 private:
  at::Tensor likelihood_input(const at::Tensor& x) const;
  Vae vae_;
};

}  // namespace deepgen::vi
