#pragma once
// Multi-layer perceptron: Linear -> activation, repeated, with a final Linear (no activation).
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <vector>

namespace deepgen::nn {

struct MLPOptions {
  MLPOptions(int64_t in, std::vector<int64_t> hidden, int64_t out)
      : in_(in), hidden_(std::move(hidden)), out_(out) {}
  TORCH_ARG(int64_t, in);
  TORCH_ARG(std::vector<int64_t>, hidden);
  TORCH_ARG(int64_t, out);
  TORCH_ARG(std::string, activation) = "relu";  // relu | silu | softplus | tanh
};

class MLPImpl : public torch::nn::Module {
 public:
  explicit MLPImpl(MLPOptions options);
  at::Tensor forward(at::Tensor x);
  const MLPOptions& options() const { return options_; }

 private:
  MLPOptions options_;
  torch::nn::ModuleList layers_;
};
TORCH_MODULE(MLP);

// Applies the activation named in MLPOptions; throws deepgen::Error for an unknown name.
at::Tensor activate(const std::string& name, const at::Tensor& x);
std::vector<std::string> activation_names();  // relu, silu, softplus, tanh

}  // namespace deepgen::nn
