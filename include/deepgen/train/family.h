#pragma once
// A model family describes itself once: its name, its options, what it takes from the training
// set, how a model is made, and what its metrics measure. The run layer and the CLI read only
// this record, so they hold no family's name or type; adding a family is its folder plus one
// line in src/run/families.cpp.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "deepgen/core/options.h"
#include "deepgen/data/dataset.h"
#include "deepgen/train/model.h"
#include "deepgen/train/trainer.h"

namespace deepgen::train {

using Shape = std::vector<int64_t>;  // one sample: {C, H, W} images, {D} points

struct Family {
  std::string name;     // `deepgen train NAME`, and config.json's "model"
  std::string summary;  // one line of --help
  std::string units;    // what evaluate()'s metrics are measured in
  std::string unit;     // its short form, beside each number and on chart axes
  // Logged training parts measured in something else, e.g. a VAE's decoder σ (data units).
  std::map<std::string, std::string> part_units;
  // One line for reports on what the headline test number is (a bound, an estimate, or not a
  // likelihood at all) for these resolved options.
  std::function<std::string(const nlohmann::json& resolved)> explain;
  // For each test metric that is a likelihood, what kind it is ("upper bound on ..."), so eval
  // labels every likelihood it prints; metrics left out are not likelihoods.
  std::function<std::map<std::string, std::string>(const nlohmann::json& resolved)> likelihoods;
  // The model options (OptionSpec::section == name). Those whose commands include kSample or
  // kEval change how a trained model samples or is evaluated, never its weights.
  std::vector<OptionSpec> options;
  // Every option at its default for data of this shape.
  std::function<nlohmann::json(const Shape&)> defaults;
  // `given` over the defaults, validated: every key (what config.json records).
  std::function<nlohmann::json(const nlohmann::json& given, const Shape&)> resolve;
  // Options the training set decides (its size, its statistics), written into `given` before
  // resolve; what it sets for the trainer is returned as notes for the user (never silent).
  std::function<std::vector<std::string>(nlohmann::json& given, const data::Dataset& train,
                                         TrainOptions& trainer)>
      adapt;
  // What the samples are drawn with, for eval.json (null: the family has no choice of sampler).
  std::function<nlohmann::json(const nlohmann::json& resolved)> sampling;
  // A model from resolved options (weights at their initial values).
  std::function<std::unique_ptr<GenerativeModel>(const nlohmann::json& resolved, const Shape&)>
      make;
};

// The unit of a metric: its own when part_units names it (a VAE's bpd), else the family's.
inline std::string metric_unit(const Family& family, const std::string& metric) {
  const auto it = family.part_units.find(metric);
  return it != family.part_units.end() ? it->second : family.unit;
}

// The record's option functions from a typed table: `base` gives the struct's defaults for a
// shape, `check` throws on bad options (the family's validate: the table's checks of each
// option, then the rules across options).
template <class O>
Family describe(std::string name, std::string summary, std::string units,
                const OptionTable<O>& table, std::function<O(const Shape&)> base,
                std::function<void(const O&)> check,
                std::function<std::unique_ptr<GenerativeModel>(O)> make) {
  auto options_of = [&table, base, check](const nlohmann::json& given, const Shape& shape) {
    O o = base(shape);
    table.update(o, given);
    check(o);
    return o;
  };
  Family f;
  f.name = std::move(name);
  f.summary = std::move(summary);
  f.units = std::move(units);
  f.unit = f.units;
  f.explain = [](const nlohmann::json&) { return std::string(); };
  f.likelihoods = [](const nlohmann::json&) { return std::map<std::string, std::string>(); };
  f.options = table.specs();
  f.defaults = [&table, base](const Shape& shape) { return table.to_json(base(shape)); };
  f.resolve = [&table, options_of](const nlohmann::json& given, const Shape& shape) {
    return table.to_json(options_of(given, shape));
  };
  f.adapt = [](nlohmann::json&, const data::Dataset&, TrainOptions&) {
    return std::vector<std::string>{};
  };
  f.sampling = [](const nlohmann::json&) { return nlohmann::json(); };
  f.make = [options_of, make](const nlohmann::json& resolved, const Shape& shape) {
    return make(options_of(resolved, shape));
  };
  return f;
}

}  // namespace deepgen::train
