#pragma once
// Class conditioning, shared by every family's network (issue 15; BEYOND B5): a learned class
// embedding with one more row for the null class ∅ (index = classes), label dropout so that one
// network learns both p(x|y) and p(x), and classifier-free guidance (Ho & Salimans 2022).
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/pimpl.h>

#include <functional>
#include <string>

#include "deepgen/core/options.h"

namespace deepgen::nn {

struct Conditioning {
  bool conditional = false;    // train on the data's labels (the family's adapt fills classes)
  int64_t classes = 0;         // recorded from the training set; 0: unconditional
  double label_dropout = 0.1;  // share of training labels replaced by ∅ (0: no unconditional)
  double guidance = 0.0;       // w of ε̃ = (1 + w) ε̂(z, y) − w ε̂(z, ∅) when sampling
};

// Adds conditional, classes (internal) and, for a family that guides (`guided`), label_dropout
// and guidance to `table`; `access` is Conditioning&(O&).
template <class O, class Access>
void add_condition_options(OptionTable<O>& table, Access access, bool guided = true) {
  auto field = [access](auto member) {
    return [ access, member ](O & o) -> auto& { return access(o).*member; };
  };
  table.template add_with<bool>("conditional", field(&Conditioning::conditional),
                                "Condition on the data's class labels (folder of class "
                                "subfolders, MNIST, csv --label-column)");
  table
      .template add_with<int64_t>("classes", field(&Conditioning::classes),
                                  "conditional: number of classes (from the training set)")
      .min(0)
      .internal();
  if (!guided) return;
  table
      .template add_with<double>("label_dropout", field(&Conditioning::label_dropout),
                                 "conditional: share of training labels replaced by the null "
                                 "class, so the model is also unconditional (guidance needs it)")
      .min(0)
      .max(1);
  table
      .template add_with<double>("guidance", field(&Conditioning::guidance),
                                 "conditional: classifier-free guidance weight w when sampling")
      .min(0)
      .commands(kTrain | kSample | kEval);
}

// An error naming `section`'s options unless they agree (guidance needs label dropout).
void validate(const Conditioning& c, const std::string& section);

// labels (B) -> (B, dim): one learned row per class and one for ∅; undefined labels: all ∅.
// Zero-initialised, so a new conditional network starts as its unconditional self.
class ClassEmbeddingImpl : public torch::nn::Module {
 public:
  ClassEmbeddingImpl(int64_t classes, int64_t dim);
  at::Tensor forward(const at::Tensor& labels, int64_t batch);

 private:
  int64_t classes_;
  torch::nn::Embedding table_{nullptr};
};
TORCH_MODULE(ClassEmbedding);

// An error naming the class unless every label is one of the `classes` (0 .. classes − 1).
void check_labels(const at::Tensor& labels, int64_t classes);
// n labels drawn uniformly from 0 .. classes − 1 (the default CPU generator, so a sampling seed
// fixes them), on `device`.
at::Tensor uniform_labels(int64_t n, int64_t classes, c10::Device device);

// labels with each one replaced by ∅ (= classes) with probability p (the global generator).
at::Tensor drop_labels(const at::Tensor& labels, double p, int64_t classes);

// A network's output for (z, noise level, labels).
using ConditionalNet =
    std::function<at::Tensor(const at::Tensor& z, const at::Tensor& noise, const at::Tensor&)>;
// Classifier-free guidance (BEYOND B5): (1 + w) net(z, y) − w net(z, ∅), both halves in one
// call on a doubled batch; w = 0 is net(z, y). Exact for any output affine in ε̂ (ε, x, v,
// score): the weights sum to 1.
at::Tensor guided(const ConditionalNet& net, const at::Tensor& z, const at::Tensor& noise,
                  const at::Tensor& labels, double w, int64_t classes);

}  // namespace deepgen::nn
