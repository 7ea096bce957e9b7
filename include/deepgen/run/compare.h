#pragma once
// `deepgen compare`: the likelihoods of several runs on one data set in one table — each run's
// bounds (eval.json, bounds.json) and probability-flow ODE estimate (bounds.json after
// `eval --ode --save`), labelled bound or estimate — as JSON and as one HTML page.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "deepgen/core/options.h"

namespace deepgen::run {

struct CompareRequest {
  std::string runs;  // run directories, comma-separated
  std::string html;  // the page; empty: none
};
const OptionTable<CompareRequest>& compare_option_table();

// {"data": spec, "rows": [{run, family, estimator, kind, value, unit, std_error, examples, nfe,
// seconds}...]}. Throws deepgen::Error for fewer than one run, a run that is not one, or runs
// on different data sets.
nlohmann::json compare_runs(const CompareRequest& request);

}  // namespace deepgen::run
