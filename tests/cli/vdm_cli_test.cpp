// deepgen train / sample / eval for the variational diffusion model (docs/diffusion.md): points
// and images, exact resume, samplers, and the bound's parts in bits/dim.
#include "cli_support.h"
#include "deepgen/io/image.h"

namespace {

namespace fs = std::filesystem;
using deepgen::testing::TempDir;
using nlohmann::json;

// A small VDM on 512 toy points; the caller adds --out and the rest.
std::vector<std::string> vdm_toy(TempDir& dir, const std::string& out,
                                 std::vector<std::string> more) {
  const std::string config = dir.file("small_toy.json");
  std::ofstream(config) << R"({"data": {"toy_train": 512, "toy_test": 128}})";
  std::vector<std::string> args{
      "train",   "vdm", "--data",   "toy:moons", "--out",          out,  "--config",  config,
      "--batch", "64",  "--hidden", "32",        "--sample-steps", "20", "--threads", "1"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

TEST(CliVdm, ToyRunReportsTheBoundInBitsPerDimAndASampleDistance) {
  TempDir dir;
  const std::string run = dir.file("run");
  ASSERT_TRUE(succeeded(deepgen(vdm_toy(dir, run, {"--steps", "60", "--log-every", "20"}))));
  json config = json::parse(read_text(run + "/config.json"));
  EXPECT_EQ(config["model_options"]["data_mean"].size(), 2u);  // standardisation recorded
  EXPECT_EQ(config["model_options"]["hidden"], 32);
  json ev = json::parse(read_text(run + "/eval.json"));
  const json& m = ev["metrics"];
  for (const char* key : {"bpd", "bpd_diffusion", "bpd_recon", "bpd_prior"})
    ASSERT_TRUE(m.contains(key)) << key << ev.dump();
  EXPECT_NEAR(m["bpd_diffusion"].get<double>() + m["bpd_recon"].get<double>() +
                  m["bpd_prior"].get<double>(),
              m["bpd"].get<double>(), 1e-4);
  EXPECT_NE(ev["units"].get<std::string>().find("bits per dimension"), std::string::npos);
  EXPECT_EQ(ev["sampling"],
            json({{"sampler", "ancestral"}, {"steps", 20}, {"grid", "t"}, {"nfe", 20}}));
  EXPECT_GT(ev["energy_distance"].get<double>(), 0.0);
  EXPECT_EQ(read_csv(run + "/samples.csv").size(), 2000u);
  EXPECT_TRUE(is_png(run + "/samples.png"));
  const auto rows = training_rows(run);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_LT(rows.back()["bpd"].get<double>(), rows.front()["bpd"].get<double>());
}

// The VDM draws t and ε from the global generator, which the checkpoint carries.
TEST(CliVdm, ResumedRunMatchesStraightRunBitForBit) {
  TempDir dir;
  const std::string a = dir.file("a"), b = dir.file("b");
  const std::vector<std::string> every{"--log-every", "10", "--checkpoint-every", "20"};
  auto with = [&](std::vector<std::string> more) {
    more.insert(more.end(), every.begin(), every.end());
    return more;
  };
  ASSERT_TRUE(succeeded(deepgen(vdm_toy(dir, a, with({"--steps", "20"})))));
  ASSERT_TRUE(
      succeeded(deepgen({"train", "--out", a, "--resume", "--steps", "40", "--threads", "1"})));
  ASSERT_TRUE(succeeded(deepgen(vdm_toy(dir, b, with({"--steps", "40"})))));
  EXPECT_TRUE(same_weights(a, b));
  // A sampling option may change on resume (it changes no weight); a trained one may not.
  ASSERT_TRUE(succeeded(deepgen({"train", "vdm", "--out", a, "--resume", "--steps", "41",
                                 "--threads", "1", "--sampler", "ddim", "--sample-steps", "5"})));
  EXPECT_EQ(json::parse(read_text(a + "/config.json"))["model_options"]["sampler"], "ddim");
  EXPECT_FALSE(succeeded(deepgen({"train", "vdm", "--out", a, "--resume", "--steps", "42",
                                  "--threads", "1", "--gamma-max", "4"})));
}

// bf16 networks (--precision, core/precision.h) change the arithmetic, not determinism: a
// resumed bf16 run equals a straight one bit for bit, and both differ from the float32 run.
TEST(CliVdm, Bf16RunResumesExactlyAndSaysItsPrecision) {
  TempDir dir;
  const std::string a = dir.file("a"), b = dir.file("b"), c = dir.file("c");
  const std::vector<std::string> every{"--log-every", "10", "--checkpoint-every", "20"};
  auto with = [&](std::vector<std::string> more) {
    more.insert(more.end(), every.begin(), every.end());
    return more;
  };
  const Result first = deepgen(vdm_toy(dir, a, with({"--steps", "20", "--precision", "bf16"})));
  ASSERT_TRUE(succeeded(first));
  EXPECT_NE(first.err.find("bf16 networks"), std::string::npos) << first.err;
  ASSERT_TRUE(
      succeeded(deepgen({"train", "--out", a, "--resume", "--steps", "40", "--threads", "1"})));
  ASSERT_TRUE(succeeded(deepgen(vdm_toy(dir, b, with({"--steps", "40", "--precision", "bf16"})))));
  EXPECT_TRUE(same_weights(a, b));
  ASSERT_TRUE(succeeded(deepgen(vdm_toy(dir, c, with({"--steps", "40", "--precision", "fp32"})))));
  EXPECT_FALSE(same_weights(c, b));
  // eval may run the networks in another precision than training did, and says which it used.
  const Result ev = deepgen({"eval", "--run", a, "--max-batches", "1", "--precision", "fp32"});
  ASSERT_TRUE(succeeded(ev));
  EXPECT_EQ(json::parse(ev.out)["precision"], "fp32");
  EXPECT_TRUE(one_line_error(deepgen({"eval", "--run", a, "--precision", "fp16"}), "--precision"));
}

TEST(CliVdm, SamplersAndStepsAreChosenAtSamplingTime) {
  TempDir dir;
  const std::string run = dir.file("run");
  ASSERT_TRUE(succeeded(deepgen(vdm_toy(dir, run, {"--steps", "20"}))));
  auto sample = [&](const std::string& name, std::vector<std::string> more) {
    std::vector<std::string> args{"sample", "--run", run,     "--n",         "50",
                                  "--seed", "3",     "--out", dir.file(name)};
    args.insert(args.end(), more.begin(), more.end());
    return deepgen(args);
  };
  ASSERT_TRUE(succeeded(sample("ddim.csv", {"--sampler", "ddim", "--steps", "5"})));
  ASSERT_TRUE(succeeded(sample("ddim2.csv", {"--sampler", "ddim", "--steps", "5"})));
  ASSERT_TRUE(succeeded(sample("anc.csv", {"--steps", "5"})));
  EXPECT_EQ(read_csv(dir.file("ddim.csv")).size(), 50u);
  EXPECT_EQ(read_text(dir.file("ddim.csv")), read_text(dir.file("ddim2.csv")));  // same seed
  EXPECT_NE(read_text(dir.file("ddim.csv")), read_text(dir.file("anc.csv")));
  EXPECT_TRUE(one_line_error(sample("bad.csv", {"--sampler", "euler"}), "ancestral"));
  EXPECT_TRUE(
      one_line_error(sample("bad.csv", {"--sampler", "dpmpp2m", "--steps", "1"}), "--steps"));
  ASSERT_TRUE(
      succeeded(sample("dpm3.csv", {"--sampler", "dpm3", "--steps", "4", "--sample-grid", "eta"})));
  EXPECT_EQ(read_csv(dir.file("dpm3.csv")).size(), 50u);
  EXPECT_TRUE(one_line_error(sample("bad.csv", {"--steps", "-2"}), "--steps"));

  Result ev =
      deepgen({"eval", "--run", run, "--eval-samples", "3", "--sampler", "ddim", "--steps", "10"});
  ASSERT_TRUE(succeeded(ev));
  json j = only_json_object(ev);
  EXPECT_EQ(j["sampling"], json({{"sampler", "ddim"}, {"steps", 10}, {"grid", "t"}, {"nfe", 10}}));
  EXPECT_TRUE(j["metrics"].contains("bpd"));
  // The bound of the 20-step ancestral sampler: a 20-step diffusion loss, reported with its T.
  Result t20 = deepgen({"eval", "--run", run, "--T", "20"});
  ASSERT_TRUE(succeeded(t20));
  json k = only_json_object(t20);
  EXPECT_EQ(k["T"], 20);
  EXPECT_GT(k["metrics"]["bpd_diffusion"].get<double>(), 0.0);
  EXPECT_TRUE(one_line_error(deepgen({"eval", "--run", run, "--T", "-3"}), "--T"));
  // The classifier-FID needs digits: a toy run gets a one-line error, not a crash.
  EXPECT_TRUE(one_line_error(deepgen({"eval", "--run", run, "--fid"}), "mnist"));
}

TEST(CliVdm, BadOptionsAreOneLineErrors) {
  TempDir dir;
  const std::string run = dir.file("run");
  EXPECT_TRUE(
      one_line_error(deepgen(vdm_toy(dir, run, {"--steps", "2", "--arch", "unet"})), "mlp"));
  EXPECT_TRUE(one_line_error(
      deepgen(vdm_toy(dir, run, {"--steps", "2", "--gamma-schedule", "cosine"})), "learned_net"));
  EXPECT_TRUE(
      one_line_error(deepgen(vdm_toy(dir, run, {"--steps", "2", "--latent", "3"})), "latent"));
  EXPECT_TRUE(one_line_error(deepgen(vdm_toy(dir, run, {"--steps", "2", "--gamma-min", "6"})),
                             "--gamma-min"));
}

// A folder of RGB images: the discretised decoder over 3 channels, a learned schedule, and the
// discrete-time loss, end to end.
TEST(CliVdm, FolderOfColourImagesTrainsWithALearnedScheduleInDiscreteTime) {
  TempDir dir;
  const std::string images = dir.file("imgs");
  fs::create_directories(images);
  for (int i = 0; i < 12; ++i)
    deepgen::io::write_png(images + "/im" + std::to_string(i) + ".png",
                           torch::rand({3, 8, 8}, at::make_generator<at::CPUGeneratorImpl>(i)));
  const std::string run = dir.file("run");
  Result r = deepgen({"train",
                      "vdm",
                      "--data",
                      "folder:" + images,
                      "--out",
                      run,
                      "--steps",
                      "4",
                      "--batch",
                      "4",
                      "--channels",
                      "8,16",
                      "--gamma-schedule",
                      "learned_net",
                      "--T",
                      "50",
                      "--sample-steps",
                      "4",
                      "--threads",
                      "1"});
  ASSERT_TRUE(succeeded(r));
  EXPECT_TRUE(is_png(run + "/samples.png"));
  json ev = json::parse(read_text(run + "/eval.json"));
  EXPECT_GT(ev["metrics"]["bpd_recon"].get<double>(), 0.0);
  EXPECT_FALSE(ev.contains("energy_distance"));
  EXPECT_TRUE(one_line_error(
      deepgen({"train", "vdm", "--data", "folder:" + images, "--out", dir.file("r2"), "--steps",
               "1", "--batch", "4", "--channels", "8,8,8,8,8", "--threads", "1"}),
      "divisible"));
}

}  // namespace
