// RunConfig <-> JSON: the resolved config.json of a run, and --config FILE.json.
#include "app.h"
#include "deepgen/core/error.h"

namespace deepgen::cli {

using nlohmann::json;

json to_json(const RunConfig& c) {
  const auto& t = c.train;
  const auto& o = t.optimizer;
  return json{{"model", c.model},
              {"model_options", c.model_options},
              {"data",
               {{"spec", c.data.spec},
                {"image_size", c.data.image_size},
                {"toy_train", c.data.toy_train},
                {"toy_test", c.data.toy_test},
                {"test_fraction", c.data.test_fraction},
                {"seed", c.data.seed}}},
              {"data_shape", c.data_shape},
              {"train",
               {{"steps", t.steps},
                {"epochs", t.epochs},
                {"batch", t.batch},
                {"seed", t.seed},
                {"ema", t.ema_decay},
                {"checkpoint_every", t.checkpoint_every},
                {"log_every", t.log_every},
                {"eval_every", t.eval_every},
                {"eval_batches", t.eval_batches},
                {"optimizer", o.name},
                {"lr", o.lr},
                {"beta1", o.beta1},
                {"beta2", o.beta2},
                {"eps", o.eps},
                {"weight_decay", o.weight_decay},
                {"schedule", o.schedule},
                {"warmup", o.warmup},
                {"min_lr_factor", o.min_lr_factor},
                {"grad_clip", o.grad_clip}}},
              {"device", c.device},
              {"threads", c.threads},
              {"blas_threads", c.blas_threads}};
}

json default_config_json() { return to_json(RunConfig{}); }

namespace {

// Every key of `j` must exist in `defaults`: a typo in a config file is an error, not a no-op.
void check_keys(const json& j, const json& defaults, const std::string& where) {
  if (!j.is_object()) throw Error("config: '" + where + "' must be a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (!defaults.contains(key)) throw Error("config: unknown key '" + where + key + "'");
    if (defaults[key].is_object() && key != "model_options")
      check_keys(value, defaults[key], where + key + ".");
  }
}

}  // namespace

RunConfig run_config_from_json(const json& overrides) {
  json d = default_config_json();
  check_keys(overrides, d, "");
  d.merge_patch(overrides);
  if (overrides.contains("model_options")) d["model_options"] = overrides["model_options"];
  RunConfig c;
  try {
    c.model = d["model"].get<std::string>();
    c.model_options = d["model_options"];
    const json& dj = d["data"];
    c.data.spec = dj["spec"].get<std::string>();
    c.data.image_size = dj["image_size"].get<int>();
    c.data.toy_train = dj["toy_train"].get<int64_t>();
    c.data.toy_test = dj["toy_test"].get<int64_t>();
    c.data.test_fraction = dj["test_fraction"].get<double>();
    c.data.seed = dj["seed"].get<uint64_t>();
    c.data_shape = d["data_shape"].get<std::vector<int64_t>>();
    const json& tj = d["train"];
    auto& t = c.train;
    t.steps = tj["steps"].get<int64_t>();
    t.epochs = tj["epochs"].get<int64_t>();
    t.batch = tj["batch"].get<int64_t>();
    t.seed = tj["seed"].get<uint64_t>();
    t.ema_decay = tj["ema"].get<double>();
    t.checkpoint_every = tj["checkpoint_every"].get<int64_t>();
    t.log_every = tj["log_every"].get<int64_t>();
    t.eval_every = tj["eval_every"].get<int64_t>();
    t.eval_batches = tj["eval_batches"].get<int64_t>();
    auto& o = t.optimizer;
    o.name = tj["optimizer"].get<std::string>();
    o.lr = tj["lr"].get<double>();
    o.beta1 = tj["beta1"].get<double>();
    o.beta2 = tj["beta2"].get<double>();
    o.eps = tj["eps"].get<double>();
    o.weight_decay = tj["weight_decay"].get<double>();
    o.schedule = tj["schedule"].get<std::string>();
    o.warmup = tj["warmup"].get<int64_t>();
    o.min_lr_factor = tj["min_lr_factor"].get<double>();
    o.grad_clip = tj["grad_clip"].get<double>();
    c.device = d["device"].get<std::string>();
    c.threads = d["threads"].get<int>();
    c.blas_threads = d["blas_threads"].get<int>();
  } catch (const json::exception& e) {
    throw Error(std::string("config: wrong value type: ") + e.what());
  }
  return c;
}

}  // namespace deepgen::cli
