// Each option declared once: flags, help with defaults, scoping per family, the generated
// reference, and messages that name only flags that exist.
#include <set>

#include "cli_support.h"

namespace {

std::set<std::string> flags_in(const std::string& text) {
  static const std::regex flag("--[a-zA-Z][a-zA-Z0-9_-]*");
  std::set<std::string> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), flag); it != std::sregex_iterator();
       ++it)
    out.insert(it->str());
  return out;
}

// Every flag deepgen registers, read from the help of every command line.
std::set<std::string> registered_flags() {
  std::set<std::string> all;
  for (const std::vector<std::string>& cmd :
       std::vector<std::vector<std::string>>{{"--help"},
                                             {"train", "--help"},
                                             {"train", "vae", "--help"},
                                             {"train", "vdm", "--help"},
                                             {"train", "score", "--help"},
                                             {"sample", "--help"},
                                             {"eval", "--help"},
                                             {"langevin", "--help"},
                                             {"fit", "gmm", "--help"},
                                             {"demo", "--help"},
                                             {"options", "--help"}}) {
    Result r = deepgen(cmd);
    EXPECT_TRUE(succeeded(r)) << describe(r);
    for (const auto& f : flags_in(r.out)) all.insert(f);
  }
  return all;
}

// String literals of the C++ sources under src/ (comments dropped), with their file and line.
struct Literal {
  std::string where, text;
};
std::vector<Literal> source_literals() {
  static const std::regex literal(R"("(?:[^"\\]|\\.)*")");
  std::vector<Literal> out;
  for (const auto& entry : fs::recursive_directory_iterator(DEEPGEN_SOURCE_DIR "/src")) {
    const std::string path = entry.path().string();
    if (!entry.is_regular_file() ||
        (entry.path().extension() != ".cpp" && entry.path().extension() != ".h"))
      continue;
    std::istringstream in(read_text(path));
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      const auto first = line.find_first_not_of(" \t");
      if (first != std::string::npos && line.compare(first, 2, "//") == 0) continue;
      for (auto it = std::sregex_iterator(line.begin(), line.end(), literal);
           it != std::sregex_iterator(); ++it)
        out.push_back({path.substr(path.find("/src/") + 1) + ":" + std::to_string(n), it->str()});
    }
  }
  return out;
}

TEST(CliOptions, EveryFlagInAMessageIsARegisteredFlag) {
  const std::set<std::string> registered = registered_flags();
  ASSERT_GT(registered.size(), 60u);  // the help pages were read
  // Other programs' flags that messages quote (torchrun's launcher).
  const std::set<std::string> external{"--no_python", "--nproc_per_node", "--standalone"};
  int checked = 0;
  for (const auto& lit : source_literals())
    for (const auto& f : flags_in(lit.text)) {
      ++checked;
      if (!external.count(f))
        EXPECT_TRUE(registered.count(f)) << lit.where << " names " << f << ", which is no flag";
    }
  EXPECT_GT(checked, 10);
}

TEST(CliOptions, EveryOptionReferenceNamesADeclaredOption) {
  Result r = deepgen({"options"});
  ASSERT_TRUE(succeeded(r)) << describe(r);
  std::set<std::string> declared;
  for (const auto& o : json::parse(r.out))
    declared.insert(o["section"].get<std::string>() + "." + o["key"].get<std::string>());
  static const std::regex ref(R"re(option_ref\("([a-z_]+)", "([A-Za-z_0-9]+)"\))re");
  int checked = 0;
  for (const auto& entry : fs::recursive_directory_iterator(DEEPGEN_SOURCE_DIR "/src")) {
    if (!entry.is_regular_file()) continue;
    const std::string text = read_text(entry.path().string());
    for (auto it = std::sregex_iterator(text.begin(), text.end(), ref);
         it != std::sregex_iterator(); ++it, ++checked)
      EXPECT_TRUE(declared.count((*it)[1].str() + "." + (*it)[2].str()))
          << entry.path() << ": option_ref of " << (*it)[1] << "." << (*it)[2];
  }
  EXPECT_GT(checked, 20);
}

TEST(CliOptions, ReferenceInDocsIsCurrent) {
  Result r = deepgen({"options", "--markdown"});
  ASSERT_TRUE(succeeded(r)) << describe(r);
  EXPECT_EQ(read_text(DEEPGEN_SOURCE_DIR "/docs/options.md"), r.out)
      << "docs/options.md is stale: build/bin/deepgen options --markdown > docs/options.md";
}

TEST(CliOptions, FamilyHelpListsItsOwnAndTheCommonFlagsWithDefaults) {
  Result r = deepgen({"train", "vdm", "--help"});
  ASSERT_TRUE(succeeded(r)) << describe(r);
  for (const char* text : {"--gamma-min", "(default -13.3)", "--sampler", "--lr", "--batch",
                           "(default 128)", "--data", "(default mnist)", "--resume"})
    EXPECT_NE(r.out.find(text), std::string::npos) << text << "\n" << r.out;
  for (const char* vae_only : {"--latent", "--likelihood", "--kl-warmup", "--iwae-k"})
    EXPECT_EQ(r.out.find(vae_only), std::string::npos) << vae_only << "\n" << r.out;
  // A default that depends on the data says so.
  Result s = deepgen({"train", "score", "--help"});
  EXPECT_NE(s.out.find("1 for images, 20 for points"), std::string::npos) << s.out;
}

TEST(CliOptions, AnotherFamilysFlagIsAnErrorNamingThatFamily) {
  TempDir dir;
  Result r =
      deepgen({"train", "vdm", "--data", "toy:moons", "--out", dir.file("run"), "--latent", "3"});
  EXPECT_TRUE(one_line_error(r, "--latent is an option of vae, not of vdm"));
  EXPECT_FALSE(fs::exists(dir.file("run"))) << "nothing is written for a refused command line";
  EXPECT_TRUE(one_line_error(deepgen({"train", "score", "--out", dir.file("r"), "--bogus", "1"}),
                             "unknown flag --bogus"));
}

TEST(CliOptions, ValueOfTheWrongFormNamesTheFlag) {
  TempDir dir;
  EXPECT_TRUE(one_line_error(
      deepgen({"train", "vdm", "--out", dir.file("a"), "--gamma-min", "low"}), "--gamma-min"));
  EXPECT_TRUE(one_line_error(deepgen({"train", "vdm", "--out", dir.file("b"), "--attention", "3"}),
                             "--attention expects true or false"));
}

TEST(CliOptions, SampleAndEvalRefuseTrainingOptions) {
  EXPECT_TRUE(
      one_line_error(deepgen({"sample", "--run", "r", "--out", "x.png", "--gamma-min", "3"}),
                     "--gamma-min is fixed when a vdm model is trained"));
  EXPECT_TRUE(one_line_error(deepgen({"eval", "--run", "r", "--bogus"}), "unexpected argument"));
}

// eval.json after training covers the whole test split, or --final-eval-batches batches of 500
// (the demo's score model skips a minute of score-matching loss that way).
TEST(CliOptions, FinalEvalBatchesLimitsTheRunsEvaluation) {
  TempDir dir;
  const std::string all = dir.file("all"), part = dir.file("part");
  ASSERT_TRUE(succeeded(deepgen(toy_train(all, {"--steps", "2", "--toy-test", "1200"}))));
  ASSERT_TRUE(succeeded(deepgen(
      toy_train(part, {"--steps", "2", "--toy-test", "1200", "--final-eval-batches", "1"}))));
  EXPECT_EQ(json::parse(read_text(all + "/eval.json"))["examples"], 1200);
  EXPECT_EQ(json::parse(read_text(part + "/eval.json"))["examples"], 500);
  EXPECT_EQ(json::parse(read_text(part + "/config.json"))["train"]["final_eval_batches"], 1);
}

// The option added end to end by one declaration: the test share of folder: / csv: data.
TEST(CliOptions, TestFractionSplitsCsvData) {
  TempDir dir;
  const std::string csv = dir.file("points.csv");
  {
    std::ofstream out(csv);
    for (int i = 0; i < 200; ++i) out << i * 0.01 << "," << (i % 7) * 0.1 << "\n";
  }
  const std::string run = dir.file("run");
  Result r = deepgen({"train", "vae", "--data", "csv:" + csv, "--test-fraction", "0.25", "--out",
                      run, "--steps", "2", "--batch", "10", "--latent", "1", "--threads", "1"});
  ASSERT_TRUE(succeeded(r)) << describe(r);
  EXPECT_EQ(json::parse(read_text(run + "/eval.json"))["examples"], 50);  // 0.25 of 200 rows
  EXPECT_EQ(json::parse(read_text(run + "/config.json"))["data"]["test_fraction"], 0.25);
  EXPECT_TRUE(one_line_error(deepgen({"train", "vae", "--data", "csv:" + csv, "--test-fraction",
                                      "1", "--out", dir.file("b"), "--steps", "2"}),
                             "--test-fraction must be in [0, 1)"));
  // 0 holds nothing out (fit gmm's default); training needs a test split, and says so up front.
  const std::string none = dir.file("c");
  EXPECT_TRUE(one_line_error(deepgen({"train", "vae", "--data", "csv:" + csv, "--test-fraction",
                                      "0", "--out", none, "--steps", "2"}),
                             "no test split"));
  EXPECT_FALSE(std::filesystem::exists(none));
  // A batch larger than the training split names the data (not a path) and writes nothing.
  const std::string big = dir.file("d");
  EXPECT_TRUE(one_line_error(deepgen({"train", "vae", "--data", "csv:" + csv, "--batch", "500",
                                      "--out", big, "--steps", "2"}),
                             "--batch 500 exceeds the 180 examples of the training split of csv:"));
  EXPECT_FALSE(std::filesystem::exists(big));
}

}  // namespace
