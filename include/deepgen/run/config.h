#pragma once
// A run's configuration: what RUN_DIR/config.json records, built from the option tables of the
// trainer, the data and the run itself, and the family's options kept as JSON until the data
// decide their shape.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "deepgen/core/options.h"
#include "deepgen/data/dataset.h"
#include "deepgen/train/trainer.h"

namespace deepgen::run {

// The settings of the process a run trains in (config.json's top-level keys).
struct Runtime {
  std::string device = "auto";     // cpu | cuda | cuda:N | auto
  int threads = 0;                 // intra-op (OpenMP) threads; 0: one per core
  int blas_threads = 0;            // OpenBLAS threads; 0: one
  std::string precision = "auto";  // fp32 | bf16 | auto (core/precision.h)
};
const OptionTable<Runtime>& runtime_option_table();

struct RunConfig {
  RunConfig() { train.epochs = 10; }  // a sensible length when neither steps nor epochs is set
  std::string model;
  nlohmann::json model_options = nlohmann::json::object();
  data::DataOptions data;
  std::vector<int64_t> data_shape;  // filled from the data set when training starts
  train::TrainOptions train;        // run_dir, device and comm are set when training starts
  Runtime runtime;
};

nlohmann::json to_json(const RunConfig& config);
// The defaults overlaid with `j`; an unknown key is an error naming it.
RunConfig run_config_from_json(const nlohmann::json& j);
// A config.json as saved, with what an older deepgen left implicit made explicit: a run saved
// without "precision" was trained in float32 and keeps it (today's default would be auto); a
// score run saved without "architecture" has NCSN's small U-Net (today's default is unet).
nlohmann::json saved_config(nlohmann::json j);
// RUN_DIR/config.json; one error line when it is missing or unreadable.
RunConfig load_run_config(const std::string& run_dir);

// Where an option of `spec.section` sits in config.json: "train" and "data" have their
// sections, the runtime's keys are top-level, a family's sit in "model_options".
void set_in_config(nlohmann::json& config, const OptionSpec& spec, nlohmann::json value);

}  // namespace deepgen::run
