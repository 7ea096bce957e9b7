// The image ε-network: VDM's ScoreUNet (App. B) generalised to several resolution levels. One
// level is the paper's net (every block at full resolution); more levels halve the resolution
// between levels, which is what makes it practical on a CPU.
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>

#include <cmath>

#include "deepgen/nn/blocks.h"
#include "net_internal.h"

namespace deepgen::diffusion::detail {

namespace {

// VDM's block (App. B): the conditioning projection "cond" has no bias and starts at zero with
// the second convolution, so every block starts as its skip; dropout before that convolution.
nn::ResBlock res_block(int64_t in, int64_t out, int64_t cond, double dropout) {
  return nn::ResBlock(nn::ResBlockOptions(in, out, cond)
                          .projection("cond")
                          .projection_bias(false)
                          .zero_init(true)
                          .dropout(dropout));
}

// Single-head self-attention over all positions, zero-initialised output projection.
class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(int64_t c) {
    norm_ = register_module("norm", nn::group_norm(c));
    qkv_ = register_module("qkv", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, 3 * c, 1)));
    proj_ = register_module("proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, c, 1)));
    nn::zero_init(*proj_);
  }
  at::Tensor forward(const at::Tensor& x) {
    const auto b = x.size(0), c = x.size(1);
    auto qkv = qkv_(norm_(x)).flatten(2).chunk(3, 1);  // each (B, C, HW)
    auto w =
        nn::softmax_float(torch::bmm(qkv[0].transpose(1, 2), qkv[1]) / std::sqrt(double(c)), -1);
    auto h = torch::bmm(qkv[2], w.transpose(1, 2)).view(x.sizes());
    (void)b;
    return x + proj_(h);
  }

 private:
  nn::GroupNorm norm_{nullptr};
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
    conv_in_ = register_module("conv_in", nn::conv3(in, ch[0]));
    std::vector<int64_t> skips{ch[0]};
    int64_t cur = ch[0];
    for (int64_t i = 0; i < levels; ++i) {
      for (int64_t b = 0; b < o.blocks; ++b) {
        down_->push_back(res_block(cur, ch[i], cond, o.dropout));
        skips.push_back(cur = ch[i]);
      }
      if (i + 1 < levels) {
        downsample_->push_back(nn::conv3(cur, cur, 2));
        skips.push_back(cur);
      }
    }
    mid1_ = register_module("mid1", res_block(cur, cur, cond, o.dropout));
    if (o.attention) attn_ = register_module("attn", Attention(cur));
    mid2_ = register_module("mid2", res_block(cur, cur, cond, o.dropout));
    for (int64_t i = levels - 1; i >= 0; --i) {
      for (int64_t b = 0; b <= o.blocks; ++b) {
        up_->push_back(res_block(cur + skips.back(), ch[i], cond, o.dropout));
        skips.pop_back();
        cur = ch[i];
      }
      if (i > 0) upsample_->push_back(nn::conv3(cur, cur));
    }
    register_module("down", down_);
    register_module("downsample", downsample_);
    register_module("up", up_);
    register_module("upsample", upsample_);
    norm_out_ = register_module("norm_out", nn::group_norm(cur));
    conv_out_ = register_module("conv_out", nn::conv3(cur, p2 * o.data_shape[0]));
    nn::zero_init(*conv_out_);
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
        skips.push_back(h = down_->at<nn::ResBlockImpl>(block++).forward(h, c));
      if (i + 1 < levels) skips.push_back(h = downsample_[i]->as<torch::nn::Conv2d>()->forward(h));
    }
    h = mid1_(h, c);
    if (attn_) h = attn_(h);
    h = mid2_(h, c);
    block = 0;
    for (int64_t i = levels - 1; i >= 0; --i) {
      for (int64_t b = 0; b <= o_.blocks; ++b) {
        h = up_->at<nn::ResBlockImpl>(block++).forward(torch::cat({h, skips.back()}, 1), c);
        skips.pop_back();
      }
      if (i > 0) {
        h = upsample_[levels - 1 - i]->as<torch::nn::Conv2d>()->forward(nn::upsample2(h));
      }
    }
    auto out = conv_out_(torch::silu(norm_out_(h)));
    if (o_.patch > 1) out = torch::pixel_shuffle(out, o_.patch);
    return o_.skip ? z + out : out;
  }

 private:
  EpsNetOptions o_;
  GammaEmbedding embed_{nullptr};
  torch::nn::Conv2d conv_in_{nullptr}, conv_out_{nullptr};
  torch::nn::ModuleList down_, downsample_, up_, upsample_;
  nn::ResBlock mid1_{nullptr}, mid2_{nullptr};
  Attention attn_{nullptr};
  nn::GroupNorm norm_out_{nullptr};
};

}  // namespace

std::shared_ptr<EpsNetwork> make_unet(const EpsNetOptions& options) {
  return std::make_shared<EpsUNet>(options);
}

}  // namespace deepgen::diffusion::detail
