// The image ε-network: VDM's ScoreUNet (App. B) generalised to several resolution levels. One
// level is the paper's net (every block at full resolution); more levels halve the resolution
// between levels, which is what makes it practical on a CPU.
#include <torch/nn/functional/upsampling.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/normalization.h>

#include <cmath>
#include <numeric>

#include "net_internal.h"

namespace deepgen::diffusion::detail {

namespace {

torch::nn::GroupNorm group_norm(int64_t c) {
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(std::gcd<int64_t>(c, 8), c));
}

torch::nn::Conv2d conv3(int64_t in, int64_t out, int64_t stride = 1) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1));
}

// GN, SiLU, conv, + projection of the conditioning, GN, SiLU, dropout, zero-initialised conv.
class ResBlockImpl : public torch::nn::Module {
 public:
  ResBlockImpl(int64_t in, int64_t out, int64_t cond, double dropout) {
    norm1_ = register_module("norm1", group_norm(in));
    conv1_ = register_module("conv1", conv3(in, out));
    cond_ =
        register_module("cond", torch::nn::Linear(torch::nn::LinearOptions(cond, out).bias(false)));
    norm2_ = register_module("norm2", group_norm(out));
    drop_ = register_module("dropout", torch::nn::Dropout(dropout));
    conv2_ = register_module("conv2", conv3(out, out));
    zero_init(*cond_);
    zero_init(*conv2_);
    if (in != out)
      skip_ = register_module("skip", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1)));
  }
  at::Tensor forward(const at::Tensor& x, const at::Tensor& c) {
    auto h = conv1_(torch::silu(norm1_(x)));
    h = h + cond_(c).unsqueeze(-1).unsqueeze(-1);
    h = conv2_(drop_(torch::silu(norm2_(h))));
    return (skip_ ? skip_(x) : x) + h;
  }

 private:
  torch::nn::GroupNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, skip_{nullptr};
  torch::nn::Linear cond_{nullptr};
  torch::nn::Dropout drop_{nullptr};
};
TORCH_MODULE(ResBlock);

// Single-head self-attention over all positions, zero-initialised output projection.
class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(int64_t c) {
    norm_ = register_module("norm", group_norm(c));
    qkv_ = register_module("qkv", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, 3 * c, 1)));
    proj_ = register_module("proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, c, 1)));
    zero_init(*proj_);
  }
  at::Tensor forward(const at::Tensor& x) {
    const auto b = x.size(0), c = x.size(1);
    auto qkv = qkv_(norm_(x)).flatten(2).chunk(3, 1);  // each (B, C, HW)
    auto w = torch::softmax(torch::bmm(qkv[0].transpose(1, 2), qkv[1]) / std::sqrt(double(c)), -1);
    auto h = torch::bmm(qkv[2], w.transpose(1, 2)).view(x.sizes());
    (void)b;
    return x + proj_(h);
  }

 private:
  torch::nn::GroupNorm norm_{nullptr};
  torch::nn::Conv2d qkv_{nullptr}, proj_{nullptr};
};
TORCH_MODULE(Attention);

class EpsUNet : public EpsNetwork {
 public:
  explicit EpsUNet(const EpsNetOptions& o) : o_(o) {
    const auto& ch = o.channels;
    const int64_t levels = static_cast<int64_t>(ch.size()), cond = 4 * ch[0];
    const int64_t p2 = o.patch * o.patch;
    const int64_t in = p2 * o.data_shape[0] * (1 + 2 * static_cast<int64_t>(o.fourier.size()));
    embed_ = register_module("embed", GammaEmbedding(ch[0], o.gamma_min, o.gamma_max));
    conv_in_ = register_module("conv_in", conv3(in, ch[0]));
    std::vector<int64_t> skips{ch[0]};
    int64_t cur = ch[0];
    for (int64_t i = 0; i < levels; ++i) {
      for (int64_t b = 0; b < o.blocks; ++b) {
        down_->push_back(ResBlock(cur, ch[i], cond, o.dropout));
        skips.push_back(cur = ch[i]);
      }
      if (i + 1 < levels) {
        downsample_->push_back(conv3(cur, cur, 2));
        skips.push_back(cur);
      }
    }
    mid1_ = register_module("mid1", ResBlock(cur, cur, cond, o.dropout));
    if (o.attention) attn_ = register_module("attn", Attention(cur));
    mid2_ = register_module("mid2", ResBlock(cur, cur, cond, o.dropout));
    for (int64_t i = levels - 1; i >= 0; --i) {
      for (int64_t b = 0; b <= o.blocks; ++b) {
        up_->push_back(ResBlock(cur + skips.back(), ch[i], cond, o.dropout));
        skips.pop_back();
        cur = ch[i];
      }
      if (i > 0) upsample_->push_back(conv3(cur, cur));
    }
    register_module("down", down_);
    register_module("downsample", downsample_);
    register_module("up", up_);
    register_module("upsample", upsample_);
    norm_out_ = register_module("norm_out", group_norm(cur));
    conv_out_ = register_module("conv_out", conv3(cur, p2 * o.data_shape[0]));
    zero_init(*conv_out_);
  }

  at::Tensor forward(const at::Tensor& z, const at::Tensor& gamma) override {
    auto c = embed_(gamma);
    const int64_t levels = static_cast<int64_t>(o_.channels.size());
    auto features = fourier_features(z, o_.fourier);
    if (o_.patch > 1) features = torch::pixel_unshuffle(features, o_.patch);
    std::vector<at::Tensor> skips{conv_in_(features)};
    auto h = skips.back();
    size_t block = 0;
    for (int64_t i = 0; i < levels; ++i) {
      for (int64_t b = 0; b < o_.blocks; ++b)
        skips.push_back(h = down_->at<ResBlockImpl>(block++).forward(h, c));
      if (i + 1 < levels) skips.push_back(h = downsample_[i]->as<torch::nn::Conv2d>()->forward(h));
    }
    h = mid1_(h, c);
    if (attn_) h = attn_(h);
    h = mid2_(h, c);
    block = 0;
    for (int64_t i = levels - 1; i >= 0; --i) {
      for (int64_t b = 0; b <= o_.blocks; ++b) {
        h = up_->at<ResBlockImpl>(block++).forward(torch::cat({h, skips.back()}, 1), c);
        skips.pop_back();
      }
      if (i > 0) {
        namespace F = torch::nn::functional;
        h = F::interpolate(h, F::InterpolateFuncOptions()
                                  .scale_factor(std::vector<double>{2, 2})
                                  .mode(torch::kNearest));
        h = upsample_[levels - 1 - i]->as<torch::nn::Conv2d>()->forward(h);
      }
    }
    auto out = conv_out_(torch::silu(norm_out_(h)));
    if (o_.patch > 1) out = torch::pixel_shuffle(out, o_.patch);
    return z + out;
  }

 private:
  EpsNetOptions o_;
  GammaEmbedding embed_{nullptr};
  torch::nn::Conv2d conv_in_{nullptr}, conv_out_{nullptr};
  torch::nn::ModuleList down_, downsample_, up_, upsample_;
  ResBlock mid1_{nullptr}, mid2_{nullptr};
  Attention attn_{nullptr};
  torch::nn::GroupNorm norm_out_{nullptr};
};

}  // namespace

std::shared_ptr<EpsNetwork> make_unet(const EpsNetOptions& options) {
  return std::make_shared<EpsUNet>(options);
}

}  // namespace deepgen::diffusion::detail
