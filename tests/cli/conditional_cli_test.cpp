// Class-conditional runs end to end (issue 15): labels from a CSV column, the class names saved
// with the run, `sample --class` by name and index, `--per-class` grids, the class accuracy of
// `eval`, and one-line errors for what cannot be asked.
#include <cmath>

#include "cli_support.h"
#include "deepgen/io/image.h"

namespace {

namespace fs = std::filesystem;
using deepgen::testing::TempDir;
using nlohmann::json;

// 2-D points whose first coordinate is −2 for class "left" and +2 for class "right" (noise 0.1),
// the second N(0, 0.5²): a class-conditional model must put each class on its own side.
std::string two_sided_csv(TempDir& dir) {
  const std::string path = dir.file("sides.csv");
  std::ofstream out(path);
  out << "x,y,side\n";
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  const at::Tensor noise = at::randn({1200, 2}, gen).contiguous();
  const auto n = noise.accessor<float, 2>();
  for (int64_t i = 0; i < 1200; ++i) {
    const bool right = i % 2 == 1;
    out << (right ? 2.0 : -2.0) + 0.1 * n[i][0] << "," << 0.5 * n[i][1] << ","
        << (right ? "right" : "left") << "\n";
  }
  return path;
}

std::vector<std::string> train_args(const std::string& data, const std::string& out,
                                    std::vector<std::string> more) {
  std::vector<std::string> args{
      "train",          "vdm",         "--data",    "csv:" + data, "--label-column", "side",
      "--out",          out,           "--batch",   "128",         "--hidden",       "64",
      "--sample-steps", "50",          "--threads", "1",           "--lr",           "3e-3",
      "--conditional",  "--log-every", "100"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

double mean_x(const std::vector<std::vector<double>>& rows) {
  double s = 0;
  for (const auto& r : rows) s += r.at(0);
  return s / static_cast<double>(rows.size());
}

// One training serves the tests below (400 steps of a 64-wide MLP VDM, a few seconds).
class CliConditional : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    run_ = dir_->file("run");
    const Result r = deepgen(train_args(two_sided_csv(*dir_), run_, {"--steps", "400"}));
    ASSERT_TRUE(succeeded(r));
  }
  static void TearDownTestSuite() { delete dir_; }
  static TempDir* dir_;
  static std::string run_;
};
TempDir* CliConditional::dir_ = nullptr;
std::string CliConditional::run_;

TEST_F(CliConditional, SavesTheClassNamesAndTheirCount) {
  EXPECT_EQ(json::parse(read_text(run_ + "/classes.json")), json({"left", "right"}));
  const json config = json::parse(read_text(run_ + "/config.json"));
  EXPECT_EQ(config["model_options"]["classes"], 2);
  EXPECT_EQ(config["model_options"]["conditional"], true);
}

// Each class's samples sit on their side: the class means are ±2 and the model's samples of a
// class have a mean within 0.5 of it (400 samples, spread ~0.1-0.3: far inside), so a model
// that ignored the label (mean ≈ 0) fails by 1.5.
TEST_F(CliConditional, SamplesOfAClassByNameOrIndexFollowTheClass) {
  const std::string left = dir_->file("left.csv"), right = dir_->file("right.csv");
  ASSERT_TRUE(succeeded(
      deepgen({"sample", "--run", run_, "--class", "left", "--n", "400", "--out", left})));
  ASSERT_TRUE(
      succeeded(deepgen({"sample", "--run", run_, "--class", "1", "--n", "400", "--out", right})));
  const auto l = read_csv(left), r = read_csv(right);
  ASSERT_EQ(l.size(), 400u);
  EXPECT_NEAR(mean_x(l), -2.0, 0.5);
  EXPECT_NEAR(mean_x(r), 2.0, 0.5);
}

// With label dropout (0.1, the default) the model is also unconditional, and guidance pushes
// each class further to its side of the unconditional mixture: w = 3 moves the samples' mean
// away from 0 at least as far as w = 0 does (tolerance 0.05 for sampling noise).
TEST_F(CliConditional, GuidanceAndPerClassRows) {
  const std::string plain = dir_->file("g0.csv"), guided = dir_->file("g3.csv");
  ASSERT_TRUE(succeeded(deepgen({"sample", "--run", run_, "--class", "right", "--n", "400",
                                 "--guidance", "0", "--out", plain})));
  ASSERT_TRUE(succeeded(deepgen({"sample", "--run", run_, "--class", "right", "--n", "400",
                                 "--guidance", "3", "--out", guided})));
  EXPECT_GT(mean_x(read_csv(guided)), mean_x(read_csv(plain)) - 0.05);
  const std::string rows = dir_->file("rows.csv");
  ASSERT_TRUE(succeeded(deepgen({"sample", "--run", run_, "--per-class", "3", "--out", rows})));
  const auto r = read_csv(rows);
  ASSERT_EQ(r.size(), 6u);  // class 0 three times, then class 1
  EXPECT_LT(r[0][0], 0.0);
  EXPECT_GT(r[5][0], 0.0);
}

// inpaint --class: points (2, 0) with their first coordinate unknown are completed on the side
// of the class asked for, so the error over the unknown values is small for "right" (the truth,
// 2) and about 4² for "left" (mean −2: 16 ± spread; thresholds 1 and 9 leave room for the spread
// and a 400-step model's bias of up to 0.5, as above). An unconditional run refuses --class.
TEST_F(CliConditional, InpaintingWithAClassCompletesOnItsSide) {
  const std::string points = dir_->file("at-two.csv");
  {
    std::ofstream out(points);
    out << "x,y\n";
    for (int i = 0; i < 100; ++i) out << "2,0\n";
  }
  const auto masked_mse = [&](const std::string& cls, const std::string& out) {
    const Result r = deepgen({"inpaint", "--run", run_, "--images", points, "--n", "100", "--mask",
                              "left", "--class", cls, "--out", out});
    EXPECT_TRUE(succeeded(r));
    const json summary = json::parse(read_text(out + "/inpaint.json"));
    EXPECT_EQ(summary["class"], cls);
    return summary["masked_mse"].get<double>();
  };
  EXPECT_LT(masked_mse("right", dir_->file("in-right")), 1.0);
  EXPECT_GT(masked_mse("0", dir_->file("in-left")), 9.0);
  EXPECT_TRUE(one_line_error(deepgen({"inpaint", "--run", run_, "--images", points, "--mask",
                                      "left", "--class", "up", "--out", dir_->file("in-up")}),
                             "'left'"));
  EXPECT_FALSE(fs::exists(dir_->file("in-up")));
}

// eval --ode on a conditional run estimates −log p(x|y) with each test point's own class
// (VdmFlow.AConditionalFlowUsesEachRowsClass checks the class reaches ε̂), labelled so, and
// finite.
TEST_F(CliConditional, OdeLikelihoodIsOfTheClassGivenTheExample) {
  const json ev = only_json_object(
      deepgen({"eval", "--run", run_, "--max-batches", "1", "--ode", "--ode-examples", "128"}));
  ASSERT_TRUE(ev.contains("ode")) << ev.dump();
  EXPECT_NE(ev["likelihoods"]["ode"].get<std::string>().find("p(x|y)"), std::string::npos);
  const double ode = ev["ode"]["nats"].get<double>();
  EXPECT_TRUE(std::isfinite(ode));
  EXPECT_EQ(ev["ode"]["examples"], 120);  // the whole test split: 10 % of 1200 points
}

TEST_F(CliConditional, ImpossibleRequestsAreOneLineErrorsAndWriteNothing) {
  const std::string out = dir_->file("none.csv");
  EXPECT_TRUE(
      one_line_error(deepgen({"sample", "--run", run_, "--class", "up", "--out", out}), "'left'"));
  EXPECT_TRUE(one_line_error(deepgen({"sample", "--run", run_, "--class", "2", "--out", out}),
                             "not a class"));
  EXPECT_TRUE(one_line_error(
      deepgen({"sample", "--run", run_, "--class", "left", "--per-class", "2", "--out", out}),
      "not both"));
  EXPECT_FALSE(fs::exists(out));
  // Class accuracy asks the MNIST classifier: not for points.
  EXPECT_TRUE(one_line_error(deepgen({"eval", "--run", run_, "--class-samples", "4"}),
                             "mnist or fashion-mnist"));
}

TEST(CliConditionalErrors, UnlabelledDataUnconditionalRunsAndGuidanceWithoutDropout) {
  TempDir dir;
  const std::string csv = two_sided_csv(dir), run = dir.file("run");
  // toy data have no labels
  EXPECT_TRUE(one_line_error(deepgen({"train", "vdm", "--data", "toy:moons", "--conditional",
                                      "--steps", "2", "--out", run}),
                             "no class labels"));
  EXPECT_FALSE(fs::exists(run + "/checkpoint.pt"));
  // --guidance on a model trained without label dropout has no unconditional half
  EXPECT_TRUE(one_line_error(
      deepgen(train_args(csv, run, {"--steps", "2", "--label-dropout", "0", "--guidance", "1"})),
      "--label-dropout"));
  // an unconditional run cannot be asked for a class
  const std::string plain = dir.file("plain");
  std::vector<std::string> args = train_args(csv, plain, {"--steps", "2"});
  args.erase(std::find(args.begin(), args.end(), "--conditional"));
  ASSERT_TRUE(succeeded(deepgen(args)));
  EXPECT_TRUE(one_line_error(
      deepgen({"sample", "--run", plain, "--class", "left", "--out", dir.file("x.csv")}),
      "unconditional"));
  EXPECT_FALSE(fs::exists(dir.file("x.csv")));
  EXPECT_TRUE(one_line_error(
      deepgen({"inpaint", "--run", plain, "--class", "left", "--out", dir.file("in")}),
      "unconditional"));
  EXPECT_FALSE(fs::exists(dir.file("in")));
}

}  // namespace

namespace {

// Two classes of 8×8 grey images (dark, light) in an ImageFolder layout.
std::string two_class_folder(TempDir& dir) {
  const std::string root = dir.file("imgs");
  for (const char* c : {"dark", "light"}) {
    fs::create_directories(root + "/" + c);
    for (int i = 0; i < 6; ++i) {
      const double level = std::string(c) == "dark" ? 0.2 : 0.8;
      deepgen::io::write_png(root + "/" + c + "/" + std::to_string(i) + ".png",
                             torch::full({1, 8, 8}, level));
    }
  }
  return root;
}

// The score family conditions its image U-Net the same way (ncsn only): a per-class grid of a
// conditional NCSN is drawn, and points or another method are refused with one line.
TEST(CliConditionalScore, NcsnOnAClassFolderDrawsAGridPerClass) {
  TempDir dir;
  const std::string data = "folder:" + two_class_folder(dir), run = dir.file("run");
  const std::vector<std::string> small{"--channels",        "8,16", "--blocks",  "1",
                                       "--num-sigmas",      "3",    "--batch",   "4",
                                       "--steps-per-level", "2",    "--threads", "1"};
  std::vector<std::string> args{"train",   "score", "--data", data, "--conditional",
                                "--steps", "3",     "--out",  run};
  args.insert(args.end(), small.begin(), small.end());
  ASSERT_TRUE(succeeded(deepgen(args)));
  EXPECT_EQ(json::parse(read_text(run + "/classes.json")), json({"dark", "light"}));
  const std::string grid = dir.file("grid.png");
  ASSERT_TRUE(succeeded(
      deepgen({"sample", "--run", run, "--per-class", "2", "--guidance", "1", "--out", grid})));
  EXPECT_EQ(deepgen::io::read_image(grid).size(1), 2 * 8 + 3 * 2);  // two rows, padding 2
  args.push_back("--method");
  args.push_back("dsm");
  EXPECT_TRUE(one_line_error(deepgen(args), "ncsn"));
}

}  // namespace
