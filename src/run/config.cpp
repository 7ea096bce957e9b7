// RunConfig <-> config.json through the option tables: a key is known because a table declares
// it, so a typo in a config file is an error, not a no-op.
#include "deepgen/run/config.h"

#include "deepgen/core/json_text.h"
#include "deepgen/core/options.h"
#include "deepgen/core/precision.h"
#include "deepgen/data/options.h"
#include "deepgen/io/files.h"
#include "deepgen/train/options.h"

namespace deepgen::run {

using nlohmann::json;

const OptionTable<Runtime>& runtime_option_table() {
  static const OptionTable<Runtime> table = [] {
    OptionTable<Runtime> t("run");
    // A run's process settings: they change no result's meaning, so sample and eval may set
    // them too (a run trained on a GPU evaluates on a CPU).
    const unsigned all = kTrain | kSample | kEval;
    t.add("device", &Runtime::device, "cpu | cuda | cuda:N | auto (CUDA when available)")
        .commands(all);
    t.add("threads", &Runtime::threads, "Intra-op CPU threads (0: one per core)")
        .min(0)
        .commands(all);
    t.add("blas_threads", &Runtime::blas_threads,
          "OpenBLAS threads (0: one; raise it, with --threads 1, for MLP-only models)")
        .min(0)
        .commands(all);
    t.add("precision", &Runtime::precision,
          "Arithmetic of the networks: fp32 | bf16 (their convolutions and matrix products in "
          "bfloat16; losses, bound and weights stay float32) | auto (bf16 where the device has "
          "native bf16: avx512_bf16 / AMX CPUs, GPUs of compute capability 8.0+)")
        .choices(precision_names())
        .commands(all);
    return t;
  }();
  return table;
}

json to_json(const RunConfig& c) {
  json j{{"model", c.model},
         {"model_options", c.model_options},
         {"data", data::data_option_table().to_json(c.data)},
         {"data_shape", c.data_shape},
         {"train", train::train_option_table().to_json(c.train)}};
  j.update(runtime_option_table().to_json(c.runtime));
  return j;
}

RunConfig run_config_from_json(const json& j) {
  if (!j.is_object()) throw Error("config: must be a JSON object, got " + j.dump());
  RunConfig c;
  json runtime = json::object();
  for (const auto& [key, value] : j.items()) {
    if (key == "model") {
      if (!value.is_string()) throw Error("config: 'model' must be a name, got " + value.dump());
      c.model = value.get<std::string>();
    } else if (key == "model_options") {
      if (!value.is_object()) throw Error("config: 'model_options' must be a JSON object");
      c.model_options = value;
    } else if (key == "data") {
      data::data_option_table().update(c.data, value);
    } else if (key == "data_shape") {
      if (!detail::json_matches(value, OptionType::integers))
        throw Error("config: 'data_shape' must be a list of sizes, got " + value.dump());
      c.data_shape = value.get<std::vector<int64_t>>();
    } else if (key == "train") {
      train::train_option_table().update(c.train, value);
    } else {
      bool known = false;
      std::string names = "model, model_options, data, data_shape, train";
      for (const auto& spec : runtime_option_table().specs()) {
        known = known || spec.key == key;
        names += ", " + spec.key;
      }
      if (!known) throw Error("config: unknown key '" + key + "' (known: " + names + ")");
      runtime[key] = value;
    }
  }
  runtime_option_table().update(c.runtime, runtime);
  return c;
}

json saved_config(json j) {
  if (!j.is_object()) return j;
  if (!j.contains("precision")) j["precision"] = "fp32";
  json* model = j.contains("model_options") ? &j["model_options"] : nullptr;
  // j.value("model", "") would throw nlohmann's type_error on a non-string "model" (the
  // reader names that error itself).
  const auto name = j.find("model");
  if (name != j.end() && *name == "score" && model && model->is_object() &&
      !model->contains("architecture"))
    (*model)["architecture"] = "small-unet";
  return j;
}

RunConfig load_run_config(const std::string& run_dir) {
  const std::string path = run_dir + "/config.json";
  if (!io::file_exists(path))
    throw Error("no run at " + run_dir + " (missing config.json): train one with deepgen train");
  const json j = parse_json_text(io::read_file(path), path);
  try {
    return run_config_from_json(saved_config(j));
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

namespace {

json* slot(json& config, const std::string& section) {
  if (section == "run") return &config;
  if (section == "train" || section == "data") return &config[section];
  return &config["model_options"];
}

}  // namespace

void set_in_config(json& config, const OptionSpec& spec, json value) {
  (*slot(config, spec.section))[spec.key] = std::move(value);
}

}  // namespace deepgen::run
