#pragma once
// Convolutional encoder / decoder for images: each stage halves (encoder) or doubles (decoder)
// the resolution with a 4x4 stride-2 convolution, as in the DCGAN-style VAEs of the peers.
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <vector>

namespace deepgen::nn {

struct ConvOptions {
  // image: {C, H, W}; H and W divisible by 2^len(channels). vector: the flat side's size.
  ConvOptions(std::vector<int64_t> image, int64_t vector)
      : image_(std::move(image)), vector_(vector) {}
  TORCH_ARG(std::vector<int64_t>, image);
  TORCH_ARG(int64_t, vector);
  TORCH_ARG(std::vector<int64_t>, channels) = std::vector<int64_t>{32, 64};  // per stage
  TORCH_ARG(std::string, activation) = "relu";
};

// Throws deepgen::Error when the image cannot be halved len(channels) times.
void validate(const ConvOptions& options);

// (B, C, H, W) -> (B, vector).
class ConvEncoderImpl : public torch::nn::Module {
 public:
  explicit ConvEncoderImpl(ConvOptions options);
  at::Tensor forward(at::Tensor x);

 private:
  ConvOptions options_;
  torch::nn::ModuleList convs_;
  torch::nn::Linear head_{nullptr};
};
TORCH_MODULE(ConvEncoder);

// (B, vector) -> (B, C, H, W), with no output activation.
class ConvDecoderImpl : public torch::nn::Module {
 public:
  explicit ConvDecoderImpl(ConvOptions options);
  at::Tensor forward(at::Tensor z);

 private:
  ConvOptions options_;
  std::vector<int64_t> base_;  // {channels.back(), H / 2^n, W / 2^n}
  torch::nn::Linear head_{nullptr};
  torch::nn::ModuleList deconvs_;
};
TORCH_MODULE(ConvDecoder);

}  // namespace deepgen::nn
