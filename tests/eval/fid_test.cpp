#include "deepgen/eval/fid.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <set>

#include "deepgen/core/error.h"
#include "deepgen/core/rng.h"
#include "deepgen/io/files.h"
#include "deepgen/io/safetensors.h"
#include "support/error_message.h"
#include "support/temp_dir.h"

namespace deepgen::eval {
namespace {

at::TensorOptions f64() { return at::TensorOptions().dtype(at::kDouble); }

// A A^T + eps I: symmetric positive definite, condition number controlled by eps.
at::Tensor random_spd(int64_t d, at::Generator& gen, double eps = 0.1) {
  const at::Tensor a = at::randn({d, d}, gen, f64());
  return torch::matmul(a, a.t()) + eps * torch::eye(d, f64());
}

// tr((C1 C2)^{1/2}) the textbook way: C1 C2 is similar to C1^{1/2} C2 C1^{1/2}, so its
// (non-symmetric) eigenvalues are real and >= 0; an independent route for well-conditioned pairs.
double reference_frechet(const at::Tensor& mu1, const at::Tensor& c1, const at::Tensor& mu2,
                         const at::Tensor& c2) {
  const at::Tensor eig = torch::real(torch::linalg_eigvals(torch::matmul(c1, c2)));
  return (mu1 - mu2).pow(2).sum().item<double>() + (c1.trace() + c2.trace()).item<double>() -
         2.0 * eig.clamp_min(0).sqrt().sum().item<double>();
}

using deepgen::testing::error_message;

// ---- frechet_distance ----

TEST(FrechetDistance, ZeroForIdenticalStatistics) {
  at::Generator gen = make_generator(1);
  const at::Tensor mu = at::randn({16}, gen, f64());
  const at::Tensor cov = random_spd(16, gen);
  // Full rank: the only error is rounding in two eigendecompositions, ~1e-13 · tr C (tr C ≈ 16²).
  EXPECT_NEAR(frechet_distance(mu, cov, mu, cov), 0.0, 1e-8);
  // Rank 4 of 16 (like dead ReLU features, or N <= D): eigh returns the 12 zero eigenvalues as
  // ±1e-15 · |C|, whose √ alone would give ~1e-6; the rank cutoff zeroes them, so the same 1e-8.
  const at::Tensor a = at::randn({16, 4}, gen, f64());
  const at::Tensor singular = torch::matmul(a, a.t());
  EXPECT_NEAR(frechet_distance(mu, singular, mu, singular), 0.0, 1e-8);
}

TEST(FrechetDistance, MatchesClosedFormForDiagonalCovariances) {
  at::Generator gen = make_generator(2);
  const at::Tensor a = at::rand({12}, gen, f64()) * 3 + 0.01, b = at::rand({12}, gen, f64()) * 3;
  const at::Tensor mu1 = at::randn({12}, gen, f64()), mu2 = at::randn({12}, gen, f64());
  // Commuting covariances: d² = ||Δμ||² + Σ (√a − √b)².
  const double exact =
      (mu1 - mu2).pow(2).sum().item<double>() + (a.sqrt() - b.sqrt()).pow(2).sum().item<double>();
  // Relative 1e-10: float64 rounding through eigh of a diagonal matrix is ~1e-15 relative.
  EXPECT_NEAR(frechet_distance(mu1, torch::diag(a), mu2, torch::diag(b)), exact, 1e-10 * exact);
}

TEST(FrechetDistance, MatchesOneDimensionalFormula) {
  for (const auto& [m1, s1, m2, s2] :
       {std::array<double, 4>{0.0, 1.0, 0.0, 1.0}, std::array<double, 4>{1.0, 2.0, -0.5, 0.5},
        std::array<double, 4>{3.0, 0.1, 3.0, 4.0}}) {
    // N(m1, s1²) vs N(m2, s2²): (m1 − m2)² + (s1 − s2)².
    const double exact = (m1 - m2) * (m1 - m2) + (s1 - s2) * (s1 - s2);
    const double d = frechet_distance(at::full({1}, m1, f64()), at::full({1, 1}, s1 * s1, f64()),
                                      at::full({1}, m2, f64()), at::full({1, 1}, s2 * s2, f64()));
    EXPECT_NEAR(d, exact, 1e-12) << m1 << " " << s1 << " " << m2 << " " << s2;  // rounding only
  }
}

TEST(FrechetDistance, IsSymmetric) {
  at::Generator gen = make_generator(3);
  const at::Tensor mu1 = at::randn({10}, gen, f64()), mu2 = at::randn({10}, gen, f64());
  const at::Tensor c1 = random_spd(10, gen), c2 = random_spd(10, gen, 1.0);
  const double d12 = frechet_distance(mu1, c1, mu2, c2), d21 = frechet_distance(mu2, c2, mu1, c1);
  // C1^{1/2} C2 C1^{1/2} and C2^{1/2} C1 C2^{1/2} share eigenvalues; the two routes round
  // differently, by ~1e-13 relative to the traces (≈ 10² here).
  EXPECT_GT(d12, 1.0);
  EXPECT_NEAR(d12, d21, 1e-9 * d12);
}

TEST(FrechetDistance, InvariantUnderACommonRotation) {
  at::Generator gen = make_generator(4);
  const int64_t d = 10;
  const at::Tensor mu1 = at::randn({d}, gen, f64()), mu2 = at::randn({d}, gen, f64());
  const at::Tensor c1 = random_spd(d, gen), c2 = random_spd(d, gen, 0.5);
  const at::Tensor q = std::get<0>(torch::linalg_qr(at::randn({d, d}, gen, f64())));
  const auto rot = [&](const at::Tensor& c) { return torch::matmul(torch::matmul(q, c), q.t()); };
  const double before = frechet_distance(mu1, c1, mu2, c2);
  const double after =
      frechet_distance(torch::matmul(q, mu1), rot(c1), torch::matmul(q, mu2), rot(c2));
  EXPECT_NEAR(after, before, 1e-9 * before);  // rounding of the rotation and eigh, ~1e-13 relative
}

TEST(FrechetDistance, NonNegativeAndMatchesTheNonSymmetricRoute) {
  at::Generator gen = make_generator(5);
  for (int i = 0; i < 40; ++i) {
    const int64_t d = 2 + i % 9;
    const at::Tensor mu1 = at::randn({d}, gen, f64()),
                     mu2 = mu1 + 0.01 * at::randn({d}, gen, f64());
    const at::Tensor c1 = random_spd(d, gen, 0.05 + 0.1 * (i % 4)), c2 = random_spd(d, gen);
    const double fd = frechet_distance(mu1, c1, mu2, c2);
    EXPECT_GE(fd, 0.0) << "pair " << i;  // unclamped, so a wrong sign in any term shows here
    // Non-commuting pairs, where the diagonal closed form says nothing. The eig route loses
    // ~cond · 1e-16 relative; these are well conditioned, so 1e-7 relative is generous.
    const double ref = reference_frechet(mu1, c1, mu2, c2);
    EXPECT_NEAR(fd, ref, 1e-7 * (c1.trace() + c2.trace()).item<double>()) << "pair " << i;
  }
}

TEST(FrechetDistance, RejectsBadShapesAndValues) {
  const at::Tensor mu = torch::zeros({3}, f64()), cov = torch::eye(3, f64());
  EXPECT_NE(error_message([&] {
              frechet_distance(mu, cov, torch::zeros({4}, f64()), torch::eye(4, f64()));
            }).find("dimensions differ"),
            std::string::npos);
  EXPECT_NE(
      error_message([&] { frechet_distance(mu, torch::eye(2, f64()), mu, cov); }).find("(D, D)"),
      std::string::npos);
  at::Tensor nan_cov = cov.clone();
  nan_cov[0][0] = std::nan("");
  EXPECT_NE(error_message([&] { frechet_distance(mu, nan_cov, mu, cov); }).find("NaN"),
            std::string::npos);
}

// ---- feature_statistics ----

TEST(FeatureStatistics, MatchesTorchCovAndAManualSum) {
  at::Generator gen = make_generator(6);
  const at::Tensor x = at::randn({50, 5}, gen, f64()) * at::arange(1, 6, f64()) + 3.0;
  const FeatureStatistics s = feature_statistics(x);
  ASSERT_EQ(s.mean.scalar_type(), at::kDouble);
  // Same float64 sums in another order: agreement to ~1e-15 relative; 1e-12 absolute (entries ≤
  // 25).
  EXPECT_TRUE(torch::allclose(s.mean, x.mean(0), 0, 1e-12));
  EXPECT_TRUE(torch::allclose(s.cov, torch::cov(x.t()), 0, 1e-12));  // correction = 1: unbiased
  at::Tensor manual = torch::zeros({5, 5}, f64());
  for (int64_t i = 0; i < 50; ++i) {
    const at::Tensor r = (x[i] - s.mean).unsqueeze(1);
    manual += torch::matmul(r, r.t());
  }
  EXPECT_TRUE(torch::allclose(s.cov, manual / 49.0, 0, 1e-12));
  // float32 input is promoted: the same statistics up to float32 input rounding (~1e-7 · 25).
  EXPECT_TRUE(torch::allclose(feature_statistics(x.to(at::kFloat)).cov, s.cov, 0, 1e-4));
}

TEST(FeatureStatistics, RejectsTooFewRowsWrongRankAndNonFinite) {
  EXPECT_NE(error_message([] {
              feature_statistics(torch::ones({1, 4}));
            }).find("too few"),
            std::string::npos);
  EXPECT_NE(error_message([] { feature_statistics(torch::ones({8})); }).find("(N, D)"),
            std::string::npos);
  at::Tensor x = torch::ones({4, 2});
  x[1][1] = INFINITY;
  EXPECT_NE(error_message([&] { feature_statistics(x); }).find("infinite"), std::string::npos);
}

// ---- the classifier pipeline, on synthetic images (no MNIST needed) ----

// Class k: a 6×6 square of intensity 0.9 whose corner sits at column 1 + 5 (k % 5), row 4 + 12
// (k / 5), jittered by ±1 px, on Gaussian noise (sd 0.1), clamped to [0, 1]. Neighbouring classes
// are 5 px apart and the jitter spans 2 px, so every class is separable.
data::Dataset synthetic(int64_t n, uint64_t seed, const std::string& name,
                        int64_t only_class = -1) {
  at::Generator gen = make_generator(seed);
  at::Tensor x = 0.1 * at::randn({n, 1, 28, 28}, gen, at::TensorOptions());
  const at::Tensor labels = only_class >= 0 ? torch::full({n}, only_class, torch::kLong)
                                            : torch::arange(n, torch::kLong).remainder(kClassCount);
  const at::Tensor jitter = at::randint(-1, 2, {n, 2}, gen, at::TensorOptions().dtype(at::kLong));
  auto lab = labels.accessor<int64_t, 1>();
  auto jit = jitter.accessor<int64_t, 2>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t col = 1 + 5 * (lab[i] % 5) + jit[i][0], row = 4 + 12 * (lab[i] / 5) + jit[i][1];
    x[i][0].slice(0, row, row + 6).slice(1, col, col + 6) += 0.9;
  }
  data::Dataset d;
  d.name = name;
  d.kind = data::Kind::image;
  d.x = x.clamp(0, 1);
  d.labels = labels;
  return d;
}

ClassifierOptions quick_options(int64_t steps) {
  ClassifierOptions o;
  o.steps = steps;
  o.batch = 32;
  o.lr = 2e-3;
  o.seed = 7;
  return o;
}

class ClassifierPipeline : public ::testing::Test {
 protected:
  // Trained once for the suite: ~3 s on 2 cores.
  static void SetUpTestSuite() {
    train_ = new data::Dataset(synthetic(1600, 10, "synthetic/train"));
    test_ = new data::Dataset(synthetic(400, 11, "synthetic/test"));
    classifier_ = new TrainedClassifier(
        train_classifier(*train_, *test_, quick_options(60), [](const ClassifierProgress& p) {
          EXPECT_TRUE(std::isfinite(p.loss));
          ++progress_calls_;
        }));
  }
  static void TearDownTestSuite() {
    delete classifier_;
    delete train_;
    delete test_;
  }
  static data::Dataset* train_;
  static data::Dataset* test_;
  static TrainedClassifier* classifier_;
  static int progress_calls_;
};
data::Dataset* ClassifierPipeline::train_ = nullptr;
data::Dataset* ClassifierPipeline::test_ = nullptr;
TrainedClassifier* ClassifierPipeline::classifier_ = nullptr;
int ClassifierPipeline::progress_calls_ = 0;

TEST_F(ClassifierPipeline, LearnsWellAboveChance) {
  EXPECT_EQ(progress_calls_, 60);
  EXPECT_EQ(classifier_->steps, 60);
  EXPECT_EQ(classifier_->dataset, "synthetic");
  EXPECT_FALSE(classifier_->loaded_from_cache);
  // Chance is 0.1; the classes are separable, so 0.8 leaves room for an unlucky seed yet fails
  // for a net that did not learn (or features that ignore the image).
  EXPECT_GT(classifier_->test_accuracy, 0.8);
  EXPECT_NEAR(classifier_accuracy(classifier_->model, *test_), classifier_->test_accuracy, 1e-12);
}

TEST_F(ClassifierPipeline, FidOrdersRealBelowCollapseAndNoise) {
  const at::Tensor reference = synthetic(600, 20, "ref").x;
  const FidResult real = classifier_fid(*classifier_, synthetic(600, 21, "real").x, reference);
  const FidResult collapsed =
      classifier_fid(*classifier_, synthetic(600, 22, "one", 3).x, reference);
  at::Generator gen = make_generator(23);
  const FidResult noise =
      classifier_fid(*classifier_, at::rand({600, 1, 28, 28}, gen, at::TensorOptions()), reference);
  EXPECT_EQ(real.n_samples, 600);
  EXPECT_EQ(real.n_reference, 600);
  EXPECT_DOUBLE_EQ(real.classifier_accuracy, classifier_->test_accuracy);
  // 600 > 128 feature dimensions: no rank warning, but precision/recall are flagged as noisy.
  EXPECT_EQ(real.warning.find("singular"), std::string::npos) << real.warning;
  EXPECT_NE(real.warning.find("600 samples < 1000: precision and recall are noisy"),
            std::string::npos)
      << real.warning;
  // Real vs real is only finite-sample bias; mode collapse and noise move the feature mean and
  // covariance. Factor 5 margins: the measured ratios are far larger (see the printed values).
  EXPECT_GT(real.fid, 0.0);
  EXPECT_LT(5.0 * real.fid, collapsed.fid) << real.fid << " vs " << collapsed.fid;
  EXPECT_LT(5.0 * real.fid, noise.fid) << real.fid << " vs " << noise.fid;
  std::cout << "[synthetic FID] real " << real.fid << ", one class " << collapsed.fid << ", noise "
            << noise.fid << "\n";
  const PrecisionRecall& pr_real = real.precision_recall;
  const PrecisionRecall& pr_one = collapsed.precision_recall;
  const PrecisionRecall& pr_noise = noise.precision_recall;
  std::cout << "[synthetic precision/recall] real " << pr_real.precision << "/" << pr_real.recall
            << ", one class " << pr_one.precision << "/" << pr_one.recall << ", noise "
            << pr_noise.precision << "/" << pr_noise.recall << "\n";
  EXPECT_EQ(pr_real.k, 3);
  EXPECT_EQ(pr_real.n_real, 600);
  EXPECT_EQ(pr_real.n_fake, 600);
  // Thresholds with wide margins around the printed values: real samples are on the reference
  // manifold and cover it; one class keeps its quality but covers at most ~1/10 of the
  // reference; noise images are off the manifold.
  EXPECT_GT(pr_real.precision, 0.6);
  EXPECT_GT(pr_real.recall, 0.6);
  EXPECT_GT(pr_one.precision, 0.5);
  EXPECT_LT(pr_one.recall, 0.2);
  EXPECT_LT(pr_noise.precision, 0.05);
  // Histogram: ~uniform for real samples (each class 60 ± a few misclassified), a spike for the
  // collapsed set. Bounds allow the 20% test error the accuracy test tolerates.
  ASSERT_EQ(real.sample_class_histogram.size(), static_cast<size_t>(kClassCount));
  double total = 0.0;
  for (double f : real.sample_class_histogram) {
    EXPECT_GT(f, 0.02);
    EXPECT_LT(f, 0.3);
    total += f;
  }
  EXPECT_NEAR(total, 1.0, 1e-12);
  EXPECT_GT(collapsed.sample_class_histogram[3], 0.8);
}

TEST_F(ClassifierPipeline, PrecisionRecallUseTheFidFeatures) {
  // The result equals precision_recall of the classifier's features with the reference as the
  // real set: same features, roles not swapped (the two directions differ here), exactly.
  const at::Tensor reference = synthetic(300, 50, "ref").x;
  const at::Tensor samples = synthetic(200, 51, "one", 7).x;
  const FidResult f = classifier_fid(*classifier_, samples, reference);
  FidClassifier model = classifier_->model;
  const PrecisionRecall direct =
      precision_recall(classifier_features(model, reference), classifier_features(model, samples));
  EXPECT_EQ(f.precision_recall.precision, direct.precision);
  EXPECT_EQ(f.precision_recall.recall, direct.recall);
  EXPECT_NE(direct.precision, direct.recall);
  EXPECT_EQ(f.precision_recall.n_real, 300);
  EXPECT_EQ(f.precision_recall.n_fake, 200);
}

TEST_F(ClassifierPipeline, RejectsBadImagesWithClearMessages) {
  const at::Tensor ok = synthetic(200, 30, "ok").x;
  const std::string shape = error_message([&] {
    classifier_fid(*classifier_, torch::rand({200, 3, 32, 32}), ok);
  });
  EXPECT_NE(shape.find("(N, 1, 28, 28)"), std::string::npos) << shape;
  EXPECT_NE(shape.find("mnist / fashion-mnist"), std::string::npos) << shape;
  EXPECT_NE(error_message([&] {
              classifier_fid(*classifier_, ok, torch::rand({200, 784}));
            }).find("reference images have shape"),
            std::string::npos);
  // The 3-NN balls of precision/recall need 4 images in each set.
  const std::string few =
      error_message([&] { classifier_fid(*classifier_, ok.slice(0, 0, 3), ok); });
  EXPECT_NE(few.find("too few"), std::string::npos) << few;
  EXPECT_NE(few.find("at least 4"), std::string::npos) << few;
  EXPECT_NO_THROW(classifier_fid(*classifier_, ok.slice(0, 0, 4), ok.slice(0, 0, 4)));
  at::Tensor nan = ok.clone();
  nan[5][0][3][3] = std::nan("");
  EXPECT_NE(error_message([&] { classifier_fid(*classifier_, nan, ok); }).find("NaN"),
            std::string::npos);
  // Fewer samples than feature dimensions: a result, with a warning saying why it is biased.
  const FidResult small = classifier_fid(*classifier_, ok.slice(0, 0, 50), ok);
  EXPECT_TRUE(std::isfinite(small.fid));
  EXPECT_NE(small.warning.find("50 samples"), std::string::npos) << small.warning;
}

TEST(TrainClassifier, RejectsUnlabelledOrWrongShapedData) {
  data::Dataset good = synthetic(64, 40, "s/train");
  data::Dataset unlabelled = good;
  unlabelled.labels = at::Tensor();
  EXPECT_NE(
      error_message([&] { train_classifier(unlabelled, good, quick_options(1)); }).find("label"),
      std::string::npos);
  data::Dataset colour = good;
  colour.x = torch::rand({64, 3, 28, 28});
  EXPECT_NE(error_message([&] {
              train_classifier(colour, good, quick_options(1));
            }).find("(N, 1, 28, 28)"),
            std::string::npos);
  ClassifierOptions bad = quick_options(1);
  bad.batch = 0;
  EXPECT_THROW(train_classifier(good, good, bad), Error);
}

TEST(TrainClassifier, SeededAndLeavesTheGlobalStreamAlone) {
  const data::Dataset d = synthetic(64, 41, "s/train");
  seed_global(99);
  const TrainedClassifier a = train_classifier(d, d, quick_options(3));
  const double next = at::rand({1}).item<double>();
  seed_global(99);
  at::rand({1});  // a different global stream position must not change the weights
  const TrainedClassifier b = train_classifier(d, d, quick_options(3));
  seed_global(99);
  EXPECT_EQ(at::rand({1}).item<double>(), next);  // training drew nothing from the global stream
  const auto pa = a.model->parameters(), pb = b.model->parameters();
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << i;
}

// ---- the cache ----

std::set<std::string> files_in(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.insert(e.path().filename().string());
  return names;
}

struct CacheCall {
  TrainedClassifier classifier;
  std::vector<std::string> messages;
  int loads = 0;  // times the data were loaded (= trained)
};

CacheCall cached(const std::string& path) {
  CacheCall call;
  const auto load = [&] {
    ++call.loads;
    return data::Splits{synthetic(64, 50, "synthetic/train"), synthetic(32, 51, "synthetic/test")};
  };
  call.classifier =
      load_or_train_classifier_file(path, "synthetic", load, quick_options(2),
                                    [&](const std::string& m) { call.messages.push_back(m); });
  return call;
}

bool any_contains(const std::vector<std::string>& messages, const std::string& text) {
  for (const auto& m : messages)
    if (m.find(text) != std::string::npos) return true;
  return false;
}

TEST(ClassifierCache, TrainsOnceThenLoadsTheSameWeights) {
  testing::TempDir dir;
  const std::string path = dir.file("classifiers/synthetic-classifier.safetensors");
  const CacheCall first = cached(path);
  EXPECT_EQ(first.loads, 1);
  EXPECT_FALSE(first.classifier.loaded_from_cache);
  EXPECT_TRUE(any_contains(first.messages, "training one")) << first.messages.at(0);
  const CacheCall second = cached(path);
  EXPECT_EQ(second.loads, 0);
  EXPECT_TRUE(second.classifier.loaded_from_cache);
  EXPECT_TRUE(any_contains(second.messages, "loaded")) << second.messages.at(0);
  EXPECT_EQ(second.classifier.steps, 2);
  EXPECT_NEAR(second.classifier.test_accuracy, first.classifier.test_accuracy, 1e-6);  // %.6f
  const auto pa = first.classifier.model->parameters(), pb = second.classifier.model->parameters();
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << i;
  // Atomic writes: the weights and the JSON, no temp file left beside them.
  EXPECT_EQ(
      files_in(dir.file("classifiers")),
      (std::set<std::string>{"synthetic-classifier.safetensors", "synthetic-classifier.json"}));
  const std::string json = io::read_file(dir.file("classifiers/synthetic-classifier.json"));
  EXPECT_NE(json.find("\"architecture_version\": " + std::to_string(kClassifierVersion)),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"test_accuracy\""), std::string::npos) << json;
}

TEST(ClassifierCache, ReplacesACorruptFileWithAMessage) {
  testing::TempDir dir;
  const std::string path = dir.file("c.safetensors");
  io::write_file_atomic(path, "not a safetensors file");
  const CacheCall call = cached(path);
  EXPECT_EQ(call.loads, 1);
  EXPECT_TRUE(any_contains(call.messages, "unusable")) << call.messages.at(0);
  EXPECT_EQ(cached(path).loads, 0);  // the replacement is valid
  EXPECT_EQ(files_in(dir.str()), (std::set<std::string>{"c.safetensors", "c.json"}));
}

TEST(ClassifierCache, RetrainsOnAnotherArchitectureVersion) {
  testing::TempDir dir;
  const std::string path = dir.file("c.safetensors");
  cached(path);
  std::map<std::string, std::string> meta;
  const io::NamedTensors tensors = io::load_safetensors(path, &meta);
  meta["deepgen_classifier_version"] = std::to_string(kClassifierVersion + 1);
  io::save_safetensors(path, tensors, meta);
  const CacheCall call = cached(path);
  EXPECT_EQ(call.loads, 1);
  EXPECT_TRUE(any_contains(call.messages, "architecture version")) << call.messages.at(0);
}

TEST(ClassifierCache, NamesOnlyTheMnistFamilies) {
  EXPECT_EQ(classifier_cache_path("mnist", "/data"),
            "/data/classifiers/mnist-classifier.safetensors");
  EXPECT_EQ(classifier_cache_path("fashion-mnist", "/d"),
            "/d/classifiers/fashion-mnist-classifier.safetensors");
  EXPECT_NE(error_message([] { classifier_cache_path("cifar10", "/d"); }).find("cifar10"),
            std::string::npos);
}

}  // namespace
}  // namespace deepgen::eval
