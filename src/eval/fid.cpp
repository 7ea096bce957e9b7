#include "deepgen/eval/fid.h"

#include <limits>

#include "deepgen/core/error.h"

namespace deepgen::eval {

namespace {

std::string shape_text(const at::Tensor& t) { return c10::str(t.sizes()); }

void check_finite(const at::Tensor& t, const std::string& what) {
  if (!torch::isfinite(t).all().item<bool>())
    throw Error(what + " contain NaN or infinite values (a diverged model?)");
}

void check_statistics(const at::Tensor& mu, const at::Tensor& cov, const std::string& which) {
  if (mu.dim() != 1 || cov.dim() != 2 || cov.size(0) != mu.size(0) || cov.size(1) != mu.size(0))
    throw Error("frechet_distance: " + which + " needs a mean (D) and a covariance (D, D), got " +
                shape_text(mu) + " and " + shape_text(cov));
  check_finite(mu, "frechet_distance: mean " + which);
  check_finite(cov, "frechet_distance: covariance " + which);
}

// Eigenvalues of a symmetric PSD matrix with rounding removed: values below the usual numerical
// rank cutoff D · ε · max|λ| (numpy's matrix_rank) become 0. Rounding leaves true zero eigenvalues
// at ±ε · max|λ|, and √ would turn that into ±√ε-sized terms (~1e-6 of FID) or NaN; a true
// eigenvalue below the cutoff moves the result by at most √(D ε max|λ|) each, no more than the
// rounding already does.
at::Tensor psd_eigenvalues(const at::Tensor& values) {
  const double eps = std::numeric_limits<double>::epsilon();
  const double cutoff =
      static_cast<double>(values.size(0)) * eps * values.abs().max().item<double>();
  return values.masked_fill(values < cutoff, 0.0);
}

// C^{1/2} = V diag(√λ) Vᵀ for symmetric PSD c (eigh, not a general sqrtm).
at::Tensor symmetric_sqrt(const at::Tensor& c) {
  auto [values, vectors] = torch::linalg_eigh(c);
  const at::Tensor roots = psd_eigenvalues(values).sqrt();
  return torch::matmul(vectors * roots.unsqueeze(0), vectors.transpose(0, 1));
}

// tr((C1^{1/2} C2 C1^{1/2})^{1/2}) = Σ √λᵢ of that symmetric PSD product. It has the same
// eigenvalues as C1 C2, whose square root scipy's sqrtm takes non-symmetrically; the symmetric
// form keeps eigh applicable and the result real.
double trace_sqrt_product(const at::Tensor& c1, const at::Tensor& c2) {
  const at::Tensor s = symmetric_sqrt(c1);
  at::Tensor m = torch::matmul(torch::matmul(s, c2), s);
  m = 0.5 * (m + m.transpose(0, 1));  // exact symmetry for eigh
  return psd_eigenvalues(torch::linalg_eigvalsh(m)).sqrt().sum().item<double>();
}

void check_images(const at::Tensor& images, const std::string& what) {
  const bool ok = images.defined() && images.dim() == 4 && images.size(1) == 1 &&
                  images.size(2) == 28 && images.size(3) == 28;
  if (!ok)
    throw Error("classifier-FID: " + what + " have shape " +
                (images.defined() ? shape_text(images) : std::string("(undefined)")) +
                ", expected (N, 1, 28, 28) images in [0, 1]; the metric applies to mnist / "
                "fashion-mnist runs only");
}

void check_enough(int64_t n, const std::string& what) {
  if (n < kMinFidImages)
    throw Error("classifier-FID: " + std::to_string(n) + " " + what +
                " are too few: precision/recall's " + std::to_string(kPrecisionRecallK) +
                "-NN balls need at least " + std::to_string(kMinFidImages) +
                " (use a few thousand)");
}

std::string rank_warning(int64_t n, const std::string& what) {
  if (n > kFeatureDim) return "";
  return std::to_string(n) + " " + what + " <= " + std::to_string(kFeatureDim) +
         " feature dimensions: the covariance is singular and the FID biased upwards. ";
}

std::string noise_warning(int64_t n, const std::string& what) {
  if (n >= kReliablePrecisionRecallPoints) return "";
  return std::to_string(n) + " " + what + " < " + std::to_string(kReliablePrecisionRecallPoints) +
         ": precision and recall are noisy. ";
}

}  // namespace

FeatureStatistics feature_statistics(const at::Tensor& features) {
  if (!features.defined() || features.dim() != 2)
    throw Error("feature_statistics: expected features (N, D), got " +
                (features.defined() ? shape_text(features) : std::string("(undefined)")));
  if (features.size(0) < 2)
    throw Error("feature_statistics: " + std::to_string(features.size(0)) +
                " rows are too few for a covariance (need at least 2)");
  torch::NoGradGuard no_grad;
  const at::Tensor x = features.to(torch::kCPU, torch::kDouble);
  check_finite(x, "feature_statistics: features");
  const at::Tensor mean = x.mean(0);
  const at::Tensor centred = x - mean;
  // Unbiased: Σ (xᵢ − x̄)(xᵢ − x̄)ᵀ / (N − 1).
  const at::Tensor cov =
      torch::matmul(centred.transpose(0, 1), centred) / static_cast<double>(x.size(0) - 1);
  return {mean, cov};
}

double frechet_distance(const at::Tensor& mu1, const at::Tensor& cov1, const at::Tensor& mu2,
                        const at::Tensor& cov2) {
  check_statistics(mu1, cov1, "1");
  check_statistics(mu2, cov2, "2");
  if (mu1.size(0) != mu2.size(0))
    throw Error("frechet_distance: dimensions differ (" + std::to_string(mu1.size(0)) + " vs " +
                std::to_string(mu2.size(0)) + ")");
  torch::NoGradGuard no_grad;
  const auto f64 = [](const at::Tensor& t) { return t.to(torch::kCPU, torch::kDouble); };
  const at::Tensor c1 = f64(cov1), c2 = f64(cov2);
  const double mean_term = (f64(mu1) - f64(mu2)).pow(2).sum().item<double>();
  const double traces = (c1.trace() + c2.trace()).item<double>();
  return mean_term + traces - 2.0 * trace_sqrt_product(c1, c2);
}

double frechet_distance(const FeatureStatistics& a, const FeatureStatistics& b) {
  return frechet_distance(a.mean, a.cov, b.mean, b.cov);
}

at::Tensor classifier_features(FidClassifier& model, const at::Tensor& images,
                               const std::string& what, int64_t batch) {
  check_images(images, what);
  if (batch <= 0) throw Error("classifier-FID: batch size must be positive");
  check_finite(images, "classifier-FID: " + what);
  c10::InferenceMode inference;
  const c10::Device device = model->parameters().front().device();
  std::vector<at::Tensor> parts;
  for (int64_t i = 0; i < images.size(0); i += batch) {
    const at::Tensor x = images.slice(0, i, std::min(i + batch, images.size(0)));
    parts.push_back(model->features(x.to(device, torch::kFloat)).to(torch::kCPU, torch::kDouble));
  }
  return torch::cat(parts);
}

namespace {

std::vector<double> class_histogram(FidClassifier& model, const at::Tensor& features) {
  c10::InferenceMode inference;
  // The logits layer applied to the stored features: no second pass over the images.
  const c10::Device device = model->parameters().front().device();
  const at::Tensor logits = model->head(features.to(device, torch::kFloat));
  const at::Tensor counts = torch::bincount(logits.argmax(1).cpu(), {}, kClassCount);
  const at::Tensor fractions = counts.to(torch::kDouble) / static_cast<double>(features.size(0));
  return std::vector<double>(fractions.data_ptr<double>(),
                             fractions.data_ptr<double>() + kClassCount);
}

}  // namespace

FidResult classifier_fid(const TrainedClassifier& classifier, const at::Tensor& samples,
                         const at::Tensor& reference, int64_t batch) {
  if (!classifier.model) throw Error("classifier-FID: no classifier given");
  check_images(samples, "samples");
  check_images(reference, "reference images");
  check_enough(samples.size(0), "samples");
  check_enough(reference.size(0), "reference images");
  FidClassifier model = classifier.model;
  const at::Tensor fs = classifier_features(model, samples, "samples", batch);
  const at::Tensor fr = classifier_features(model, reference, "reference images", batch);
  FidResult r;
  r.fid = frechet_distance(feature_statistics(fs), feature_statistics(fr));
  r.n_samples = samples.size(0);
  r.n_reference = reference.size(0);
  r.classifier_accuracy = classifier.test_accuracy;
  r.sample_class_histogram = class_histogram(model, fs);
  r.precision_recall = precision_recall(fr, fs);
  r.warning =
      rank_warning(r.n_samples, "samples") + rank_warning(r.n_reference, "reference images") +
      noise_warning(r.n_samples, "samples") + noise_warning(r.n_reference, "reference images");
  if (!r.warning.empty()) r.warning.pop_back();  // the trailing space
  return r;
}

}  // namespace deepgen::eval
