// The ε-networks: the shared image U-Net (nn/unet.h) and an MLP for points.
#include "deepgen/diffusion/net.h"

#include <cmath>

#include "deepgen/core/error.h"
#include "deepgen/nn/blocks.h"

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
  nn::validate(o, "vdm");
}

namespace {

// Points: residual MLP blocks with the γ embedding added inside each block.
class EpsMlp : public EpsNetwork {
 public:
  explicit EpsMlp(const EpsNetOptions& o) : skip_(o.skip) {
    const int64_t d = o.data_shape.at(0), h = o.hidden;
    embed_ = register_module("embed", nn::NoiseEmbedding(h / 4, o.noise_min, o.noise_max));
    in_ = register_module("in", torch::nn::Linear(d, h));
    for (int64_t i = 0; i < o.layers; ++i) {
      blocks_.push_back(register_module("fc" + std::to_string(i), torch::nn::Linear(h, h)));
      conds_.push_back(register_module("cond" + std::to_string(i), torch::nn::Linear(h, h)));
    }
    out_ = register_module("out", torch::nn::Linear(h, d));
    nn::zero_init(*out_);
    if (o.classes > 0) classes_ = register_module("class_embed", nn::ClassEmbedding(o.classes, h));
  }
  at::Tensor forward(const at::Tensor& z, const at::Tensor& gamma,
                     const at::Tensor& labels) override {
    auto c = embed_(gamma);
    if (classes_) c = c + classes_(labels, z.size(0)).to(c.dtype());
    auto h = in_(z);
    for (size_t i = 0; i < blocks_.size(); ++i) h = h + blocks_[i](torch::silu(h + conds_[i](c)));
    auto out = out_(torch::silu(h));
    return skip_ ? z + out : out;
  }

 private:
  nn::NoiseEmbedding embed_{nullptr};
  torch::nn::Linear in_{nullptr}, out_{nullptr};
  std::vector<torch::nn::Linear> blocks_, conds_;
  nn::ClassEmbedding classes_{nullptr};
  bool skip_;
};

// Images: the shared U-Net on z, conditioned on γ.
class EpsUNet : public EpsNetwork {
 public:
  explicit EpsUNet(const EpsNetOptions& o) : layers_(*this, o) {}
  at::Tensor forward(const at::Tensor& z, const at::Tensor& gamma,
                     const at::Tensor& labels) override {
    return layers_.forward(z, gamma, labels);
  }

 private:
  nn::UNetLayers layers_;
};

}  // namespace

std::shared_ptr<EpsNetwork> make_eps_network(const EpsNetOptions& o) {
  validate(o);
  if (o.architecture == "mlp") return std::make_shared<EpsMlp>(o);
  return std::make_shared<EpsUNet>(o);
}

}  // namespace deepgen::diffusion
