#include "deepgen/nn/conv.h"

#include "deepgen/core/error.h"
#include "deepgen/nn/mlp.h"

namespace deepgen::nn {

namespace {

// {last channels, H / 2^n, W / 2^n}: the smallest feature map of the stack.
std::vector<int64_t> base_shape(const ConvOptions& o) {
  const int64_t scale = int64_t{1} << o.channels().size();
  return {o.channels().back(), o.image()[1] / scale, o.image()[2] / scale};
}

}  // namespace

void validate(const ConvOptions& o) {
  if (o.image().size() != 3) throw Error("conv nets take images {C, H, W}");
  if (o.channels().empty()) throw Error("conv nets need at least one stage of channels");
  for (int64_t c : o.channels())
    if (c <= 0) throw Error("conv channels must be positive");
  const int64_t scale = int64_t{1} << o.channels().size();
  if (o.image()[1] % scale != 0 || o.image()[2] % scale != 0)
    throw Error("the conv architecture halves the image " + std::to_string(o.channels().size()) +
                " times, so height and width must be " + "multiples of " + std::to_string(scale) +
                ", got " + std::to_string(o.image()[1]) + "x" + std::to_string(o.image()[2]) +
                " (resize the images with " + option_ref("data", "image_size") +
                " or use the mlp architecture)");
  if (o.vector() <= 0) throw Error("conv nets need a positive vector size");
  activate(o.activation(), torch::zeros({1}));
}

ConvEncoderImpl::ConvEncoderImpl(ConvOptions options) : options_(std::move(options)) {
  validate(options_);
  int64_t in = options_.image()[0];
  for (int64_t c : options_.channels()) {
    convs_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, c, 4).stride(2).padding(1)));
    in = c;
  }
  register_module("convs", convs_);
  const std::vector<int64_t> b = base_shape(options_);
  head_ = register_module("head", torch::nn::Linear(b[0] * b[1] * b[2], options_.vector()));
}

at::Tensor ConvEncoderImpl::forward(at::Tensor x) {
  for (const auto& conv : *convs_)
    x = activate(options_.activation(), conv->as<torch::nn::Conv2d>()->forward(x));
  return head_->forward(x.flatten(1));
}

ConvDecoderImpl::ConvDecoderImpl(ConvOptions options)
    : options_(std::move(options)), base_(base_shape(options_)) {
  validate(options_);
  head_ =
      register_module("head", torch::nn::Linear(options_.vector(), base_[0] * base_[1] * base_[2]));
  const auto& ch = options_.channels();
  for (size_t i = ch.size(); i-- > 0;) {
    const int64_t out = i == 0 ? options_.image()[0] : ch[i - 1];
    deconvs_->push_back(torch::nn::ConvTranspose2d(
        torch::nn::ConvTranspose2dOptions(ch[i], out, 4).stride(2).padding(1)));
  }
  register_module("deconvs", deconvs_);
}

at::Tensor ConvDecoderImpl::forward(at::Tensor z) {
  at::Tensor h = activate(options_.activation(), head_->forward(z))
                     .reshape({z.size(0), base_[0], base_[1], base_[2]});
  const size_t last = deconvs_->size() - 1;
  for (size_t i = 0; i < deconvs_->size(); ++i) {
    h = deconvs_[i]->as<torch::nn::ConvTranspose2d>()->forward(h);
    if (i != last) h = activate(options_.activation(), h);
  }
  return h;
}

}  // namespace deepgen::nn
