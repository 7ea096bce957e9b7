// Class conditioning shared by the families' networks (BEYOND B5).
#include "deepgen/nn/condition.h"

#include <torch/torch.h>

#include "deepgen/core/error.h"

namespace deepgen::nn {

void validate(const Conditioning& c, const std::string& section) {
  if (c.guidance > 0 && c.label_dropout <= 0)
    throw Error(section + ": --guidance " + std::to_string(c.guidance) +
                " needs a model trained with --label-dropout > 0 (it has no unconditional "
                "half): sample with --guidance 0, or retrain with --label-dropout 0.1");
  if (c.classes > 0 && !c.conditional)
    throw Error(section + ": classes is set on an unconditional model: remove it");
}

ClassEmbeddingImpl::ClassEmbeddingImpl(int64_t classes, int64_t dim) : classes_(classes) {
  table_ = register_module("table", torch::nn::Embedding(classes + 1, dim));
  torch::NoGradGuard no_grad;
  table_->weight.zero_();
}

at::Tensor ClassEmbeddingImpl::forward(const at::Tensor& labels, int64_t batch) {
  if (!labels.defined())
    return table_(torch::full({batch}, classes_, table_->weight.options().dtype(torch::kLong)));
  return table_(labels);
}

void check_labels(const at::Tensor& labels, int64_t classes) {
  if (labels.numel() == 0) return;
  const int64_t lo = labels.min().item<int64_t>(), hi = labels.max().item<int64_t>();
  if (lo < 0 || hi >= classes)
    throw Error("class " + std::to_string(lo < 0 ? lo : hi) + " does not exist: this run has " +
                std::to_string(classes) + " classes, 0.." + std::to_string(classes - 1));
}

at::Tensor uniform_labels(int64_t n, int64_t classes, c10::Device device) {
  auto gen = at::detail::getDefaultCPUGenerator();
  return at::randint(classes, {n}, gen, torch::kLong).to(device);
}

at::Tensor drop_labels(const at::Tensor& labels, double p, int64_t classes) {
  if (p <= 0) return labels;
  const at::Tensor drop = torch::rand(labels.sizes(), labels.options().dtype(torch::kFloat)) < p;
  return torch::where(drop, torch::full_like(labels, classes), labels);
}

at::Tensor guided(const ConditionalNet& net, const at::Tensor& z, const at::Tensor& noise,
                  const at::Tensor& labels, double w, int64_t classes) {
  if (w == 0 || !labels.defined()) return net(z, noise, labels);
  const at::Tensor out = net(torch::cat({z, z}), torch::cat({noise, noise}),
                             torch::cat({labels, torch::full_like(labels, classes)}));
  const auto halves = out.chunk(2);
  return (1 + w) * halves[0] - w * halves[1];
}

}  // namespace deepgen::nn
