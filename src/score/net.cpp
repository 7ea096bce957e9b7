// Noise-conditional score networks: an MLP for points, a small U-Net for images.
#include "deepgen/score/net.h"

#include <cmath>

#include "deepgen/core/error.h"
#include "deepgen/core/precision.h"

namespace deepgen::score {

namespace {

// (B) -> (B, 1, ..., 1) to broadcast a per-example σ against x.
at::Tensor column(const at::Tensor& sigma, const at::Tensor& x) {
  std::vector<int64_t> shape(x.dim(), 1);
  shape[0] = x.size(0);
  return sigma.to(x.dtype()).reshape(shape);
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

void validate_unet(const std::vector<int64_t>& image, const std::vector<int64_t>& channels) {
  if (image.size() != 3) throw Error("score: the U-Net takes images {C, H, W}");
  if (channels.size() != 2 || channels[0] <= 0 || channels[1] <= 0)
    throw Error("score: " + option_ref("score", "channels") +
                " takes two positive widths (one per resolution), e.g. 16,32");
  if (image[1] % 4 != 0 || image[2] % 4 != 0)
    throw Error(
        "score: the U-Net halves the image twice, so height and width must be multiples "
        "of 4, got " +
        std::to_string(image[1]) + "x" + std::to_string(image[2]) + " (resize with " +
        option_ref("data", "image_size") + ")");
}

ScoreUNetImpl::ScoreUNetImpl(std::vector<int64_t> image, std::vector<int64_t> channels) {
  validate_unet(image, channels);
  const int64_t c = image[0], c0 = channels[0], c1 = channels[1], e = 4 * c0;
  embed1_ = register_module("embed1", torch::nn::Linear(1, e));
  embed2_ = register_module("embed2", torch::nn::Linear(e, e));
  in_ = register_module("in", nn::conv3(c, c0));
  block0_ = register_module("block0", nn::ResBlock(c0, c0, e));
  down1_ = register_module("down1", nn::conv3(c0, c1, 2));
  block1_ = register_module("block1", nn::ResBlock(c1, c1, e));
  down2_ = register_module("down2", nn::conv3(c1, c1, 2));
  middle_ = register_module("middle", nn::ResBlock(c1, c1, e));
  up1_ = register_module("up1", nn::ResBlock(2 * c1, c1, e));
  up0_ = register_module("up0", nn::ResBlock(c1 + c0, c0, e));
  out_norm_ = register_module("out_norm", nn::group_norm(c0));
  out_ = register_module("out", nn::conv3(c0, c));
}

at::Tensor ScoreUNetImpl::forward(const at::Tensor& x, const at::Tensor& sigma) {
  const at::Tensor log_sigma = sigma.to(x.dtype()).reshape({-1, 1}).log();
  const at::Tensor e = embed2_->forward(torch::silu(embed1_->forward(log_sigma)));
  const at::Tensor in = (2 * x - 1).contiguous(network_memory_format());  // core/precision.h
  const at::Tensor h0 = block0_->forward(in_->forward(in), e);            // H
  const at::Tensor h1 = block1_->forward(down1_->forward(h0), e);         // H/2
  at::Tensor h = middle_->forward(down2_->forward(h1), e);                // H/4
  h = up1_->forward(at::cat({nn::upsample2(h), h1}, 1), e);               // H/2
  h = up0_->forward(at::cat({nn::upsample2(h), h0}, 1), e);               // H
  return out_->forward(out_norm_->forward_silu(h)) / column(sigma, x);
}

std::vector<std::string> architecture_names() { return {"unet", "small-unet"}; }

namespace {

// log σ'² = log (2σ)², the γ the U-Net is conditioned on: of a σ tensor, or of the ladder's ends.
template <class T>
T noise_level(const T& sigma) {
  using std::log;  // at::log by argument-dependent lookup for tensors
  return 2 * log(2 * sigma);
}

// The embedding rescales log σ'² over the ladder to [0, 1]; a single σ gets a unit margin.
nn::UNetOptions with_noise_range(nn::UNetOptions o, double sigma_min, double sigma_max) {
  const double margin = sigma_min < sigma_max ? 0.0 : 1.0;
  o.noise_min = noise_level(sigma_min) - margin;
  o.noise_max = noise_level(sigma_max) + margin;
  o.skip = true;
  return o;
}

}  // namespace

ScoreEpsUNetImpl::ScoreEpsUNetImpl(nn::UNetOptions unet, double sigma_min, double sigma_max)
    : layers_(*this, with_noise_range(std::move(unet), sigma_min, sigma_max)) {}

at::Tensor ScoreEpsUNetImpl::forward(const at::Tensor& x, const at::Tensor& sigma,
                                     const at::Tensor& labels) {
  const at::Tensor s = column(sigma, x);
  const at::Tensor z = (2 * x - 1) / (1 + 4 * s * s).sqrt();
  const at::Tensor eps = layers_.forward(z, noise_level(sigma.to(x.dtype())), labels);
  return -eps / s;
}

}  // namespace deepgen::score
