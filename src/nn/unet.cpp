// The shared image U-Net (nn/unet.h).
#include "deepgen/nn/unet.h"

#include <cmath>

#include "deepgen/core/error.h"
#include "deepgen/core/precision.h"

namespace deepgen::nn {

void validate(const UNetOptions& o, const std::string& section) {
  const auto ref = [&](const char* key) { return option_ref(section, key); };
  if (o.data_shape.size() != 3)
    throw Error(section + ": the U-Net needs image data (C, H, W), got " +
                std::to_string(o.data_shape.size()) + " dimensions per sample");
  if (o.channels.empty())
    throw Error(section + ": " + ref("channels") + " needs at least one level");
  for (int64_t c : o.channels)
    if (c <= 0) throw Error(section + ": " + ref("channels") + " must be positive");
  if (o.blocks < 1) throw Error(section + ": " + ref("blocks") + " must be >= 1");
  if (o.patch < 1) throw Error(section + ": " + ref("patch") + " must be >= 1");
  const int64_t factor = o.patch * (int64_t{1} << (o.channels.size() - 1));
  if (o.data_shape[1] % factor != 0 || o.data_shape[2] % factor != 0)
    throw Error(section + ": a " + std::to_string(o.channels.size()) + "-level U-Net with " +
                ref("patch") + " " + std::to_string(o.patch) +
                " needs a height and width divisible by " + std::to_string(factor) +
                ": use fewer " + ref("channels") + " levels, a smaller " + ref("patch") + " or " +
                option_ref("data", "image_size"));
  if (!(o.dropout >= 0 && o.dropout < 1))
    throw Error(section + ": " + ref("dropout") + " must be in [0, 1)");
}

at::Tensor fourier_features(const at::Tensor& z, const std::vector<int64_t>& exponents,
                            const at::Tensor& noise_var) {
  std::vector<at::Tensor> parts{z};
  for (int64_t n : exponents) {
    const double omega = std::ldexp(2 * M_PI, static_cast<int>(n));
    auto angle = z * omega;
    if (!noise_var.defined()) {
      parts.push_back(torch::sin(angle));
      parts.push_back(torch::cos(angle));
      continue;
    }
    const at::Tensor gate =
        torch::exp(-0.5 * omega * omega * noise_var.to(z.dtype())).view({-1, 1, 1, 1});
    parts.push_back(torch::sin(angle) * gate);
    parts.push_back(torch::cos(angle) * gate);
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

NoiseEmbeddingImpl::NoiseEmbeddingImpl(int64_t dim, double noise_min, double noise_max)
    : dim_(dim), noise_min_(noise_min), noise_max_(noise_max) {
  l1_ = register_module("l1", torch::nn::Linear(dim, 4 * dim));
  l2_ = register_module("l2", torch::nn::Linear(4 * dim, 4 * dim));
}

at::Tensor NoiseEmbeddingImpl::forward(const at::Tensor& noise) {
  auto t = (noise - noise_min_) / (noise_max_ - noise_min_);
  return torch::silu(l2_(torch::silu(l1_(timestep_embedding(t, dim_)))));
}

AttentionImpl::AttentionImpl(int64_t c) {
  norm_ = register_module("norm", group_norm(c));
  qkv_ = register_module("qkv", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, 3 * c, 1)));
  proj_ = register_module("proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, c, 1)));
  zero_init(*proj_);
}

at::Tensor AttentionImpl::forward(const at::Tensor& x) {
  const auto c = x.size(1);
  auto qkv = qkv_(norm_(x)).flatten(2).chunk(3, 1);  // each (B, C, HW)
  auto w = softmax_float(torch::bmm(qkv[0].transpose(1, 2), qkv[1]) / std::sqrt(double(c)), -1);
  auto h = torch::bmm(qkv[2], w.transpose(1, 2)).view(x.sizes());
  return x + proj_(h);
}

namespace {

// VDM's block (App. B): the conditioning projection "cond" has no bias and starts at zero with
// the second convolution, so every block starts as its skip; dropout before that convolution.
ResBlock res_block(int64_t in, int64_t out, int64_t cond, double dropout) {
  return ResBlock(ResBlockOptions(in, out, cond)
                      .projection("cond")
                      .projection_bias(false)
                      .zero_init(true)
                      .dropout(dropout));
}

}  // namespace

// Construction order is the order of the initial draws: kept as the VDM has always made them,
// so a seed gives the same initial weights.
UNetLayers::UNetLayers(torch::nn::Module& owner, const UNetOptions& o) : o_(o) {
  const auto& ch = o.channels;
  const int64_t levels = static_cast<int64_t>(ch.size()), cond = 4 * ch[0];
  const int64_t p2 = o.patch * o.patch;
  const int64_t in = p2 * o.data_shape[0] * (1 + 2 * static_cast<int64_t>(o.fourier.size()));
  embed_ = owner.register_module("embed", NoiseEmbedding(ch[0], o.noise_min, o.noise_max));
  conv_in_ = owner.register_module("conv_in", conv3(in, ch[0]));
  std::vector<int64_t> skips{ch[0]};
  int64_t cur = ch[0];
  for (int64_t i = 0; i < levels; ++i) {
    for (int64_t b = 0; b < o.blocks; ++b) {
      down_->push_back(res_block(cur, ch[i], cond, o.dropout));
      skips.push_back(cur = ch[i]);
    }
    if (i + 1 < levels) {
      downsample_->push_back(conv3(cur, cur, 2));
      skips.push_back(cur);
    }
  }
  mid1_ = owner.register_module("mid1", res_block(cur, cur, cond, o.dropout));
  if (o.attention) attn_ = owner.register_module("attn", Attention(cur));
  mid2_ = owner.register_module("mid2", res_block(cur, cur, cond, o.dropout));
  for (int64_t i = levels - 1; i >= 0; --i) {
    for (int64_t b = 0; b <= o.blocks; ++b) {
      up_->push_back(res_block(cur + skips.back(), ch[i], cond, o.dropout));
      skips.pop_back();
      cur = ch[i];
    }
    if (i > 0) upsample_->push_back(conv3(cur, cur));
  }
  owner.register_module("down", down_);
  owner.register_module("downsample", downsample_);
  owner.register_module("up", up_);
  owner.register_module("upsample", upsample_);
  norm_out_ = owner.register_module("norm_out", group_norm(cur));
  conv_out_ = owner.register_module("conv_out", conv3(cur, p2 * o.data_shape[0]));
  zero_init(*conv_out_);
  // Last, so an unconditional net draws the same initial weights as before conditioning existed.
  if (o.classes > 0)
    classes_ = owner.register_module("class_embed", ClassEmbedding(o.classes, cond));
}

at::Tensor UNetLayers::forward(const at::Tensor& z, const at::Tensor& noise,
                               const at::Tensor& labels) {
  auto c = embed_(noise);
  if (classes_) c = c + classes_(labels, z.size(0)).to(c.dtype());
  const int64_t levels = static_cast<int64_t>(o_.channels.size());
  auto features =
      fourier_features(z, o_.fourier, o_.fourier_gate ? torch::sigmoid(noise) : at::Tensor());
  if (o_.patch > 1) features = torch::pixel_unshuffle(features, o_.patch);
  // The first layer runs float32: z's small noise at low noise levels is below bfloat16's
  // spacing near ±1 (2^-7, the data's own 2/255), so a bf16 input would hide it. Its output
  // then takes the network's type and layout, which every later activation keeps
  // (core/precision.h).
  std::vector<at::Tensor> skips;
  {
    const Float32Scope fp32;
    skips.push_back(conv_in_(features));
  }
  skips.back() = to_network_dtype(skips.back()).contiguous(network_memory_format());
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
    if (i > 0) h = upsample_[levels - 1 - i]->as<torch::nn::Conv2d>()->forward(upsample2(h));
  }
  at::Tensor out;
  {
    const Float32Scope fp32;  // the output layer in float32 (core/precision.h)
    out = conv_out_(norm_out_->forward_silu(h));
  }
  if (o_.patch > 1) out = torch::pixel_shuffle(out, o_.patch);
  return o_.skip ? z + out : out;
}

}  // namespace deepgen::nn
