#pragma once
// What a run writes after training and what `eval` / `sample` compute: the evaluation
// envelope (eval.json), samples, reconstructions, classifier-FID (with precision / recall) and
// report.html.
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "deepgen/data/dataset.h"
#include "deepgen/run/config.h"
#include "deepgen/train/model.h"

namespace deepgen::run {

// n samples of a trained model, in data layout, on the CPU, from `seed`.
at::Tensor draw_samples(train::GenerativeModel& model, int64_t n, uint64_t seed);
// A conditional model's samples of `labels` (int64, CPU) under guidance w, on the CPU.
at::Tensor draw_class_samples(train::GenerativeModel& model, const at::Tensor& labels,
                              uint64_t seed, double guidance);
void write_csv(const std::string& path, const at::Tensor& points);  // one row per point

// Test metrics with their units, the family's sampling options, and (points) the energy
// distance of samples to the test split: what eval.json holds.
nlohmann::json evaluation(train::GenerativeModel& model, const RunConfig& config,
                          const data::Dataset& test, int64_t batch, int64_t max_batches,
                          uint64_t seed, const train::EvalProgress& progress = {});
// Classifier-FID, precision and recall (eval/fid.h) of `samples` model samples against the whole
// test split, all three from one pass of the classifier over each set; the classifier is
// trained once per data set and cached in the data root (`log` reports that).
nlohmann::json fid_metric(train::GenerativeModel& model, const RunConfig& config,
                          const data::Dataset& test, int64_t samples, uint64_t seed,
                          const std::function<void(const std::string&)>& log);
// A conditional run's class agreement (issue 15): `per_class` samples of each class under
// guidance w, and the share of each class's samples the project's classifier (eval/fid.h)
// labels as that class, with their mean. mnist / fashion-mnist runs.
nlohmann::json class_accuracy_metric(train::GenerativeModel& model, const RunConfig& config,
                                     int64_t per_class, uint64_t seed, double guidance,
                                     const std::function<void(const std::string&)>& log);

// eval.json, samples.png (or samples.csv and a scatter for points), reconstructions.png.
void write_outputs(train::GenerativeModel& model, const RunConfig& config, const data::Splits& data,
                   const std::string& run_dir);
// report.html (and loss.svg) from the files the run wrote.
void write_report(const std::string& run_dir);

}  // namespace deepgen::run
