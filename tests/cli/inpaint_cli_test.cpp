// deepgen inpaint (issue 15, BEYOND B5) end to end on tiny runs: the picture, the completions
// with their known values exact, the error summary, and one-line errors that write nothing.
#include <cstring>

#include "cli_support.h"
#include "deepgen/io/image.h"

namespace {

namespace fs = std::filesystem;
using deepgen::testing::TempDir;
using nlohmann::json;

// The float32 data of a .npy file deepgen wrote (format 1.0: magic, header length, header).
std::vector<float> read_npy_floats(const std::string& path) {
  const std::string bytes = read_text(path);
  if (bytes.size() < 10) return {};
  const size_t header = static_cast<unsigned char>(bytes[8]) |
                        (static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8);
  std::vector<float> v((bytes.size() - 10 - header) / sizeof(float));
  std::memcpy(v.data(), bytes.data() + 10 + header, v.size() * sizeof(float));
  return v;
}

// An image file's pixels as the data units the model sees: k / 255, row-major (grey).
std::vector<float> pixels(const std::string& png) {
  const at::Tensor im = deepgen::io::read_image(png).to(torch::kFloat).div(255).contiguous();
  return std::vector<float>(im.data_ptr<float>(), im.data_ptr<float>() + im.numel());
}

// Tiny runs trained once for every test: a VDM and a VAE on twelve 8x8 grey images (four held
// out for test), and a dsm and an ncsn score model on toy points.
class CliInpaint : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    images_ = dir_->file("imgs");
    fs::create_directories(images_);
    for (int i = 0; i < 12; ++i)
      deepgen::io::write_png(images_ + "/im" + std::to_string(i) + ".png",
                             torch::rand({1, 8, 8}, at::make_generator<at::CPUGeneratorImpl>(i)));
    const std::string toy = dir_->file("toy.json");
    std::ofstream(toy) << R"({"data": {"toy_train": 512, "toy_test": 128}})";
    const std::vector<std::string> folder{"--data",          "folder:" + images_,
                                          "--test-fraction", "0.34",
                                          "--steps",         "2",
                                          "--batch",         "4",
                                          "--threads",       "1"};
    const std::vector<std::string> points{"--data",   "toy:moons", "--config",  toy,
                                          "--steps",  "2",         "--batch",   "64",
                                          "--hidden", "16",        "--threads", "1"};
    auto train = [](std::vector<std::string> args, const std::vector<std::string>& more) {
      args.insert(args.end(), more.begin(), more.end());
      return succeeded(deepgen(args));
    };
    ASSERT_TRUE(
        train({"train", "vdm", "--out", run("vdm"), "--channels", "8,16", "--sample-steps", "4"},
              folder));
    ASSERT_TRUE(
        train({"train", "vae", "--out", run("vae"), "--hidden", "16", "--latent", "2"}, folder));
    ASSERT_TRUE(
        train({"train", "score", "--out", run("dsm"), "--method", "dsm", "--langevin-steps", "10"},
              points));
    ASSERT_TRUE(train(
        {"train", "score", "--out", run("ncsn"), "--num-sigmas", "3", "--steps-per-level", "2"},
        points));
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string run(const std::string& name) { return dir_->file(name); }
  static TempDir* dir_;
  static std::string images_;
};
TempDir* CliInpaint::dir_ = nullptr;
std::string CliInpaint::images_;

// The default inputs are the test split's first n (here all 4), the default mask the bottom half.
// The picture has a row per input: truth, masked input, then each of the 2 completions.
TEST_F(CliInpaint, VdmWritesThePictureTheCompletionsAndTheirError) {
  const std::string out = dir_->file("vdm-out");
  const Result r = deepgen({"inpaint", "--run", run("vdm"), "--out", out, "--samples", "2",
                            "--resample", "2", "--steps", "3"});
  ASSERT_TRUE(succeeded(r));
  EXPECT_TRUE(r.out.empty());  // stdout stays free; the summary line is on stderr
  const at::Tensor picture = deepgen::io::read_image(out + "/inpaint.png");
  EXPECT_EQ(picture.size(0), 4 * 10 + 2);  // 4 rows of 8 pixels, padding 2
  EXPECT_EQ(picture.size(1), 4 * 10 + 2);  // truth, masked, 2 completions
  EXPECT_EQ(read_npy_floats(out + "/inpainted.npy").size(), 4u * 2 * 64);
  const json summary = json::parse(read_text(out + "/inpaint.json"));
  EXPECT_EQ(summary["inputs"], 4);
  EXPECT_EQ(summary["samples"], 2);
  EXPECT_DOUBLE_EQ(summary["unknown_fraction"].get<double>(), 0.5);
  EXPECT_GT(summary["masked_mse"].get<double>(), 0.0);
  EXPECT_EQ(summary["mask"], "bottom");
}

// Given images keep their known pixels bit for bit (the top half here: --mask bottom).
TEST_F(CliInpaint, GivenImagesKeepTheirKnownPixelsExactly) {
  for (const std::string model : {"vdm", "vae"}) {
    const std::string out = dir_->file(model + "-given");
    std::vector<std::string> args{"inpaint", "--run", run(model), "--images",      images_, "--n",
                                  "3",       "--out", out,        "--gibbs-steps", "3"};
    if (model == "vdm") args.insert(args.end(), {"--steps", "3"});  // a vdm sampling option
    ASSERT_TRUE(succeeded(deepgen(args)));
    const std::vector<float> done = read_npy_floats(out + "/inpainted.npy");
    ASSERT_EQ(done.size(), 3u * 64) << model;
    for (int i = 0; i < 3; ++i) {
      // load_image_folder's order: sorted by name (im0, im1, im10, ...).
      const std::vector<float> truth =
          pixels(images_ + "/im" + std::string(i == 2 ? "10" : std::to_string(i)) + ".png");
      for (int p = 0; p < 32; ++p) ASSERT_EQ(done[i * 64 + p], truth[p]) << model << " " << i;
    }
  }
  const std::string one = dir_->file("vae-one");
  ASSERT_TRUE(succeeded(deepgen({"inpaint", "--run", run("vae"), "--images", images_ + "/im5.png",
                                 "--mask", "random:0.3", "--out", one, "--gibbs-steps", "2"})));
  EXPECT_EQ(json::parse(read_text(one + "/inpaint.json"))["inputs"], 1);
}

// Points: ncsn completes the second coordinate (--mask bottom); RePaint is refused for it.
TEST_F(CliInpaint, NcsnPointsAndItsRefusalOfResampling) {
  const std::string out = dir_->file("ncsn-out");
  ASSERT_TRUE(succeeded(deepgen({"inpaint", "--run", run("ncsn"), "--out", out, "--n", "5"})));
  EXPECT_TRUE(is_png(out + "/inpaint.png"));
  EXPECT_EQ(read_npy_floats(out + "/inpainted.npy").size(), 5u * 2);
  const std::string again = dir_->file("ncsn-again");
  EXPECT_TRUE(one_line_error(
      deepgen({"inpaint", "--run", run("ncsn"), "--out", again, "--resample", "2"}), "resample"));
  EXPECT_FALSE(fs::exists(again));
}

// Each bad input: one line naming it and the fix, and no output folder.
TEST_F(CliInpaint, BadInputsAreOneLineAndWriteNothing) {
  const std::string out = dir_->file("bad");
  const std::string small = dir_->file("small.png");
  deepgen::io::write_png(small, torch::ones({1, 5, 5}));
  EXPECT_TRUE(one_line_error(
      deepgen({"inpaint", "--run", run("vdm"), "--mask", small, "--out", out}), "5x5"));
  EXPECT_TRUE(one_line_error(
      deepgen({"inpaint", "--run", run("vdm"), "--mask", small, "--out", out}), "8x8"));
  EXPECT_TRUE(one_line_error(
      deepgen({"inpaint", "--run", run("vdm"), "--mask", "middle", "--out", out}), "--mask"));
  EXPECT_TRUE(one_line_error(
      deepgen({"inpaint", "--run", run("vdm"), "--mask", "random:1.5", "--out", out}), "random:P"));
  EXPECT_TRUE(one_line_error(
      deepgen({"inpaint", "--run", run("vdm"), "--images", small, "--out", out}), "1x5x5"));
  EXPECT_TRUE(
      one_line_error(deepgen({"inpaint", "--run", run("dsm"), "--out", out}), "--method ncsn"));
  EXPECT_TRUE(one_line_error(deepgen({"inpaint", "--run", run("vdm")}), "--out"));
  EXPECT_FALSE(fs::exists(out));

  // An output folder that holds files is left as it was.
  fs::create_directories(out);
  std::ofstream(out + "/keep.txt") << "mine";
  EXPECT_TRUE(one_line_error(deepgen({"inpaint", "--run", run("vdm"), "--out", out}),
                             "not an empty folder"));
  EXPECT_EQ(read_text(out + "/keep.txt"), "mine");
  EXPECT_EQ(std::distance(fs::directory_iterator(out), fs::directory_iterator()), 1);
}

}  // namespace
