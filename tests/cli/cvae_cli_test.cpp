// The conditional VAE end to end (issue 15): trained on a folder of two class subfolders (the
// ImageFolder layout), it generates each class on request, by name or index.
#include <cstring>

#include "cli_support.h"
#include "deepgen/io/image.h"

namespace {

namespace fs = std::filesystem;
using deepgen::testing::TempDir;
using nlohmann::json;

constexpr int64_t kSide = 8;
constexpr double kBright = 200.0, kDark = 40.0;  // grey levels of the two halves

// n 8x8 grey PNGs in dir/name/: one half at kBright, the other at kDark (the bright half on the
// left, or mirrored), each pixel ± up to 15 levels of uniform noise.
void write_class(const fs::path& dir, const std::string& name, bool bright_left, int64_t n,
                 at::Generator& gen) {
  fs::create_directories(dir / name);
  const at::Tensor cols = at::arange(kSide).view({1, 1, kSide}).expand({1, kSide, kSide});
  const at::Tensor left = cols < kSide / 2;
  const at::Tensor bright = bright_left ? left : left.logical_not();
  const at::Tensor clean = at::where(bright, kBright, kDark);
  for (int64_t i = 0; i < n; ++i) {
    const at::Tensor noise = (at::rand({1, kSide, kSide}, gen, at::kFloat) * 30.0 - 15.0).round();
    deepgen::io::write_png((dir / name / (std::to_string(i) + ".png")).string(),
                           (clean + noise).clamp(0, 255).to(at::kByte));
  }
}

// The float32 array of a .npy file written by `sample --out FILE.npy` (n, 1, 8, 8): its data
// are the last n·64·4 bytes, after the header that names the shape.
at::Tensor read_samples(const std::string& path, int64_t n) {
  const std::string bytes = read_text(path);
  const std::string shape = "(" + std::to_string(n) + ", 1, 8, 8)";
  EXPECT_NE(bytes.find(shape), std::string::npos) << path << " lacks shape " << shape;
  const size_t size = static_cast<size_t>(n * kSide * kSide) * sizeof(float);
  if (bytes.size() < size) return at::zeros({n, 1, kSide, kSide});
  at::Tensor x = at::empty({n, 1, kSide, kSide}, at::kFloat);
  std::memcpy(x.data_ptr<float>(), bytes.data() + bytes.size() - size, size);
  return x;
}

// Per sample: mean of the left half minus mean of the right half, in [0, 1] pixel units.
at::Tensor contrast(const at::Tensor& x) {
  const auto halves = x.chunk(2, 3);
  return halves[0].mean({1, 2, 3}) - halves[1].mean({1, 2, 3});
}

// One folder and one 1000-step run (a 32-wide MLP CVAE on 8x8 images, about 2 s) serve the
// tests below. (400 steps at 3e-3 were too few: the decoder still leaned on z for the class.)
class CliCvae : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    data_ = dir_->file("sides");
    auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
    write_class(data_, "bright_right", false, 64, gen);  // written first: names decide order
    write_class(data_, "bright_left", true, 64, gen);
    run_ = dir_->file("run");
    const Result r = deepgen({"train", "vae", "--data", "folder:" + data_, "--conditional", "--out",
                              run_, "--steps", "1000", "--batch", "32", "--hidden", "32",
                              "--latent", "2", "--lr", "1e-2", "--threads", "1"});
    ASSERT_TRUE(succeeded(r));
  }
  static void TearDownTestSuite() { delete dir_; }
  static TempDir* dir_;
  static std::string data_, run_;
};
TempDir* CliCvae::dir_ = nullptr;
std::string CliCvae::data_, CliCvae::run_;

// The classes' left-minus-right contrast is ±(200 − 40)/255 = ±0.627 (the noise averages out
// over the 32 pixels of a half). Every one of 16 samples of a class must be within 0.15 of its
// class's contrast (measured with train seeds 0-3: 0.622 to 0.639 and −0.636 to −0.614); a
// decoder that ignored y would draw both classes from one mixture, so about half its samples
// (or blurred ones, contrast near 0) fail by 0.6 or more.
TEST_F(CliCvae, GeneratesEachClassOnRequestByNameOrIndex) {
  const json config = json::parse(read_text(run_ + "/config.json"));
  EXPECT_EQ(config["model_options"]["classes"], 2);
  EXPECT_EQ(json::parse(read_text(run_ + "/classes.json")), json({"bright_left", "bright_right"}));
  const std::string left = dir_->file("left.npy"), right = dir_->file("right.npy");
  ASSERT_TRUE(succeeded(
      deepgen({"sample", "--run", run_, "--class", "bright_left", "--n", "16", "--out", left})));
  ASSERT_TRUE(
      succeeded(deepgen({"sample", "--run", run_, "--class", "1", "--n", "16", "--out", right})));
  const double want = (kBright - kDark) / 255.0;
  const at::Tensor l = contrast(read_samples(left, 16)), r = contrast(read_samples(right, 16));
  EXPECT_LT((l - want).abs().max().item<double>(), 0.15) << "bright_left contrasts " << l;
  EXPECT_LT((r + want).abs().max().item<double>(), 0.15) << "bright_right contrasts " << r;
}

// eval reports the bound of x given its class, and says so.
TEST_F(CliCvae, EvalBoundsAreOnXGivenY) {
  const Result r = deepgen({"eval", "--run", run_});
  ASSERT_TRUE(succeeded(r));
  const json out = only_json_object(r);
  ASSERT_TRUE(out["metrics"].contains("neg_elbo")) << out.dump();
  EXPECT_TRUE(std::isfinite(out["metrics"]["neg_elbo"].get<double>())) << out.dump();
  EXPECT_NE(out["likelihoods"]["neg_elbo"].get<std::string>().find("p(x|y)"), std::string::npos)
      << out.dump();
}

TEST_F(CliCvae, WhatACvaeCannotDoIsOneLineError) {
  const std::string out = dir_->file("none.npy");
  EXPECT_TRUE(one_line_error(
      deepgen({"sample", "--run", run_, "--class", "bright_up", "--out", out}), "bright_left"));
  EXPECT_TRUE(one_line_error(
      deepgen({"sample", "--run", run_, "--class", "0", "--guidance", "1", "--out", out}),
      "guidance"));
  EXPECT_FALSE(fs::exists(out));
  const std::string svi = dir_->file("svi");
  EXPECT_TRUE(one_line_error(
      deepgen({"train", "vae", "--data", "folder:" + data_, "--conditional", "--inference", "svi",
               "--out", svi, "--steps", "1", "--threads", "1"}),
      "--conditional"));
  EXPECT_FALSE(fs::exists(svi + "/model.safetensors"));
}

}  // namespace
