// Noise-conditional score networks: an MLP for points, a small U-Net for images.
#include "deepgen/score/net.h"

#include <numeric>

#include "deepgen/core/error.h"

namespace deepgen::score {

namespace {

// (B) -> (B, 1, ..., 1) to broadcast a per-example σ against x.
at::Tensor column(const at::Tensor& sigma, const at::Tensor& x) {
  std::vector<int64_t> shape(x.dim(), 1);
  shape[0] = x.size(0);
  return sigma.to(x.dtype()).reshape(shape);
}

// Up to 8 groups that divide the channels (GroupNorm needs an exact split).
int64_t groups(int64_t channels) { return std::gcd(channels, int64_t{8}); }

torch::nn::Conv2d conv3(int64_t in, int64_t out, int64_t stride = 1) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1));
}

torch::nn::GroupNorm group_norm(int64_t channels) {
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups(channels), channels));
}

at::Tensor upsample(const at::Tensor& x) {
  return at::upsample_nearest2d(x, {x.size(2) * 2, x.size(3) * 2});
}

}  // namespace

ScoreMLPImpl::ScoreMLPImpl(int64_t dim, std::vector<int64_t> hidden, std::string activation) {
  mlp_ = register_module(
      "mlp", nn::MLP(nn::MLPOptions(dim + 1, std::move(hidden), dim).activation(activation)));
}

at::Tensor ScoreMLPImpl::forward(const at::Tensor& x, const at::Tensor& sigma) {
  const at::Tensor s = sigma.to(x.dtype()).reshape({-1, 1});
  const at::Tensor in = at::cat({x / (1 + s.pow(2)).sqrt(), s.log()}, 1);
  return mlp_->forward(in) / s;
}

ResBlockImpl::ResBlockImpl(int64_t in, int64_t out, int64_t embed) {
  norm1_ = register_module("norm1", group_norm(in));
  conv1_ = register_module("conv1", conv3(in, out));
  project_ = register_module("project", torch::nn::Linear(embed, out));
  norm2_ = register_module("norm2", group_norm(out));
  conv2_ = register_module("conv2", conv3(out, out));
  if (in != out)
    skip_ = register_module("skip", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1)));
}

at::Tensor ResBlockImpl::forward(const at::Tensor& x, const at::Tensor& embedding) {
  at::Tensor h = conv1_->forward(torch::silu(norm1_->forward(x)));
  h = h + project_->forward(embedding).unsqueeze(-1).unsqueeze(-1);
  h = conv2_->forward(torch::silu(norm2_->forward(h)));
  return h + (skip_ ? skip_->forward(x) : x);
}

void validate_unet(const std::vector<int64_t>& image, const std::vector<int64_t>& channels) {
  if (image.size() != 3) throw Error("score: the U-Net takes images {C, H, W}");
  if (channels.size() != 2 || channels[0] <= 0 || channels[1] <= 0)
    throw Error("score: --channels takes two positive widths (one per resolution), e.g. 16,32");
  if (image[1] % 4 != 0 || image[2] % 4 != 0)
    throw Error(
        "score: the U-Net halves the image twice, so height and width must be multiples "
        "of 4, got " +
        std::to_string(image[1]) + "x" + std::to_string(image[2]) + " (use --image-size)");
}

ScoreUNetImpl::ScoreUNetImpl(std::vector<int64_t> image, std::vector<int64_t> channels) {
  validate_unet(image, channels);
  const int64_t c = image[0], c0 = channels[0], c1 = channels[1], e = 4 * c0;
  embed1_ = register_module("embed1", torch::nn::Linear(1, e));
  embed2_ = register_module("embed2", torch::nn::Linear(e, e));
  in_ = register_module("in", conv3(c, c0));
  block0_ = register_module("block0", ResBlock(c0, c0, e));
  down1_ = register_module("down1", conv3(c0, c1, 2));
  block1_ = register_module("block1", ResBlock(c1, c1, e));
  down2_ = register_module("down2", conv3(c1, c1, 2));
  middle_ = register_module("middle", ResBlock(c1, c1, e));
  up1_ = register_module("up1", ResBlock(2 * c1, c1, e));
  up0_ = register_module("up0", ResBlock(c1 + c0, c0, e));
  out_norm_ = register_module("out_norm", group_norm(c0));
  out_ = register_module("out", conv3(c0, c));
}

at::Tensor ScoreUNetImpl::forward(const at::Tensor& x, const at::Tensor& sigma) {
  const at::Tensor log_sigma = sigma.to(x.dtype()).reshape({-1, 1}).log();
  const at::Tensor e = embed2_->forward(torch::silu(embed1_->forward(log_sigma)));
  const at::Tensor h0 = block0_->forward(in_->forward(2 * x - 1), e);  // H
  const at::Tensor h1 = block1_->forward(down1_->forward(h0), e);      // H/2
  at::Tensor h = middle_->forward(down2_->forward(h1), e);             // H/4
  h = up1_->forward(at::cat({upsample(h), h1}, 1), e);                 // H/2
  h = up0_->forward(at::cat({upsample(h), h0}, 1), e);                 // H
  return out_->forward(torch::silu(out_norm_->forward(h))) / column(sigma, x);
}

}  // namespace deepgen::score
