// Shared pieces of the ε-networks and the MLP for points.
#include "deepgen/diffusion/net.h"

#include <cmath>

#include "deepgen/core/error.h"
#include "deepgen/nn/blocks.h"
#include "net_internal.h"

namespace deepgen::diffusion {

void validate(const EpsNetOptions& o) {
  if (o.architecture == "mlp") {
    if (o.hidden <= 0 || o.layers <= 0)
      throw Error("vdm: " + option_ref("vdm", "hidden") + " and " + option_ref("vdm", "layers") +
                  " must be positive");
    return;
  }
  if (o.architecture != "unet")
    throw Error("vdm: " + option_ref("vdm", "architecture") + " '" + o.architecture +
                "' is unknown: use unet (images) or mlp (points)");
  if (o.data_shape.size() != 3)
    throw Error("vdm: " + option_ref("vdm", "architecture") +
                " unet needs image data (C, H, W); use mlp for points");
  if (o.channels.empty())
    throw Error("vdm: " + option_ref("vdm", "channels") + " needs at least one level");
  for (int64_t c : o.channels)
    if (c <= 0) throw Error("vdm: " + option_ref("vdm", "channels") + " must be positive");
  if (o.blocks < 1) throw Error("vdm: " + option_ref("vdm", "blocks") + " must be >= 1");
  if (o.patch < 1) throw Error("vdm: " + option_ref("vdm", "patch") + " must be >= 1");
  const int64_t factor = o.patch * (int64_t{1} << (o.channels.size() - 1));
  if (o.data_shape[1] % factor != 0 || o.data_shape[2] % factor != 0)
    throw Error("vdm: a " + std::to_string(o.channels.size()) + "-level U-Net with " +
                option_ref("vdm", "patch") + " " + std::to_string(o.patch) +
                " needs a height and width divisible by " + std::to_string(factor) +
                ": use fewer " + option_ref("vdm", "channels") + " levels, a smaller " +
                option_ref("vdm", "patch") + " or " + option_ref("data", "image_size"));
  if (!(o.dropout >= 0 && o.dropout < 1))
    throw Error("vdm: " + option_ref("vdm", "dropout") + " must be in [0, 1)");
}

at::Tensor fourier_features(const at::Tensor& z, const std::vector<int64_t>& exponents) {
  std::vector<at::Tensor> parts{z};
  for (int64_t n : exponents) {
    auto angle = z * (std::ldexp(2 * M_PI, static_cast<int>(n)));
    parts.push_back(torch::sin(angle));
    parts.push_back(torch::cos(angle));
  }
  return torch::cat(parts, 1);
}

at::Tensor timestep_embedding(const at::Tensor& t, int64_t dim) {
  const int64_t half = dim / 2;
  auto freqs =
      torch::exp(torch::arange(half, t.options()) *
                 (-std::log(10000.0) / static_cast<double>(std::max<int64_t>(half - 1, 1))));
  auto args = 1000.0 * t.unsqueeze(1) * freqs.unsqueeze(0);
  auto emb = torch::cat({torch::sin(args), torch::cos(args)}, 1);
  if (dim % 2 == 1)
    emb = torch::nn::functional::pad(emb, torch::nn::functional::PadFuncOptions({0, 1}));
  return emb;
}

namespace detail {

GammaEmbeddingImpl::GammaEmbeddingImpl(int64_t dim, double gamma_min, double gamma_max)
    : dim_(dim), gamma_min_(gamma_min), gamma_max_(gamma_max) {
  l1_ = register_module("l1", torch::nn::Linear(dim, 4 * dim));
  l2_ = register_module("l2", torch::nn::Linear(4 * dim, 4 * dim));
}

at::Tensor GammaEmbeddingImpl::forward(const at::Tensor& gamma) {
  auto t = (gamma - gamma_min_) / (gamma_max_ - gamma_min_);
  return torch::silu(l2_(torch::silu(l1_(timestep_embedding(t, dim_)))));
}

}  // namespace detail

namespace {

// Points: residual MLP blocks with the γ embedding added inside each block.
class EpsMlp : public EpsNetwork {
 public:
  explicit EpsMlp(const EpsNetOptions& o) : skip_(o.skip) {
    const int64_t d = o.data_shape.at(0), h = o.hidden;
    embed_ = register_module("embed", detail::GammaEmbedding(h / 4, o.gamma_min, o.gamma_max));
    in_ = register_module("in", torch::nn::Linear(d, h));
    for (int64_t i = 0; i < o.layers; ++i) {
      blocks_.push_back(register_module("fc" + std::to_string(i), torch::nn::Linear(h, h)));
      conds_.push_back(register_module("cond" + std::to_string(i), torch::nn::Linear(h, h)));
    }
    out_ = register_module("out", torch::nn::Linear(h, d));
    nn::zero_init(*out_);
  }
  at::Tensor forward(const at::Tensor& z, const at::Tensor& gamma) override {
    auto c = embed_(gamma);
    auto h = in_(z);
    for (size_t i = 0; i < blocks_.size(); ++i) h = h + blocks_[i](torch::silu(h + conds_[i](c)));
    auto out = out_(torch::silu(h));
    return skip_ ? z + out : out;
  }

 private:
  detail::GammaEmbedding embed_{nullptr};
  torch::nn::Linear in_{nullptr}, out_{nullptr};
  std::vector<torch::nn::Linear> blocks_, conds_;
  bool skip_;
};

}  // namespace

std::shared_ptr<EpsNetwork> make_eps_network(const EpsNetOptions& o) {
  validate(o);
  if (o.architecture == "mlp") return std::make_shared<EpsMlp>(o);
  return detail::make_unet(o);
}

}  // namespace deepgen::diffusion
