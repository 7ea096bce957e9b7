#pragma once
// Convolutional blocks of the noise-conditional U-Nets (the score family's and the VDM's): 3x3
// convolutions, group norms, nearest-neighbour upsampling and a residual block conditioned on an
// embedding of the noise level, as in DDPM's U-Net (Ho et al. 2020, App. B).
#include <c10/util/Optional.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <string>

namespace deepgen::nn {

// 3x3 convolution, padding 1: the same resolution, or half of it with stride 2.
torch::nn::Conv2d conv3(int64_t in, int64_t out, int64_t stride = 1);
// GroupNorm in float32 whatever its input's type, as CUDA autocast keeps it: under bf16
// (core/precision.h) the activations arrive in bfloat16, and LibTorch's CPU kernel takes them only
// with weights of the same type, while the statistics of a small group want float32 anyway.
class GroupNormImpl : public torch::nn::GroupNormImpl {
 public:
  using torch::nn::GroupNormImpl::GroupNormImpl;
  at::Tensor forward(const at::Tensor& x);
  // silu(forward(x)) as one operator (nn/fused.h), typed for the convolution that reads it.
  at::Tensor forward_silu(const at::Tensor& x);
};
TORCH_MODULE(GroupNorm);

// softmax over `dim`, in float32 when x is bfloat16 or half (as CUDA autocast keeps it: the
// exponentials of 8-bit-mantissa logits lose the attention's small weights), else in x's type.
at::Tensor softmax_float(const at::Tensor& x, int64_t dim);

// GroupNorm with up to 8 groups that divide the channels (GroupNorm needs an exact split).
GroupNorm group_norm(int64_t channels);
// (B, C, H, W) -> (B, C, 2H, 2W), each value repeated 2x2.
at::Tensor upsample2(const at::Tensor& x);
// Zeroes every parameter of m: a zero output layer makes its block start as the identity.
void zero_init(torch::nn::Module& m);

struct ResBlockOptions {
  ResBlockOptions(int64_t in, int64_t out, int64_t embed) : in_(in), out_(out), embed_(embed) {}
  TORCH_ARG(int64_t, in);     // input channels
  TORCH_ARG(int64_t, out);    // output channels (a 1x1 skip convolution when they differ)
  TORCH_ARG(int64_t, embed);  // width of the conditioning embedding
  // The embedding's projection onto the channels, by the name saved weights know it under.
  TORCH_ARG(std::string, projection) = "project";
  TORCH_ARG(bool, projection_bias) = true;
  // The projection and the second convolution start at zero, so the block starts as the skip.
  TORCH_ARG(bool, zero_init) = false;
  // Set: a Dropout (module "dropout", registered even at p = 0) before the second convolution.
  TORCH_ARG(c10::optional<double>, dropout) = c10::nullopt;
};

// GroupNorm → SiLU → conv3x3, plus the embedding projected to the channels and added at every
// position, then GroupNorm → SiLU → [dropout] → conv3x3, plus the skip (x, or a 1x1 conv of x).
class ResBlockImpl : public torch::nn::Module {
 public:
  explicit ResBlockImpl(const ResBlockOptions& options);
  ResBlockImpl(int64_t in, int64_t out, int64_t embed)
      : ResBlockImpl(ResBlockOptions(in, out, embed)) {}
  at::Tensor forward(const at::Tensor& x, const at::Tensor& embedding);  // embedding (B, embed)

 private:
  GroupNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, skip_{nullptr};
  torch::nn::Linear project_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
};
TORCH_MODULE(ResBlock);

}  // namespace deepgen::nn
