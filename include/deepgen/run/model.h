#pragma once
// Models of a run: made from its config by the family's record, or loaded with its weights.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

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
// The trained model with its weights (ema.safetensors when `ema` and present), on the run's
// device, in eval mode.
std::unique_ptr<train::GenerativeModel> load_trained_model(const RunConfig& config,
                                                           const std::string& run_dir, bool ema);

}  // namespace deepgen::run
