#include "deepgen/nn/blocks.h"

#include <numeric>

#include "deepgen/nn/fused.h"

namespace deepgen::nn {

torch::nn::Conv2d conv3(int64_t in, int64_t out, int64_t stride) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1));
}

namespace {

bool low_precision(const at::Tensor& x) {
  return x.scalar_type() == at::kBFloat16 || x.scalar_type() == at::kHalf;
}

}  // namespace

at::Tensor GroupNormImpl::forward(const at::Tensor& x) {
  return torch::nn::GroupNormImpl::forward(low_precision(x) ? x.to(at::kFloat) : x);
}

at::Tensor GroupNormImpl::forward_silu(const at::Tensor& x) {
  return group_norm_silu(x, options.num_groups(), weight, bias, options.eps());
}

at::Tensor softmax_float(const at::Tensor& x, int64_t dim) {
  return low_precision(x) ? at::softmax(x, dim, at::kFloat) : at::softmax(x, dim);
}

GroupNorm group_norm(int64_t channels) {
  return GroupNorm(torch::nn::GroupNormOptions(std::gcd(channels, int64_t{8}), channels));
}

at::Tensor upsample2(const at::Tensor& x) {
  return at::upsample_nearest2d(x, {x.size(2) * 2, x.size(3) * 2});
}

void zero_init(torch::nn::Module& m) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.parameters()) p.zero_();
}

// Registration order is the order of the parameters in saved weights and of the draws from the
// generator at initialisation: norm1, conv1, projection, norm2, [dropout], conv2, skip.
ResBlockImpl::ResBlockImpl(const ResBlockOptions& o) {
  norm1_ = register_module("norm1", group_norm(o.in()));
  conv1_ = register_module("conv1", conv3(o.in(), o.out()));
  project_ = register_module(
      o.projection(),
      torch::nn::Linear(torch::nn::LinearOptions(o.embed(), o.out()).bias(o.projection_bias())));
  norm2_ = register_module("norm2", group_norm(o.out()));
  if (o.dropout()) dropout_ = register_module("dropout", torch::nn::Dropout(*o.dropout()));
  conv2_ = register_module("conv2", conv3(o.out(), o.out()));
  if (o.zero_init()) {
    zero_init(*project_);
    zero_init(*conv2_);
  }
  if (o.in() != o.out())
    skip_ =
        register_module("skip", torch::nn::Conv2d(torch::nn::Conv2dOptions(o.in(), o.out(), 1)));
}

at::Tensor ResBlockImpl::forward(const at::Tensor& x, const at::Tensor& embedding) {
  at::Tensor h = conv1_->forward(norm1_->forward_silu(x));
  h = h + project_->forward(embedding).unsqueeze(-1).unsqueeze(-1);
  h = norm2_->forward_silu(h);
  if (dropout_) h = dropout_->forward(h);
  h = conv2_->forward(h);
  return h + (skip_ ? skip_->forward(x) : x);
}

}  // namespace deepgen::nn
