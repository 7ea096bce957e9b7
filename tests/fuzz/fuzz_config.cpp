// A run's config.json (src/run/config.cpp load_run_config: JSON text, saved_config's upgrades of
// older runs, run_config_from_json through the option tables), written back as to_json does and
// read once more (what is accepted must survive being saved).
// Wrong types, unknown and missing keys, out-of-range numbers and nesting come from the mutator
// and from config.dict (every key the option tables declare).
#include "deepgen/data/options.h"
#include "deepgen/run/config.h"
#include "deepgen/train/options.h"
#include "fuzz_support.h"

void fuzz_one(const uint8_t* data, size_t size) {
  const std::string dir = deepgen::fuzz::scratch() + "/run";
  std::filesystem::create_directories(dir);
  deepgen::fuzz::input_file("run/config.json", data, size);
  const deepgen::run::RunConfig config = deepgen::run::load_run_config(dir);
  // What was accepted is saved as config.json again when the run trains: it must load back.
  const std::string saved = deepgen::run::to_json(config).dump();
  try {
    deepgen::run::run_config_from_json(nlohmann::json::parse(saved));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: config: an accepted config does not load back once saved: %s\n%s\n",
                 e.what(), saved.c_str());
    std::abort();
  }
}

void write_seeds(const std::string& dir) {
  using deepgen::fuzz::write_bytes;
  using nlohmann::json;
  deepgen::run::RunConfig vae;
  vae.model = "vae";
  vae.model_options = {{"likelihood", "bernoulli"}, {"hidden", {256, 128}}, {"beta", 0.5}};
  vae.data_shape = {1, 28, 28};
  write_bytes(dir + "/vae.json", deepgen::run::to_json(vae).dump(2));
  deepgen::run::RunConfig vdm;
  vdm.model = "vdm";
  vdm.model_options = {{"gamma_schedule", "learned_net"}, {"T", 0}, {"channels", 32}};
  vdm.data.spec = "toy:moons";
  vdm.data_shape = {2};
  vdm.train.steps = 100;
  vdm.runtime.precision = "bf16";
  write_bytes(dir + "/vdm-toy.json", deepgen::run::to_json(vdm).dump());
  // As an older deepgen saved it: no precision, a score run without its architecture.
  json old = deepgen::run::to_json(vdm);
  old.erase("precision");
  old["model"] = "score";
  old["model_options"] = {{"method", "ncsn"}, {"sigma_begin", 1.0}};
  write_bytes(dir + "/score-old.json", old.dump());
  write_bytes(dir + "/minimal.json", R"({"model": "vae", "train": {"steps": 5}})");
  write_bytes(dir + "/runtime.json",
              R"({"model": "vae", "threads": 2, "blas_threads": 1, "device": "cpu"})");

  // The dictionary: every key of the tables config.json is read through, and JSON's tokens.
  std::string dict;
  const auto add = [&](const std::string& word) { dict += json(word).dump() + "\n"; };
  const auto add_key = [&](const std::string& key) { add(json(key).dump()); };  // "key", quoted
  for (const char* key : {"model", "model_options", "data", "data_shape", "train"}) add_key(key);
  for (const auto& s : deepgen::data::data_option_table().specs()) add_key(s.key);
  for (const auto& s : deepgen::train::train_option_table().specs()) add_key(s.key);
  for (const auto& s : deepgen::run::runtime_option_table().specs()) add_key(s.key);
  for (const char* token : {"{", "}", "[", "]", ":", ",", "true", "false", "null", "-1", "1e308",
                            "18446744073709551616", "0.5", "\"\""})
    add(token);
  write_bytes(dir + ".dict", dict);
}
