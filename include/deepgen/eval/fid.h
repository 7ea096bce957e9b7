#pragma once
// Classifier-FID: the Fréchet distance (Heusel et al. 2017) between Gaussians fitted to the
// penultimate-layer features of a small MNIST / Fashion-MNIST classifier that deepgen trains
// itself. Same formula as FID, but our own feature net (no Inception weights can be downloaded),
// so its values are comparable only between runs that use the same cached classifier.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "deepgen/data/dataset.h"
#include "deepgen/eval/precision_recall.h"

namespace deepgen::eval {

// ---- Fréchet distance between Gaussians ----

struct FeatureStatistics {
  at::Tensor mean;  // (D), float64
  at::Tensor cov;   // (D, D), float64, unbiased (divides by N − 1)
};

// Mean and unbiased covariance of features (N, D), N >= 2, computed in float64.
FeatureStatistics feature_statistics(const at::Tensor& features);

// d² = ||mu1 − mu2||² + tr(C1 + C2 − 2 (C1^{1/2} C2 C1^{1/2})^{1/2}), in float64, through two
// symmetric eigendecompositions (eigenvalues below the rank cutoff D·ε·max λ, rounding of PSD
// inputs, set to 0). Not clamped itself: identical inputs give 0 up to rounding (~1e-13 · tr C).
double frechet_distance(const at::Tensor& mu1, const at::Tensor& cov1, const at::Tensor& mu2,
                        const at::Tensor& cov2);
double frechet_distance(const FeatureStatistics& a, const FeatureStatistics& b);

// ---- The feature network ----

// Bumped whenever the layers or the preprocessing change: cached weights of another version are
// retrained instead of loaded.
constexpr int kClassifierVersion = 1;
constexpr int64_t kFeatureDim = 128;
constexpr int64_t kClassCount = 10;

// (B, 1, 28, 28) in [0, 1] -> two 3×3 conv + ReLU + 2×2 max-pool stages (16, 32 channels) ->
// 128-d ReLU layer (the features) -> 10 logits. No batch norm or dropout, so train and eval modes
// compute the same function.
class FidClassifierImpl : public torch::nn::Module {
 public:
  FidClassifierImpl();
  at::Tensor features(const at::Tensor& x);     // (B, 128)
  at::Tensor head(const at::Tensor& features);  // (B, 128) features -> (B, 10) logits
  at::Tensor forward(const at::Tensor& x);      // head(features(x))

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::Linear hidden_{nullptr}, logits_{nullptr};
};
TORCH_MODULE(FidClassifier);

struct ClassifierOptions {
  int64_t epochs = 2;   // passes over the training split (ignored when steps > 0)
  int64_t steps = 0;    // optimiser steps; > 0 overrides epochs
  int64_t batch = 128;  // Adam mini-batch
  double lr = 2e-3;     // Adam learning rate, cosine-decayed to 0 over the steps
  uint64_t seed = 0;    // weights and batch order; the global random stream is left untouched
  std::string device = "cpu";  // cpu | cuda | cuda:N | auto
};

struct ClassifierProgress {
  int64_t step = 0;  // 1-based, after the optimiser step
  int64_t total = 0;
  double loss = 0.0;  // cross-entropy of this batch
};
using ClassifierProgressFn = std::function<void(const ClassifierProgress&)>;
using MessageFn = std::function<void(const std::string&)>;

struct TrainedClassifier {
  FidClassifier model{nullptr};  // on the requested device
  double test_accuracy = 0.0;    // top-1 on the test split, in [0, 1]
  int64_t steps = 0;             // optimiser steps it was trained for
  std::string dataset;           // e.g. "mnist"
  bool loaded_from_cache = false;
};

// Trains a fresh classifier on labelled (N, 1, 28, 28) images and measures its test accuracy.
// Throws deepgen::Error for other shapes, missing labels, labels outside 0..9, bad options.
TrainedClassifier train_classifier(const data::Dataset& train, const data::Dataset& test,
                                   const ClassifierOptions& options,
                                   const ClassifierProgressFn& progress = {});

// Top-1 accuracy of the model on a labelled data set, in batches without autograd.
double classifier_accuracy(FidClassifier& model, const data::Dataset& data, int64_t batch = 1000);

// ---- The cache: <data_root>/classifiers/<name>-classifier.safetensors (+ .json) ----

// name: mnist | fashion-mnist (Error otherwise); data_root empty: data::data_root().
std::string classifier_cache_path(const std::string& name, const std::string& data_root = "");

// Loads the cached classifier of data set `name` when the file is valid and of kClassifierVersion;
// otherwise loads the data, trains (options, progress), and writes weights + JSON atomically.
// Every decision (loaded, training, cache unusable and why, saved) is reported through message.
// A valid cache is reused whatever `options` say: delete the file to retrain with new options.
TrainedClassifier load_or_train_classifier(const std::string& name, const std::string& data_root,
                                           const ClassifierOptions& options,
                                           const MessageFn& message = {},
                                           const ClassifierProgressFn& progress = {});

// The same cache logic for an explicit file and data source (`load` runs only when training is
// needed); the named overload above is this with classifier_cache_path and data::load_data.
TrainedClassifier load_or_train_classifier_file(const std::string& path, const std::string& name,
                                                const std::function<data::Splits()>& load,
                                                const ClassifierOptions& options,
                                                const MessageFn& message = {},
                                                const ClassifierProgressFn& progress = {});

// ---- The metric ----

// Penultimate features (N, 128), float64 on CPU, of images (N, 1, 28, 28), in batches under
// InferenceMode on the model's device. Error for other shapes or non-finite values; `what`
// names the input in that message.
at::Tensor classifier_features(FidClassifier& model, const at::Tensor& images,
                               const std::string& what = "images", int64_t batch = 500);

struct FidResult {
  double fid = 0.0;
  int64_t n_samples = 0;
  int64_t n_reference = 0;
  double classifier_accuracy = 0.0;  // of the feature net on its test split
  // Fraction of the samples the classifier assigns to each class (kClassCount entries): a
  // collapsed model puts most mass on few classes even when each sample looks fine.
  std::vector<double> sample_class_histogram;
  // Improved precision and recall (eval/precision_recall.h) with k = kPrecisionRecallK, real =
  // the reference images, fake = the samples: the same features as the FID.
  PrecisionRecall precision_recall;
  // Non-empty when a set has fewer images than kFeatureDim + 1 (its covariance is then singular
  // and the FID biased upwards) or fewer than kReliablePrecisionRecallPoints (precision and
  // recall are then noisy). Use a few thousand samples for numbers worth comparing.
  std::string warning;
};

// Below this many points in a set, precision and recall move by several hundredths between
// sample draws (docs/results.md).
constexpr int64_t kReliablePrecisionRecallPoints = 1000;

// The fewest images classifier_fid accepts in either set: the k-NN balls of precision/recall
// need k other points (a covariance would need only 2).
constexpr int64_t kMinFidImages = kPrecisionRecallK + 1;

// FID, precision and recall between samples and reference images, both (N, 1, 28, 28) in
// [0, 1] with N >= kMinFidImages; the classifier runs once per image.
FidResult classifier_fid(const TrainedClassifier& classifier, const at::Tensor& samples,
                         const at::Tensor& reference, int64_t batch = 500);

}  // namespace deepgen::eval
