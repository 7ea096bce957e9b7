#pragma once
// A small model for trainer tests: a denoiser whose loss draws noise from the global generator,
// so exact resume needs the random state, the data order, the optimiser and the EMA all restored.
#include "deepgen/data/dataset.h"
#include "deepgen/nn/mlp.h"
#include "deepgen/train/model.h"

namespace deepgen::testing {

class ToyDenoiser : public train::GenerativeModel {
 public:
  // noise 0: a deterministic loss (data-parallel equivalence tests).
  explicit ToyDenoiser(int64_t dim = 3, double noise = 0.1)
      : net_(nn::MLPOptions(dim, {16}, dim).activation("tanh")), noise_(noise) {}
  std::string name() const override { return "toy"; }
  torch::nn::Module& module() override { return *net_; }
  train::LossOutput loss(const at::Tensor& x) override {
    ++calls_;
    at::Tensor noisy = x + noise_ * torch::randn_like(x);
    at::Tensor l = (net_->forward(noisy) - x).pow(2).mean();
    if (nan_at_call_ > 0 && calls_ == nan_at_call_)
      l = l * std::numeric_limits<double>::quiet_NaN();
    if (spike_from_call_ > 0 && calls_ >= spike_from_call_) l = l * spike_scale_;
    return {l, {{"mse", l.detach()}}};
  }
  at::Tensor sample(int64_t n) override { return net_->forward(torch::randn({n, dim()})); }
  int64_t dim() const { return net_->options().in(); }
  void fail_at_call(int64_t call) { nan_at_call_ = call; }
  // From `call` on, the loss is scaled by `scale`: a finite divergence.
  void spike_from_call(int64_t call, double scale) {
    spike_from_call_ = call;
    spike_scale_ = scale;
  }
  nn::MLP& net() { return net_; }

 private:
  nn::MLP net_;
  double noise_;
  int64_t calls_ = 0, nan_at_call_ = 0, spike_from_call_ = 0;
  double spike_scale_ = 1.0;
};

inline data::Dataset toy_points(int64_t n, int64_t dim = 3, uint64_t seed = 7) {
  data::Dataset d;
  d.name = "toy-points";
  d.kind = data::Kind::points;
  d.x = torch::randn({n, dim}, at::make_generator<at::CPUGeneratorImpl>(seed));
  return d;
}

// All parameters, flattened and concatenated.
inline at::Tensor flat_parameters(torch::nn::Module& m) {
  std::vector<at::Tensor> ps;
  for (const auto& p : m.parameters()) ps.push_back(p.detach().flatten());
  return torch::cat(ps);
}

}  // namespace deepgen::testing
