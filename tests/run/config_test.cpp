// Run directories written before the option tables (tests/run/fixtures: written by deepgen at
// f1073c2) still load, resolve to the same options, and evaluate to the same numbers.
#include "deepgen/run/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "deepgen/io/files.h"
#include "deepgen/run/families.h"
#include "deepgen/run/model.h"
#include "deepgen/run/outputs.h"
#include "deepgen/train/options.h"

namespace deepgen::run {
namespace {

using nlohmann::json;

const std::string kFixtures = DEEPGEN_SOURCE_DIR "/tests/run/fixtures";

json read_json(const std::string& path) { return json::parse(io::read_file(path)); }

class OldRun : public ::testing::TestWithParam<std::string> {};

// Every key the old config.json holds has the same value after load + resolve; keys added
// since hold their defaults.
void expect_same_options(const json& old_config) {
  const RunConfig c = run_config_from_json(old_config);
  const json again = to_json(c);
  for (const char* section : {"data", "train"})
    for (const auto& [key, value] : old_config[section].items())
      EXPECT_EQ(again[section][key], value) << section << "." << key;
  for (const char* key : {"device", "threads", "blas_threads", "model", "data_shape"})
    EXPECT_EQ(again[key], old_config[key]) << key;
  const train::Family& f = family(c.model);
  const json resolved = f.resolve(c.model_options, c.data_shape);
  const json defaults = f.defaults(c.data_shape);
  for (const auto& [key, value] : resolved.items()) {
    if (old_config["model_options"].contains(key))
      EXPECT_EQ(value, old_config["model_options"][key]) << c.model << "." << key;
    else
      EXPECT_EQ(value, defaults[key]) << "new key " << c.model << "." << key;
  }
}

TEST_P(OldRun, ToyConfigLoadsWithTheSameOptions) {
  expect_same_options(read_json(kFixtures + "/" + GetParam() + "-toy/config.json"));
}

TEST_P(OldRun, MnistConfigLoadsWithTheSameOptions) {
  expect_same_options(read_json(kFixtures + "/" + GetParam() + "-mnist-config.json"));
  // ...and makes a model (the network's structure follows the options).
  const RunConfig c =
      run_config_from_json(read_json(kFixtures + "/" + GetParam() + "-mnist-config.json"));
  EXPECT_NO_THROW(make_model(c));
}

// The old weights evaluate to the old eval.json. Same computation, same seed: equal up to the
// CPU's kernels (AVX2 and AVX-512 GEMMs round differently), far below any metric's noise.
TEST_P(OldRun, OldWeightsEvaluateToTheOldNumbers) {
  const std::string dir = kFixtures + "/" + GetParam() + "-toy";
  const RunConfig c = load_run_config(dir);
  auto model = load_trained_model(c, dir, true);
  const data::Splits splits = data::load_data(c.data);
  model->keep_training_data(splits.train);
  const json now = evaluation(*model, c, splits.test, 500, 0, c.train.seed);
  const json old = read_json(dir + "/eval.json");
  EXPECT_EQ(now["units"], old["units"]);
  ASSERT_EQ(now["metrics"].size(), old["metrics"].size());
  for (const auto& [key, value] : old["metrics"].items())
    EXPECT_NEAR(now["metrics"][key].get<double>(), value.get<double>(),
                1e-4 * (1 + std::abs(value.get<double>())))
        << key;
  // Every old sampling field is unchanged; later versions may report more (a VDM's nfe, grid).
  if (old.contains("sampling"))
    for (const auto& [key, value] : old["sampling"].items())
      EXPECT_EQ(now["sampling"][key], value) << key;
  EXPECT_EQ(now.contains("sampling"), old.contains("sampling"));
}

INSTANTIATE_TEST_SUITE_P(Families, OldRun, ::testing::Values("vae", "vdm", "score"));

// A score run saved before score.architecture existed has NCSN's small U-Net, and its saved
// weights name that net's layers: as saved, it must make that net again (today's default, the
// shared U-Net, would not load them); a new config gets the default.
TEST(OldScoreRun, KeepsItsSmallUNet) {
  const json old = read_json(kFixtures + "/score-mnist-config.json");
  ASSERT_FALSE(old["model_options"].contains("architecture"));
  const RunConfig saved = run_config_from_json(saved_config(old));
  EXPECT_EQ(saved.model_options["architecture"], "small-unet");
  const auto names = [](const RunConfig& c) {
    return make_model(c)->module().named_parameters().keys();
  };
  const auto old_names = names(saved);
  EXPECT_NE(std::find(old_names.begin(), old_names.end(), "block0.conv1.weight"), old_names.end());
  const RunConfig fresh = run_config_from_json(old);
  const auto new_names = names(fresh);
  EXPECT_NE(std::find(new_names.begin(), new_names.end(), "conv_in.weight"), new_names.end());
}

TEST(RunConfig, UnknownKeysAreErrorsNamingThem) {
  auto error_of = [](const json& j) {
    try {
      run_config_from_json(j);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error_of({{"trian", json::object()}}).find("'trian'"), std::string::npos);
  EXPECT_NE(error_of({{"train", {{"bacth", 3}}}}).find("'bacth'"), std::string::npos);
  EXPECT_NE(error_of({{"data", {{"spec", 3}}}}).find("`data.spec` expects TEXT"),
            std::string::npos);
  EXPECT_EQ(error_of({{"model", "vae"}, {"threads", 2}}), "");
}

TEST(RunConfig, EveryTrainOptionIsSaved) {
  RunConfig c;
  c.train.optimizer.lr = 0.125;
  c.train.eval_batches = 3;
  const RunConfig back = run_config_from_json(to_json(c));
  EXPECT_EQ(to_json(back), to_json(c));
  EXPECT_EQ(back.train.optimizer.lr, 0.125);
  EXPECT_EQ(to_json(c)["train"].size(), train::train_option_table().specs().size());
}

TEST(RunConfig, ConfigPlacesEachSectionWhereConfigJsonHasIt) {
  json config = json::object();
  set_in_config(config, {"train", "lr"}, 0.5);
  set_in_config(config, {"data", "spec"}, "toy:moons");
  set_in_config(config, {"run", "threads"}, 2);
  set_in_config(config, {"vdm", "gamma_min"}, -10);
  EXPECT_EQ(config, (json{{"train", {{"lr", 0.5}}},
                          {"data", {{"spec", "toy:moons"}}},
                          {"threads", 2},
                          {"model_options", {{"gamma_min", -10}}}}));
}

}  // namespace
}  // namespace deepgen::run
