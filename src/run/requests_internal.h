#pragma once
// What the trained-run commands (sample, eval, inpaint) share, defined in requests.cpp: private
// to the run layer.
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "deepgen/core/precision.h"
#include "deepgen/core/progress.h"
#include "deepgen/run/config.h"
#include "deepgen/train/model.h"

namespace deepgen::run {

// A progress line through `log` at most every 10 s, with the rate and the time left; none
// without a log.
// Whether s ends with e and has something before it ("x.png" ends with ".png", ".png" not).
bool ends_with(const std::string& s, const std::string& e);
ProgressListener progress_lines(const std::function<void(const std::string&)>& log);
// The run's config with the command's overrides and process settings, its threads applied.
RunConfig configured(const std::string& run, const nlohmann::json& overrides,
                     const nlohmann::json& runtime, unsigned command,
                     const std::function<void(const std::string&)>& log);
// The trained model, with the run's network precision applied to this thread.
std::pair<std::unique_ptr<train::GenerativeModel>, Precision> ready_model(
    const RunConfig& c, const std::string& run, bool ema,
    const std::function<void(const std::string&)>& log);

}  // namespace deepgen::run
