#include "deepgen/nn/mlp.h"

#include "deepgen/core/error.h"

namespace deepgen::nn {

at::Tensor activate(const std::string& name, const at::Tensor& x) {
  if (name == "relu") return torch::relu(x);
  if (name == "silu") return torch::silu(x);
  if (name == "softplus") return torch::softplus(x);
  if (name == "tanh") return torch::tanh(x);
  throw Error("unknown activation '" + name + "': use relu, silu, softplus or tanh");
}

MLPImpl::MLPImpl(MLPOptions options) : options_(std::move(options)) {
  activate(options_.activation(), torch::zeros({1}));  // reject a bad name at construction
  int64_t width = options_.in();
  for (int64_t h : options_.hidden()) {
    layers_->push_back(torch::nn::Linear(width, h));
    width = h;
  }
  layers_->push_back(torch::nn::Linear(width, options_.out()));
  register_module("layers", layers_);
}

at::Tensor MLPImpl::forward(at::Tensor x) {
  const size_t last = layers_->size() - 1;
  for (size_t i = 0; i < layers_->size(); ++i) {
    x = layers_[i]->as<torch::nn::Linear>()->forward(x);
    if (i != last) x = activate(options_.activation(), x);
  }
  return x;
}

}  // namespace deepgen::nn
