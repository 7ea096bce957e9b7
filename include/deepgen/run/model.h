#pragma once
// Models of a run: made from its config by the family's record, or loaded with its weights.
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "deepgen/core/precision.h"
#include "deepgen/data/dataset.h"
#include "deepgen/run/config.h"
#include "deepgen/train/family.h"

namespace deepgen::run {

const train::Family& family_of(const RunConfig& config);
std::unique_ptr<train::GenerativeModel> make_model(const RunConfig& config);
// `config` with some of the family's options replaced: only those that take part in `command`
// (kSample / kEval: how a trained model samples or is evaluated); another key is an error.
RunConfig with_overrides(const RunConfig& config, const nlohmann::json& overrides,
                         unsigned command);
// `config` with its process settings (device, threads, precision) replaced by `runtime`'s keys.
RunConfig with_runtime(RunConfig config, const nlohmann::json& runtime);
// The run's network precision for `model` on `device`, set for this thread's network forwards
// (core/precision.h); the warning of bf16 asked for where it is emulated goes to `log`.
Precision use_precision(const Runtime& runtime, c10::Device device,
                        const train::GenerativeModel& model,
                        const std::function<void(const std::string&)>& log);
// The trained model with its weights (ema.safetensors when `ema` and present), on the run's
// device, in eval mode.
std::unique_ptr<train::GenerativeModel> load_trained_model(const RunConfig& config,
                                                           const std::string& run_dir, bool ema);

}  // namespace deepgen::run
