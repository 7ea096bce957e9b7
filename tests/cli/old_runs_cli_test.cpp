// Run directories written before the option tables (tests/run/fixtures, by deepgen at f1073c2)
// resume, sample and evaluate with today's binary.
#include "cli_support.h"

namespace {

const std::string kFixtures = DEEPGEN_SOURCE_DIR "/tests/run/fixtures";

// The command lines that wrote the fixtures (20 steps each).
std::vector<std::string> fixture_args(const std::string& model) {
  const std::vector<std::string> common{"--data", "toy:moons", "--batch", "32", "--threads", "1",
                                        "--log-every", "10"};
  std::vector<std::string> a{"train", model};
  a.insert(a.end(), common.begin(), common.end());
  if (model == "vae") a.insert(a.end(), {"--latent", "2", "--hidden", "16"});
  if (model == "vdm") a.insert(a.end(), {"--hidden", "16", "--sample-steps", "10"});
  if (model == "score")
    a.insert(a.end(), {"--method", "dsm", "--sigma", "0.3", "--hidden", "16,16",
                       "--langevin-steps", "20"});
  return a;
}

class OldRunCli : public ::testing::TestWithParam<std::string> {};

// 20 steps by the old binary + 5 resumed by this one == 25 straight steps by this one.
TEST_P(OldRunCli, ResumesBitForBit) {
  TempDir dir;
  const std::string old = dir.file("old"), straight = dir.file("straight");
  fs::copy(kFixtures + "/" + GetParam() + "-toy", old);
  Result resumed = deepgen({"train", "--out", old, "--resume", "--steps", "25"});
  ASSERT_TRUE(succeeded(resumed)) << describe(resumed);
  EXPECT_NE(resumed.err.find("resumed from step 20"), std::string::npos) << describe(resumed);
  std::vector<std::string> args = fixture_args(GetParam());
  args.insert(args.end(), {"--out", straight, "--steps", "25"});
  ASSERT_TRUE(succeeded(deepgen(args)));
  EXPECT_TRUE(same_weights(old, straight));
}

TEST_P(OldRunCli, SamplesWithItsOwnOptions) {
  TempDir dir;
  Result r = deepgen({"sample", "--run", kFixtures + "/" + GetParam() + "-toy", "--n", "7",
                      "--out", dir.file("s.csv")});
  ASSERT_TRUE(succeeded(r)) << describe(r);
  EXPECT_EQ(read_csv(dir.file("s.csv")).size(), 7u);
}

INSTANTIATE_TEST_SUITE_P(Families, OldRunCli, ::testing::Values("vae", "vdm", "score"));

}  // namespace
