// Families make the models; a run's files say which family and with which options.
#include "deepgen/run/model.h"

#include "deepgen/core/runtime.h"
#include "deepgen/io/files.h"
#include "deepgen/run/families.h"
#include "deepgen/run/run_dir.h"
#include "deepgen/train/checkpoint.h"

namespace deepgen::run {

using nlohmann::json;

const train::Family& family_of(const RunConfig& c) { return family(c.model); }

std::unique_ptr<train::GenerativeModel> make_model(const RunConfig& c) {
  return family_of(c).make(c.model_options, c.data_shape);
}

namespace {

const OptionSpec* find_spec(const train::Family& f, const std::string& key) {
  for (const auto& s : f.options)
    if (s.key == key) return &s;
  return nullptr;
}

}  // namespace

RunConfig with_overrides(const RunConfig& c, const json& overrides, unsigned command) {
  const train::Family& f = family_of(c);
  RunConfig patched = c;
  for (const auto& [key, value] : overrides.items()) {
    const OptionSpec* spec = find_spec(f, key);
    if (spec == nullptr || (spec->commands & command) == 0)
      throw Error(f.name + ": " + option_ref(f.name, key) +
                  " is fixed when the model is trained; it cannot change for a trained run");
    patched.model_options[key] = value;
  }
  patched.model_options = f.resolve(patched.model_options, patched.data_shape);
  return patched;
}

RunConfig with_runtime(RunConfig c, const json& runtime) {
  runtime_option_table().update(c.runtime, runtime);
  return c;
}

Precision use_precision(const Runtime& runtime, c10::Device device,
                        const train::GenerativeModel& model,
                        const std::function<void(const std::string&)>& log) {
  const PrecisionChoice choice =
      resolve_precision(runtime.precision, device, detect_bf16_support(), model.gains_from_bf16());
  if (!choice.warning.empty() && log) log("warning: " + choice.warning);
  set_network_precision(choice.precision, device.type());
  return choice.precision;
}

std::unique_ptr<train::GenerativeModel> load_trained_model(const RunConfig& c,
                                                           const std::string& run_dir, bool ema) {
  auto model = make_model(c);
  const RunDir dir(run_dir);
  // Only a run trained with EMA reads ema.safetensors: one left in --out by an earlier run is
  // not this run's.
  const bool has_ema = c.train.ema_decay > 0 && io::file_exists(dir.ema_weights());
  const std::string path = ema && has_ema ? dir.ema_weights() : dir.weights();
  if (!io::file_exists(path))
    throw Error("run " + run_dir + " has no weights yet (missing " + path + ")");
  const auto metadata = train::load_weights(path, model->module());
  // A data shape of the same size (784 = 28x28 = 14x56) loads the weights of an MLP without
  // complaint; the weights' own record of the shape catches an edited config.json.
  const auto trained = metadata.find("data_shape");
  if (trained != metadata.end() && trained->second != json(c.data_shape).dump())
    throw Error(path + " was trained on data of shape " + trained->second + " but " + dir.config() +
                " says " + json(c.data_shape).dump() + ": restore its data_shape");
  model->module().to(resolve_device(c.runtime.device));
  model->module().eval();
  return model;
}

}  // namespace deepgen::run
