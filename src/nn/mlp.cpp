#include "deepgen/nn/mlp.h"

#include "deepgen/core/error.h"
#include "deepgen/nn/fused.h"

namespace deepgen::nn {

namespace {

using Activation = at::Tensor (*)(const at::Tensor&);
// A new activation is one row.
const std::vector<std::pair<std::string, Activation>>& activations() {
  static const std::vector<std::pair<std::string, Activation>> table{
      {"relu", [](const at::Tensor& x) { return torch::relu(x); }},
      {"silu", [](const at::Tensor& x) { return torch::silu(x); }},
      {"softplus", [](const at::Tensor& x) { return nn::softplus(x); }},  // nn/fused.h
      {"tanh", [](const at::Tensor& x) { return torch::tanh(x); }},
  };
  return table;
}

}  // namespace

std::vector<std::string> activation_names() {
  std::vector<std::string> names;
  for (const auto& [name, f] : activations()) names.push_back(name);
  return names;
}

at::Tensor activate(const std::string& name, const at::Tensor& x) {
  for (const auto& [n, f] : activations())
    if (n == name) return f(x);
  std::string names;
  for (const auto& n : activation_names()) names += (names.empty() ? "" : ", ") + n;
  throw Error("unknown activation '" + name + "': use " + names);
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
