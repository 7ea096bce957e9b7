// Run directories written before the option tables (tests/run/fixtures, by deepgen at f1073c2)
// resume, sample and evaluate with today's binary.
#include "cli_support.h"
#include "deepgen/io/safetensors.h"

namespace {

const std::string kFixtures = DEEPGEN_SOURCE_DIR "/tests/run/fixtures";

// The command lines that wrote the fixtures (20 steps each).
std::vector<std::string> fixture_args(const std::string& model) {
  const std::vector<std::string> common{"--data",    "toy:moons", "--batch",     "32",
                                        "--threads", "1",         "--log-every", "10"};
  std::vector<std::string> a{"train", model};
  a.insert(a.end(), common.begin(), common.end());
  if (model == "vae") a.insert(a.end(), {"--latent", "2", "--hidden", "16"});
  if (model == "vdm") a.insert(a.end(), {"--hidden", "16", "--sample-steps", "10"});
  if (model == "score")
    a.insert(a.end(),
             {"--method", "dsm", "--sigma", "0.3", "--hidden", "16,16", "--langevin-steps", "20"});
  return a;
}

class OldRunCli : public ::testing::TestWithParam<std::string> {};

// Largest |a - b| over the tensors of two weight files of the same model.
double max_difference(const std::string& a, const std::string& b) {
  const auto x = deepgen::io::load_safetensors(a + "/model.safetensors");
  const auto y = deepgen::io::load_safetensors(b + "/model.safetensors");
  EXPECT_EQ(x.size(), y.size());
  double d = 0;
  for (size_t i = 0; i < std::min(x.size(), y.size()); ++i)
    d = std::max(d, (x[i].second - y[i].second).abs().max().item<double>());
  return d;
}

// An old checkpoint resumes exactly: 20 old steps + 5 resumed in one go equal 20 + 2 + 3. And
// they equal 25 straight steps of this binary within 1e-5: bit for bit on the machine that
// wrote the fixture, but another CPU's kernels round the straight run's first 20 steps
// differently. Restoring the optimiser's moments or the random stream wrongly moves the weights
// by ~1e-3 (5 Adam steps of lr 1e-3), far above that.
TEST_P(OldRunCli, ResumesExactly) {
  TempDir dir;
  const std::string once = dir.file("once"), twice = dir.file("twice"),
                    straight = dir.file("straight");
  fs::copy(kFixtures + "/" + GetParam() + "-toy", once);
  fs::copy(kFixtures + "/" + GetParam() + "-toy", twice);
  Result resumed = deepgen({"train", "--out", once, "--resume", "--steps", "25"});
  ASSERT_TRUE(succeeded(resumed)) << describe(resumed);
  EXPECT_NE(resumed.err.find("resumed from step 20"), std::string::npos) << describe(resumed);
  ASSERT_TRUE(succeeded(deepgen({"train", "--out", twice, "--resume", "--steps", "22"})));
  ASSERT_TRUE(succeeded(deepgen({"train", "--out", twice, "--resume", "--steps", "25"})));
  EXPECT_TRUE(same_weights(once, twice));
  std::vector<std::string> args = fixture_args(GetParam());
  // The fixtures predate --precision: they were trained, and resume, in float32.
  args.insert(args.end(), {"--out", straight, "--steps", "25", "--precision", "fp32"});
  ASSERT_TRUE(succeeded(deepgen(args)));
  EXPECT_LT(max_difference(once, straight), 1e-5);
}

TEST_P(OldRunCli, SamplesWithItsOwnOptions) {
  TempDir dir;
  Result r = deepgen({"sample", "--run", kFixtures + "/" + GetParam() + "-toy", "--n", "7", "--out",
                      dir.file("s.csv")});
  ASSERT_TRUE(succeeded(r)) << describe(r);
  EXPECT_EQ(read_csv(dir.file("s.csv")).size(), 7u);
}

INSTANTIATE_TEST_SUITE_P(Families, OldRunCli, ::testing::Values("vae", "vdm", "score"));

}  // namespace
