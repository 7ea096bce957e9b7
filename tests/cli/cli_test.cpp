// The deepgen binary end to end: flags, one-line errors, the files a run writes, exact resume
// through the CLI, and SIGTERM -> checkpoint -> --resume. Every child runs with --threads 1 (the
// suite runs two tests at a time) and every wait is bounded, so a hang fails instead of blocking.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_support.h"
#include "data/idx_helpers.h"
#include "deepgen/core/version.h"
#include "deepgen/io/image.h"
#include "deepgen/io/safetensors.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using deepgen::testing::TempDir;
using nlohmann::json;

// ---- flags and help ----------------------------------------------------------------------------

TEST(CliFlags, VersionPrintsTheVersion) {
  Result r = deepgen({"--version"});
  ASSERT_TRUE(succeeded(r));
  EXPECT_NE(r.out.find(deepgen::version()), std::string::npos) << describe(r);
}

TEST(CliFlags, HelpExitsZero) {
  Result r = deepgen({"--help"});
  ASSERT_TRUE(succeeded(r));
  for (const char* command : {"train", "sample", "eval", "info", "demo"})
    EXPECT_NE(r.out.find(command), std::string::npos) << command << "\n" << describe(r);
}

TEST(CliFlags, TrainHelpListsResume) {
  Result r = deepgen({"train", "--help"});
  ASSERT_TRUE(succeeded(r));
  EXPECT_NE(r.out.find("--resume"), std::string::npos) << describe(r);
}

// ---- one-line errors ---------------------------------------------------------------------------

TEST(CliErrors, BadFlag) { EXPECT_TRUE(one_line_error(deepgen({"train", "vae", "--bogus"}))); }

TEST(CliErrors, NoCommand) { EXPECT_TRUE(one_line_error(deepgen({}))); }

TEST(CliErrors, UnknownModelNamesTheAvailableOnes) {
  TempDir dir;
  Result r = deepgen({"train", "nosuch", "--data", "toy:moons", "--out", dir.file("run"), "--steps",
                      "1", "--threads", "1"});
  EXPECT_TRUE(one_line_error(r, "nosuch"));
  EXPECT_TRUE(one_line_error(r, "vae"));
}

TEST(CliErrors, MissingDataSetPointsToSetup) {
  TempDir data, dir;
  Result r = deepgen({"train", "vae", "--data", "mnist", "--out", dir.file("run"), "--steps", "1",
                      "--threads", "1"},
                     {{"DEEPGEN_DATA", data.str()}});
  EXPECT_TRUE(one_line_error(r, "scripts/setup.sh"));
}

TEST(CliErrors, UnknownToyDataSet) {
  TempDir dir;
  Result r = deepgen({"train", "vae", "--data", "toy:nosuch", "--out", dir.file("run"), "--steps",
                      "1", "--threads", "1"});
  EXPECT_TRUE(one_line_error(r, "nosuch"));
}

TEST(CliErrors, EvalOnMissingRun) {
  TempDir dir;
  EXPECT_TRUE(one_line_error(deepgen({"eval", "--run", dir.file("nothing-here")}), "no run"));
}

TEST(CliErrors, SampleOnMissingRun) {
  TempDir dir;
  EXPECT_TRUE(one_line_error(
      deepgen({"sample", "--run", dir.file("nothing-here"), "--out", dir.file("s.csv")})));
}

TEST(CliErrors, BadDevice) {
  TempDir dir;
  EXPECT_TRUE(one_line_error(
      deepgen(toy_train(dir.file("run"), {"--steps", "1", "--device", "bogus"})), "bogus"));
}

TEST(CliErrors, BadHiddenSizes) {
  TempDir dir;
  EXPECT_TRUE(one_line_error(
      deepgen(toy_train(dir.file("run"), {"--steps", "1", "--hidden", "a,b"})), "--hidden"));
}

TEST(CliErrors, UnknownConfigKey) {
  TempDir dir;
  const std::string config = dir.file("config.json");
  std::ofstream(config) << R"({"model": "vae", "trian": {"steps": 5}})";
  EXPECT_TRUE(one_line_error(
      deepgen({"train", "--config", config, "--out", dir.file("run"), "--threads", "1"}), "trian"));
}

// A config file is the base; flags given on the command line override it, and the resolved
// config.json records both.
TEST(CliConfig, FileIsTheBaseAndFlagsOverrideIt) {
  TempDir dir;
  const std::string config = dir.file("config.json");
  std::ofstream(config) << R"({"model": "vae", "data": {"spec": "toy:rings"},
    "model_options": {"latent": 3, "hidden": [16]},
    "train": {"steps": 7, "batch": 32, "lr": 0.002}})";
  const std::string run = dir.file("run");
  Result r =
      deepgen({"train", "--config", config, "--out", run, "--batch", "16", "--threads", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  json c = json::parse(read_text(run + "/config.json"));
  EXPECT_EQ(c["data"]["spec"], "toy:rings");
  EXPECT_EQ(c["model_options"]["latent"], 3);
  EXPECT_EQ(c["model_options"]["hidden"], json({16}));
  EXPECT_EQ(c["train"]["steps"], 7);
  EXPECT_EQ(c["train"]["batch"], 16);  // the flag wins
  EXPECT_DOUBLE_EQ(c["train"]["lr"].get<double>(), 0.002);
}

// ---- info --------------------------------------------------------------------------------------

TEST(CliInfo, PrintsOneJsonObject) {
  Result r = deepgen({"info"});
  ASSERT_TRUE(succeeded(r));
  json j = only_json_object(r);
  for (const char* key : {"version", "libtorch", "device", "threads", "datasets", "models"})
    EXPECT_TRUE(j.contains(key)) << key << "\n" << describe(r);
  EXPECT_EQ(j.value("version", ""), deepgen::version());
  ASSERT_TRUE(j["models"].is_array());
  EXPECT_NE(std::find(j["models"].begin(), j["models"].end(), "vae"), j["models"].end());
  ASSERT_TRUE(j["datasets"].is_array());
  EXPECT_NE(std::find(j["datasets"].begin(), j["datasets"].end(), "toy:moons"),
            j["datasets"].end());
}

TEST(CliInfo, EmptyDataRootListsNoFileDataSets) {
  TempDir data;
  Result r = deepgen({"info"}, {{"DEEPGEN_DATA", data.str()}});
  ASSERT_TRUE(succeeded(r));
  json j = only_json_object(r);
  ASSERT_TRUE(j["datasets"].is_array());
  EXPECT_EQ(std::find(j["datasets"].begin(), j["datasets"].end(), "mnist"), j["datasets"].end());
}

// ---- a trained toy run: files, eval, sample ----------------------------------------------------

// One toy VAE run shared by the tests of this suite (trained once per process).
class ToyRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    train_result_ = deepgen(
        toy_train(run(), {"--steps", "60", "--log-every", "10", "--checkpoint-every", "20"}));
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(succeeded(train_result_)); }
  static std::string run() { return dir_->file("run"); }
  static std::string file(const std::string& name) { return dir_->file(name); }
  static const Result& train_result() { return train_result_; }

 private:
  static TempDir* dir_;
  static Result train_result_;
};
TempDir* ToyRun::dir_ = nullptr;
Result ToyRun::train_result_;

TEST_F(ToyRun, TrainWritesTheRunDirectory) {
  EXPECT_EQ(train_result().out, "") << "train prints results to files, progress to stderr";
  for (const char* name : {"config.json", "model.safetensors", "checkpoint.pt", "metrics.jsonl",
                           "eval.json", "samples.csv", "report.html"})
    EXPECT_TRUE(fs::is_regular_file(run() + "/" + name)) << name;
  EXPECT_TRUE(is_png(run() + "/samples.png")) << "2-D points also get a scatter picture";
  // The report draws the same scatter with axes in data units (samples.svg, inlined).
  EXPECT_NE(read_text(run() + "/samples.svg").find("x₁ (data units)"), std::string::npos);
  EXPECT_NE(read_text(run() + "/report.html").find("Samples over test data"), std::string::npos);
  // The weights describe themselves (issue 16): family, resolved config, data shape, version.
  std::map<std::string, std::string> meta;
  deepgen::io::load_safetensors(run() + "/model.safetensors", &meta);
  EXPECT_EQ(meta["family"], "vae");
  EXPECT_EQ(meta["weights"], "model");
  EXPECT_EQ(meta["data_shape"], "[2]");
  EXPECT_EQ(json::parse(meta["config"])["model"], "vae");
  EXPECT_FALSE(meta["deepgen_version"].empty());

  json config = json::parse(read_text(run() + "/config.json"), nullptr, false);
  ASSERT_FALSE(config.is_discarded());
  EXPECT_EQ(config.value("model", ""), "vae");
  EXPECT_EQ(config["data"].value("spec", ""), "toy:moons");
  EXPECT_EQ(config["train"].value("steps", 0), 60);
  EXPECT_EQ(config["model_options"].value("latent", 0), 2);
  EXPECT_EQ(config["data_shape"], json::array({2}));

  const auto rows = training_rows(run());
  ASSERT_EQ(rows.size(), 6u) << read_text(run() + "/metrics.jsonl");
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].value("step", 0.0), 10.0 * (i + 1));
    EXPECT_TRUE(std::isfinite(rows[i].value("loss", NAN)));
  }

  json ev = json::parse(read_text(run() + "/eval.json"), nullptr, false);
  ASSERT_FALSE(ev.is_discarded());
  EXPECT_TRUE(std::isfinite(ev["metrics"].value("neg_elbo", NAN)));

  const auto samples = read_csv(run() + "/samples.csv");
  EXPECT_EQ(samples.size(), 2000u);  // enough points for the scatter picture
  for (const auto& row : samples) EXPECT_EQ(row.size(), 2u);

  const std::string html = read_text(run() + "/report.html");
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("toy:moons"), std::string::npos);
  // Self-contained: nothing is fetched. The SVG namespace name is an identifier, not a fetch.
  std::string stripped = html;
  const std::string svg_ns = "xmlns=\"http://www.w3.org/2000/svg\"";
  for (size_t at; (at = stripped.find(svg_ns)) != std::string::npos;)
    stripped.erase(at, svg_ns.size());
  EXPECT_EQ(stripped.find("http"), std::string::npos)
      << stripped.substr(stripped.find("http") - std::min<size_t>(stripped.find("http"), 80), 160);
}

TEST_F(ToyRun, EvalPrintsOneJsonObject) {
  Result r = deepgen({"eval", "--run", run()});
  ASSERT_TRUE(succeeded(r));
  json j = only_json_object(r);
  ASSERT_TRUE(j.contains("metrics")) << describe(r);
  EXPECT_TRUE(std::isfinite(j["metrics"].value("neg_elbo", NAN))) << describe(r);
  EXPECT_TRUE(j.contains("energy_distance")) << describe(r);
  EXPECT_TRUE(std::isfinite(j.value("energy_distance", NAN))) << describe(r);
  EXPECT_EQ(j.value("model", ""), "vae");
  EXPECT_EQ(j.value("data", ""), "toy:moons");
}

TEST_F(ToyRun, EvalIsDeterministic) {
  Result a = deepgen({"eval", "--run", run(), "--max-batches", "2"});
  Result b = deepgen({"eval", "--run", run(), "--max-batches", "2"});
  ASSERT_TRUE(succeeded(a));
  ASSERT_TRUE(succeeded(b));
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(only_json_object(a).value("examples", 0), 2 * 500);
}

TEST_F(ToyRun, SampleWritesCsvPoints) {
  const std::string out = file("s.csv");
  Result r = deepgen({"sample", "--run", run(), "--n", "10", "--out", out});
  ASSERT_TRUE(succeeded(r));
  EXPECT_EQ(r.out, "");
  const auto rows = read_csv(out);
  ASSERT_EQ(rows.size(), 10u) << read_text(out);
  for (const auto& row : rows) {
    ASSERT_EQ(row.size(), 2u);
    for (double v : row) EXPECT_TRUE(std::isfinite(v));
  }
  // Same seed, same samples.
  const std::string again = file("s2.csv");
  ASSERT_TRUE(succeeded(deepgen({"sample", "--run", run(), "--n", "10", "--out", again})));
  EXPECT_EQ(read_text(out), read_text(again));
}

TEST_F(ToyRun, SamplePngOfPointsIsAScatter) {
  const std::string out = file("s.png");
  Result r = deepgen({"sample", "--run", run(), "--n", "10", "--out", out});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(is_png(out));
  const std::string bad = file("s.jpg");
  EXPECT_TRUE(
      one_line_error(deepgen({"sample", "--run", run(), "--n", "10", "--out", bad}), ".npy"));
  EXPECT_FALSE(fs::exists(bad));
}

// sample --out FILE.npy: numpy.load (Debian's python3-numpy, which setup installs) reads the same
// points the CSV of the same seed holds, as float32 (N, D).
TEST_F(ToyRun, SampleWritesNpyThatNumpyReads) {
  if (std::system("/usr/bin/python3 -c 'import numpy' > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "Debian's python3-numpy not installed (scripts/setup.sh installs it)";
  const std::string npy = file("s.npy"), csv = file("same.csv"), txt = file("npy.txt");
  ASSERT_TRUE(succeeded(deepgen({"sample", "--run", run(), "--n", "10", "--out", npy})));
  ASSERT_TRUE(succeeded(deepgen({"sample", "--run", run(), "--n", "10", "--out", csv})));
  const std::string py = "import numpy; a = numpy.load('" + npy +
                         "'); print(a.dtype, *a.shape); [print(*map(repr, r)) for r in a]";
  ASSERT_EQ(std::system(("/usr/bin/python3 -c \"" + py + "\" > " + txt).c_str()), 0);
  const auto lines = lines_of(read_text(txt));
  ASSERT_EQ(lines.size(), 11u) << read_text(txt);
  EXPECT_EQ(lines[0], "float32 10 2");
  const auto rows = read_csv(csv);
  ASSERT_EQ(rows.size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    std::istringstream in(lines[i + 1]);
    for (size_t j = 0; j < 2; ++j) {
      double v = 0;
      in >> v;
      EXPECT_NEAR(v, rows[i][j], 1e-6 * (1 + std::abs(rows[i][j]))) << i << "," << j;  // CSV digits
    }
  }
}

TEST_F(ToyRun, SampleNonPositiveCountIsAnError) {
  EXPECT_TRUE(one_line_error(
      deepgen({"sample", "--run", run(), "--n", "0", "--out", file("zero.csv")}), "--n"));
}

TEST_F(ToyRun, ResumeWithDifferentDataIsAnError) {
  // A copy, so the shared run stays as trained.
  const std::string copy = file("copy");
  fs::copy(run(), copy, fs::copy_options::recursive);
  EXPECT_TRUE(one_line_error(
      deepgen({"train", "--out", copy, "--resume", "--data", "toy:rings", "--steps", "80"}),
      "data"));
  EXPECT_TRUE(one_line_error(
      deepgen({"train", "vae", "--out", copy, "--resume", "--latent", "3", "--steps", "80"}),
      "model_options"));
  // Without the model's name its flags are not this command line's: the error names the model.
  EXPECT_TRUE(one_line_error(
      deepgen({"train", "--out", copy, "--resume", "--latent", "3", "--steps", "80"}),
      "deepgen train vae"));
  EXPECT_EQ(read_text(copy + "/model.safetensors"), read_text(run() + "/model.safetensors"))
      << "a refused resume leaves the run untouched";
}

TEST_F(ToyRun, ResumeWithoutCheckpointIsAnError) {
  // A run directory with its config but no checkpoint, and one with nothing at all.
  const std::string no_ckpt = file("no-checkpoint");
  fs::create_directories(no_ckpt);
  fs::copy_file(run() + "/config.json", no_ckpt + "/config.json");
  EXPECT_TRUE(one_line_error(
      deepgen({"train", "--out", no_ckpt, "--resume", "--steps", "80", "--threads", "1"}),
      "checkpoint"));
  EXPECT_EQ(read_text(no_ckpt + "/config.json"), read_text(run() + "/config.json"))
      << "a refused resume leaves config.json as it was";
  EXPECT_FALSE(fs::exists(no_ckpt + "/metrics.jsonl"));
  const std::string empty = file("empty");
  fs::create_directories(empty);
  EXPECT_TRUE(one_line_error(
      deepgen({"train", "--out", empty, "--resume", "--steps", "80", "--threads", "1"})));
}

// ---- exact resume through the CLI --------------------------------------------------------------

TEST(CliResume, ResumedRunMatchesStraightRunBitForBit) {
  TempDir dir;
  const std::string a = dir.file("a"), b = dir.file("b");
  const std::vector<std::string> flags{"--log-every", "10", "--checkpoint-every", "20"};
  auto with = [&](std::vector<std::string> more) {
    more.insert(more.end(), flags.begin(), flags.end());
    return more;
  };
  ASSERT_TRUE(succeeded(deepgen(toy_train(a, with({"--steps", "40"})))));
  Result resumed = deepgen({"train", "--out", a, "--resume", "--steps", "60", "--log-every", "10",
                            "--checkpoint-every", "20", "--threads", "1"});
  ASSERT_TRUE(succeeded(resumed));
  EXPECT_NE(resumed.err.find("resumed from step 40"), std::string::npos) << describe(resumed);
  ASSERT_TRUE(succeeded(deepgen(toy_train(b, with({"--steps", "60"})))));

  EXPECT_TRUE(same_weights(a, b));

  std::vector<double> steps_a, steps_b;
  for (const auto& row : training_rows(a)) steps_a.push_back(row["step"].get<double>());
  for (const auto& row : training_rows(b)) steps_b.push_back(row["step"].get<double>());
  EXPECT_EQ(steps_a, steps_b);
  EXPECT_EQ(steps_a, (std::vector<double>{10, 20, 30, 40, 50, 60}));
  json config = json::parse(read_text(a + "/config.json"), nullptr, false);
  ASSERT_FALSE(config.is_discarded());
  EXPECT_EQ(config["train"].value("steps", 0), 60);
  EXPECT_EQ(config["model_options"].value("hidden", json()), json::array({32}));
}

// An ema.safetensors left in --out by an earlier run (trained with --ema) is not the new run's:
// a run trained without EMA evaluates its own weights whether or not such a file lies there.
TEST(CliRun, StaleEmaWeightsOfAnEarlierRunAreNotUsed) {
  TempDir dir;
  const std::string with_ema = dir.file("ema"), plain = dir.file("plain");
  ASSERT_TRUE(succeeded(deepgen(toy_train(with_ema, {"--steps", "30", "--ema", "0.9"}))));
  ASSERT_TRUE(fs::exists(with_ema + "/ema.safetensors"));
  ASSERT_TRUE(succeeded(deepgen(toy_train(plain, {"--steps", "30", "--seed", "3"}))));
  const std::vector<std::string> eval{"eval", "--run", plain, "--threads", "1"};
  const Result before = deepgen(eval);
  ASSERT_TRUE(succeeded(before)) << describe(before);
  fs::copy_file(with_ema + "/ema.safetensors", plain + "/ema.safetensors");
  const Result after = deepgen(eval);
  ASSERT_TRUE(succeeded(after)) << describe(after);
  EXPECT_EQ(only_json_object(after)["metrics"], only_json_object(before)["metrics"]);
}

// ---- interruption ------------------------------------------------------------------------------

TEST(CliInterrupt, SigtermCheckpointsAndResumeContinues) {
  TempDir dir;
  const std::string run = dir.file("run");
  Process p(
      toy_train(run, {"--steps", "100000", "--log-every", "10", "--checkpoint-every", "100000"}));
  ASSERT_TRUE(p.started());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(run + "/metrics.jsonl") && p.running() &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(p.running()) << describe(p.wait(1));
  ASSERT_TRUE(fs::exists(run + "/metrics.jsonl")) << "no metrics within 60 s";
  p.signal(SIGTERM);
  Result r = p.wait();
  ASSERT_FALSE(r.timed_out) << describe(r);
  EXPECT_EQ(r.code, 130) << describe(r);
  EXPECT_TRUE(fs::is_regular_file(run + "/checkpoint.pt"));
  EXPECT_TRUE(fs::is_regular_file(run + "/model.safetensors"));
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << describe(r);
  EXPECT_FALSE(fs::exists(run + "/report.html")) << "an interrupted run writes no report";

  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.err, m, std::regex("interrupted at step ([0-9]+)")))
      << describe(r);
  const int64_t step = std::stoll(m[1]);
  ASSERT_GT(step, 0);
  ASSERT_LT(step, 100000);

  const std::string target = std::to_string(step + 20);
  Result resumed = deepgen({"train", "--out", run, "--resume", "--steps", target});
  ASSERT_TRUE(succeeded(resumed));
  EXPECT_NE(resumed.err.find("resumed from step " + std::to_string(step)), std::string::npos)
      << describe(resumed);
  const auto rows = training_rows(run);
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows.back().value("step", 0.0), static_cast<double>(step + 20));
  for (size_t i = 1; i < rows.size(); ++i)
    EXPECT_LT(rows[i - 1]["step"].get<double>(), rows[i]["step"].get<double>())
        << "metrics rows out of order after resume";
  EXPECT_TRUE(fs::is_regular_file(run + "/report.html"));
}

// Commands with nothing to checkpoint (langevin here; eval and sample alike) stop at the first
// SIGTERM with code 130. Before, only the training loop polled the flag, so `timeout` could not
// stop them: this run would sample for hours.
TEST(CliInterrupt, SigtermStopsALongLangevinRunAtOnce) {
  TempDir dir;
  Process p({"langevin", "--target", "toy:ncsn-gmm", "--steps", "100000000", "--out",
             dir.file("lang"), "--threads", "1"});
  ASSERT_TRUE(p.started());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_TRUE(p.running()) << describe(p.wait(1));
  const auto sent = std::chrono::steady_clock::now();
  p.signal(SIGTERM);
  Result r = p.wait(20);
  ASSERT_FALSE(r.timed_out) << "still running 20 s after SIGTERM";
  EXPECT_EQ(r.code, 130) << describe(r);
  EXPECT_NE(r.err.find("interrupted"), std::string::npos) << describe(r);
  EXPECT_LT(std::chrono::steady_clock::now() - sent, std::chrono::seconds(5));
}

// ---- images (only with the real data set) -------------------------------------------------------

TEST(CliImages, MnistRunWritesImagesAndReport) {
  const Env default_root{{"DEEPGEN_DATA", std::nullopt}};
  Result info = deepgen({"info"}, default_root);
  ASSERT_TRUE(succeeded(info));
  json j = only_json_object(info);
  const json& sets = j["datasets"];
  if (!sets.is_array() || std::find(sets.begin(), sets.end(), "mnist") == sets.end())
    GTEST_SKIP() << "MNIST is not in the default data root (run scripts/setup.sh)";

  TempDir dir;
  const std::string run = dir.file("run");
  Result r = deepgen({"train", "vae", "--data", "mnist", "--steps", "30", "--batch", "64", "--out",
                      run, "--threads", "1"},
                     default_root);
  ASSERT_TRUE(succeeded(r));
  EXPECT_TRUE(is_png(run + "/samples.png"));
  EXPECT_TRUE(is_png(run + "/reconstructions.png"));
  EXPECT_FALSE(fs::exists(run + "/samples.csv"));
  EXPECT_NE(read_text(run + "/report.html").find("data:image/png"), std::string::npos);

  ASSERT_TRUE(succeeded(
      deepgen({"sample", "--run", run, "--n", "9", "--out", dir.file("s.png")}, default_root)));
  EXPECT_TRUE(is_png(dir.file("s.png")));
  EXPECT_TRUE(one_line_error(
      deepgen({"sample", "--run", run, "--n", "9", "--out", dir.file("s.csv")}, default_root),
      ".png"));
}

// eval --fid end to end on a fake MNIST (tests/data/idx_helpers.h) in a data root of its own:
// the classifier trains in 2 steps and is cached there, and the FID's object carries precision
// and recall (k = 3) from the same features, plus the noisy-below-1000 warning.
TEST(CliFid, EvalReportsPrecisionAndRecallBesideTheFid) {
  TempDir data, dir;
  fs::create_directories(data.file("mnist"));
  deepgen::testing::write_fake_mnist(data.file("mnist"), "train", 100);
  deepgen::testing::write_fake_mnist(data.file("mnist"), "t10k", 40);
  const Env root{{"DEEPGEN_DATA", data.str()}};
  const std::string run = dir.file("run");
  ASSERT_TRUE(succeeded(deepgen({"train", "vae", "--data", "mnist", "--out", run, "--steps", "2",
                                 "--batch", "16", "--threads", "1"},
                                root)));
  Result r = deepgen({"eval", "--run", run, "--fid", "--fid-samples", "30"}, root);
  ASSERT_TRUE(succeeded(r)) << r.err;
  const json f = only_json_object(r)["classifier_fid"];
  ASSERT_TRUE(f.is_object()) << r.out;
  EXPECT_TRUE(std::isfinite(f["fid"].get<double>()));
  for (const char* key : {"precision", "recall"}) {
    ASSERT_TRUE(f.contains(key)) << f.dump();
    EXPECT_GE(f[key].get<double>(), 0.0);
    EXPECT_LE(f[key].get<double>(), 1.0);
  }
  EXPECT_EQ(f["precision_recall_k"], 3);
  EXPECT_EQ(f["samples"], 30);
  EXPECT_NE(f.value("warning", "").find("precision and recall are noisy"), std::string::npos)
      << f.dump();
  EXPECT_TRUE(fs::exists(data.file("classifiers/mnist-classifier.safetensors")));
  // Fewer samples than the 3-NN balls need: the option's minimum, one line naming it.
  EXPECT_TRUE(one_line_error(deepgen({"eval", "--run", run, "--fid", "--fid-samples", "3"}, root),
                             "--fid-samples"));
}

}  // namespace

namespace {

// A folder of the user's own images: mixed sizes need --image-size, then train, reconstruct and
// report like MNIST (with a tiny test split of 2 images).
TEST(CliFolder, MixedSizesNeedImageSizeThenTrain) {
  deepgen::testing::TempDir dir;
  const std::string images = dir.file("imgs");
  fs::create_directories(images);
  for (int i = 0; i < 20; ++i) {
    const int64_t h = i % 2 ? 12 : 10;
    deepgen::io::write_png(images + "/im" + std::to_string(i) + ".png",
                           torch::rand({3, h, 12}, at::make_generator<at::CPUGeneratorImpl>(i)));
  }
  const std::string run = dir.file("run");
  EXPECT_TRUE(one_line_error(deepgen({"train", "vae", "--data", "folder:" + images, "--out", run,
                                      "--steps", "5", "--batch", "4", "--threads", "1"}),
                             "--image-size"));
  Result r = deepgen({"train", "vae", "--data", "folder:" + images, "--image-size", "8", "--out",
                      run, "--steps", "5", "--batch", "4", "--threads", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  json config = json::parse(read_text(run + "/config.json"));
  EXPECT_EQ(config["data_shape"], json({3, 8, 8}));
  EXPECT_TRUE(is_png(run + "/samples.png"));
  EXPECT_TRUE(is_png(run + "/reconstructions.png"));
  // 2 test images: one row of originals over one row of reconstructions, 2 px padding.
  at::Tensor recon = deepgen::io::read_image(run + "/reconstructions.png");
  EXPECT_EQ(recon.size(0), 2 * (8 + 2) + 2);
  EXPECT_EQ(recon.size(1), 2 * (8 + 2) + 2);
}

// ---- fit gmm (MATH 1.5) ------------------------------------------------------------------------

// The fields of `deepgen fit gmm`'s JSON, with one ELBO value per sweep, never decreasing (float
// tolerance 1e-10 relative, as in tests/vi/gmm_test.cpp).
void expect_gmm_json(const json& j, size_t k, size_t d) {
  for (const char* key : {"weights", "means", "covariances", "elbo", "iterations", "converged"})
    ASSERT_TRUE(j.contains(key)) << key << "\n" << j.dump();
  ASSERT_EQ(j["weights"].size(), k);
  ASSERT_EQ(j["means"].size(), k);
  ASSERT_EQ(j["covariances"].size(), k);
  EXPECT_EQ(j["means"][0].size(), d);
  EXPECT_EQ(j["covariances"][0].size(), d);
  EXPECT_EQ(j["covariances"][0][0].size(), d);
  const auto elbo = j["elbo"].get<std::vector<double>>();
  ASSERT_EQ(elbo.size(), j["iterations"].get<size_t>());
  for (size_t t = 1; t < elbo.size(); ++t)
    EXPECT_GE(elbo[t], elbo[t - 1] - 1e-10 * std::abs(elbo[t])) << "sweep " << t + 1;
}

TEST(CliFitGmm, ToyMixtureIsRecoveredWithAPicture) {
  // toy:ncsn-gmm is 0.2·N((−5,−5), I) + 0.8·N((5,5), I): 50k points, so the weights and means
  // come back to within 0.01 and 0.05.
  TempDir dir;
  const std::string png = dir.file("fit.png");
  Result r = deepgen({"fit", "gmm", "--data", "toy:ncsn-gmm", "--components", "2", "--png", png,
                      "--threads", "1"});
  ASSERT_TRUE(succeeded(r));
  json j = only_json_object(r);
  expect_gmm_json(j, 2, 2);
  EXPECT_TRUE(j.value("converged", false));
  EXPECT_EQ(j["collapsed"], json::array());
  const size_t big = j["weights"][0].get<double>() > 0.5 ? 0 : 1;
  EXPECT_NEAR(j["weights"][big].get<double>(), 0.8, 0.01);
  EXPECT_NEAR(j["weights"][1 - big].get<double>(), 0.2, 0.01);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_NEAR(j["means"][big][i].get<double>(), 5.0, 0.05);
    EXPECT_NEAR(j["means"][1 - big][i].get<double>(), -5.0, 0.05);
  }
  EXPECT_TRUE(is_png(png));
}

TEST(CliFitGmm, CsvPointsInThreeDimensions) {
  TempDir dir;
  const std::string csv = dir.file("points.csv");
  {
    std::ofstream out(csv);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
    at::Tensor x = torch::randn({200, 3}, gen, torch::kDouble);
    x.slice(0, 0, 100).add_(6.0);
    for (int64_t i = 0; i < 200; ++i)
      out << x[i][0].item<double>() << "," << x[i][1].item<double>() << ","
          << x[i][2].item<double>() << "\n";
  }
  Result r = deepgen({"fit", "gmm", "--data", "csv:" + csv, "--components", "4", "--max-iter",
                      "500", "--tol", "1e-8", "--threads", "1"});
  ASSERT_TRUE(succeeded(r));
  json j = only_json_object(r);
  expect_gmm_json(j, 4, 3);
  EXPECT_EQ(j["collapsed"].size(), 2u) << j.dump();  // two clusters, four components
  for (const auto& w : j["weights"]) EXPECT_TRUE(std::isfinite(w.get<double>()));
  EXPECT_TRUE(one_line_error(deepgen({"fit", "gmm", "--data", "csv:" + csv, "--components", "2",
                                      "--png", dir.file("x.png"), "--threads", "1"}),
                             "--png"));
}

// A user's csv is fitted whole (as scikit-learn's BayesianGaussianMixture.fit would), unless
// --test-fraction holds rows out.
TEST(CliFitGmm, CsvIsFittedWholeUnlessRowsAreHeldOut) {
  TempDir dir;
  const std::string csv = dir.file("ten.csv");
  std::ofstream(csv) << "0,0\n1,0\n0,1\n1,1\n2,2\n9,9\n8,9\n9,8\n8,8\n7,9\n";
  Result all =
      deepgen({"fit", "gmm", "--data", "csv:" + csv, "--components", "2", "--threads", "1"});
  ASSERT_TRUE(succeeded(all));
  EXPECT_EQ(only_json_object(all)["points"], 10);
  EXPECT_EQ(only_json_object(all)["split"], "all");
  Result part = deepgen({"fit", "gmm", "--data", "csv:" + csv, "--components", "2",
                         "--test-fraction", "0.2", "--threads", "1"});
  ASSERT_TRUE(succeeded(part));
  EXPECT_EQ(only_json_object(part)["points"], 8);
  EXPECT_EQ(only_json_object(part)["split"], "train");
}

TEST(CliFitGmm, BadComponentsAndDataAreOneLineErrors) {
  TempDir dir;
  const std::string csv = dir.file("few.csv");
  std::ofstream(csv) << "0,0\n1,0\n0,1\n1,1\n2,2\n3,1\n1,3\n2,0\n0,2\n3,3\n";
  EXPECT_TRUE(one_line_error(deepgen({"fit", "gmm", "--data", "csv:" + csv, "--components", "0"}),
                             "--components"));
  // 10 rows, every one fitted unless some are held out.
  EXPECT_TRUE(one_line_error(deepgen({"fit", "gmm", "--data", "csv:" + csv, "--components", "20"}),
                             "exceed the number of points (10)"));
  EXPECT_TRUE(one_line_error(
      deepgen({"fit", "gmm", "--data", "csv:" + csv, "--components", "2", "--test-fraction", "1"}),
      "--test-fraction"));
  EXPECT_TRUE(one_line_error(deepgen({"fit", "gmm", "--data", "mnist", "--components", "3"}),
                             "toy:NAME or csv:PATH"));
  EXPECT_TRUE(one_line_error(deepgen({"fit", "gmm", "--data", "toy:moons"}), "--components"));
}

}  // namespace

namespace {

// ---- inference modes, IWAE and the amortisation gap (MATH 1.2-1.4) -----------------------------

// A small toy set (512 train / 128 test) so that per-example inference and its test-time fitting
// stay fast; the caller adds --out and the rest.
std::vector<std::string> small_toy_train(deepgen::testing::TempDir& dir, const std::string& out,
                                         std::vector<std::string> more) {
  const std::string config = dir.file("small_toy.json");
  std::ofstream(config) << R"({"data": {"toy_train": 512, "toy_test": 128}})";
  std::vector<std::string> args = toy_train(out, {"--config", config});
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

TEST(CliInference, SviResumesBitForBitAndEvalFitsTestPosteriors) {
  deepgen::testing::TempDir dir;
  const std::string a = dir.file("a"), b = dir.file("b");
  const std::vector<std::string> svi{"--inference",        "svi", "--log-every", "8",
                                     "--checkpoint-every", "8"};
  auto with = [&](std::vector<std::string> more) {
    more.insert(more.end(), svi.begin(), svi.end());
    return more;
  };
  // 16 steps of 64 rows visit every row of the first epoch twice over two epochs... and resume
  // mid-way: the per-example table and its Adam moments must come back exactly.
  ASSERT_TRUE(succeeded(deepgen(small_toy_train(dir, a, with({"--steps", "12"})))));
  ASSERT_TRUE(
      succeeded(deepgen({"train", "--out", a, "--resume", "--steps", "20", "--threads", "1"})));
  ASSERT_TRUE(succeeded(deepgen(small_toy_train(dir, b, with({"--steps", "20"})))));
  const std::string wa = read_text(a + "/model.safetensors");
  EXPECT_TRUE(wa == read_text(b + "/model.safetensors")) << "resumed svi run differs";
  EXPECT_NE(wa.find("local.psi"), std::string::npos);
  json config = json::parse(read_text(a + "/config.json"));
  EXPECT_EQ(config["model_options"]["num_points"], 512);
  EXPECT_EQ(config["model_options"]["inference"], "svi");

  Result ev = deepgen({"eval", "--run", a, "--refine-steps", "30"});
  ASSERT_TRUE(succeeded(ev));
  const json m = only_json_object(ev)["metrics"];
  EXPECT_TRUE(std::isfinite(m.value("neg_elbo", NAN))) << m;
  // No encoder, so nothing to compare per-example q with.
  EXPECT_TRUE(one_line_error(deepgen({"eval", "--run", a, "--amortization-gap"}), "no encoder"));
}

TEST(CliInference, FullInferenceTakesTheWholeSetEveryStep) {
  deepgen::testing::TempDir dir;
  const std::string run = dir.file("run");
  ASSERT_TRUE(succeeded(deepgen(
      small_toy_train(dir, run, {"--inference", "full", "--steps", "3", "--log-every", "1"}))));
  json config = json::parse(read_text(run + "/config.json"));
  EXPECT_EQ(config["train"]["batch"], 512);
  const auto rows = training_rows(run);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows.back()["epoch"], 2);  // one step per epoch: variational EM
}

TEST(CliInference, EvalReportsIwaeAndTheAmortizationGap) {
  deepgen::testing::TempDir dir;
  const std::string run = dir.file("run");
  ASSERT_TRUE(succeeded(deepgen(small_toy_train(dir, run, {"--steps", "200"}))));
  Result ev = deepgen(
      {"eval", "--run", run, "--iwae-k", "64", "--amortization-gap", "--refine-steps", "100"});
  ASSERT_TRUE(succeeded(ev));
  const json j = only_json_object(ev);
  EXPECT_EQ(j["iwae_k"], 64);
  const json m = j["metrics"];
  for (const char* key : {"iwae_nll", "neg_elbo_encoder", "neg_elbo_refined", "amortization_gap"})
    ASSERT_TRUE(m.contains(key)) << key << " missing from " << m;
  // Bounds in nats per example: IWAE-64 is tighter than the 16-sample ELBO of the encoder's q
  // (log-mean-exp ≥ mean of logs, strictly for noisy weights), and refining q cannot do worse
  // than its start beyond Monte-Carlo error (16 samples x 128 points: well under 0.5 nats).
  EXPECT_LT(m["iwae_nll"].get<double>(), m["neg_elbo_encoder"].get<double>());
  EXPECT_LT(m["neg_elbo_refined"].get<double>(), m["neg_elbo_encoder"].get<double>() + 0.5);
  EXPECT_NEAR(m["amortization_gap"].get<double>(),
              m["neg_elbo_encoder"].get<double>() - m["neg_elbo_refined"].get<double>(), 1e-4);
}

TEST(CliInference, BadInferenceOptionsAreOneLineErrors) {
  deepgen::testing::TempDir dir;
  EXPECT_TRUE(one_line_error(deepgen(small_toy_train(dir, dir.file("a"), {"--inference", "lazy"})),
                             "amortized, svi or full"));
  EXPECT_TRUE(one_line_error(
      deepgen(small_toy_train(dir, dir.file("b"), {"--objective", "iwae", "--beta", "0.5"})),
      "IWAE"));
  EXPECT_TRUE(
      one_line_error(deepgen(small_toy_train(dir, dir.file("c"), {"--arch", "conv"})), "image"));
  const std::string run = dir.file("d");
  ASSERT_TRUE(succeeded(deepgen(small_toy_train(dir, run, {"--steps", "2"}))));
  EXPECT_TRUE(
      one_line_error(deepgen({"eval", "--run", run, "--refine-steps", "-5"}), "--refine-steps"));
  EXPECT_TRUE(one_line_error(deepgen({"eval", "--run", run, "--iwae-k", "-1"}), "--iwae-k"));
}

TEST(CliImages, ConvVaeTrainsOnMnist) {
  const Env default_root{{"DEEPGEN_DATA", std::nullopt}};
  json info = only_json_object(deepgen({"info"}, default_root));
  const json& sets = info["datasets"];
  if (!sets.is_array() || std::find(sets.begin(), sets.end(), "mnist") == sets.end())
    GTEST_SKIP() << "MNIST is not in the default data root (run scripts/setup.sh)";
  deepgen::testing::TempDir dir;
  const std::string run = dir.file("run");
  ASSERT_TRUE(succeeded(deepgen(
      {"train",       "vae",         "--data", "mnist",   "--arch",    "conv",    "--likelihood",
       "bernoulli",   "--kl-warmup", "20",     "--steps", "20",        "--batch", "32",
       "--log-every", "10",          "--out",  run,       "--threads", "1"},
      default_root)));
  EXPECT_TRUE(is_png(run + "/reconstructions.png"));
  const auto rows = training_rows(run);
  ASSERT_EQ(rows.size(), 2u);
  // Rows hold window means: the weight (s+1)/20 averaged over steps 0-9 and 10-19.
  EXPECT_NEAR(rows.front()["kl_weight"].get<double>(), 0.275, 1e-6);
  EXPECT_NEAR(rows.back()["kl_weight"].get<double>(), 0.775, 1e-6);
  EXPECT_LT(rows.back()["loss"].get<double>(), rows.front()["loss"].get<double>());
}

}  // namespace
