// report.html of a run, assembled from the files the run wrote. Every number carries its unit
// (the family's), and one note says what the headline number is and is not.
#include "deepgen/io/report.h"

#include <map>
#include <set>
#include <sstream>

#include "deepgen/io/files.h"
#include "deepgen/io/metrics.h"
#include "deepgen/io/plot.h"
#include "deepgen/run/model.h"
#include "deepgen/run/outputs.h"
#include "deepgen/run/run_dir.h"

namespace deepgen::run {

using nlohmann::json;

namespace {

std::string format_number(double v) {
  std::ostringstream s;
  s.precision(6);
  s << v;
  return s.str();
}

// One series per key among rows that have it, against "step".
std::vector<io::Series> series_for(const std::vector<io::MetricRow>& rows,
                                   const std::vector<std::string>& keys) {
  std::vector<io::Series> out;
  for (const auto& key : keys) {
    io::Series s{key, {}, {}};
    for (const auto& row : rows) {
      auto it = row.find(key);
      auto step = row.find("step");
      if (it == row.end() || step == row.end()) continue;
      s.x.push_back(step->second);
      s.y.push_back(it->second);
    }
    if (!s.x.empty()) out.push_back(std::move(s));
  }
  return out;
}

std::vector<std::string> keys_with_prefix(const std::vector<io::MetricRow>& rows, bool test) {
  static const std::set<std::string> skip{"step", "epoch", "lr", "steps_per_sec", "grad_norm"};
  std::set<std::string> keys;
  for (const auto& row : rows)
    for (const auto& [k, v] : row) {
      const bool is_test = k.rfind("test/", 0) == 0;
      if (!skip.count(k) && is_test == test) keys.insert(k);
    }
  return {keys.begin(), keys.end()};
}

void add_chart(io::Report& report, const std::vector<io::Series>& series, const std::string& title,
               const std::string& y_label) {
  if (!series.empty())
    report.charts_svg.push_back(io::line_chart_svg(series, {title, "step", y_label}));
}

// The loss, the logged parts grouped by unit (one chart per unit), and the test metrics over
// training when they were evaluated more than once.
void add_charts(io::Report& report, const std::vector<io::MetricRow>& rows,
                const train::Family& family) {
  add_chart(report, series_for(rows, {"loss"}), "Training loss", "loss (" + family.unit + ")");
  std::map<std::string, std::vector<std::string>> by_unit;
  for (const auto& k : keys_with_prefix(rows, false)) {
    if (k == "loss") continue;
    const auto it = family.part_units.find(k);
    by_unit[it == family.part_units.end() ? family.unit : it->second].push_back(k);
  }
  if (by_unit.count(family.unit))
    add_chart(report, series_for(rows, by_unit[family.unit]), "Training loss parts", family.unit);
  for (const auto& [unit, keys] : by_unit)
    if (unit != family.unit) add_chart(report, series_for(rows, keys), "Training: " + unit, unit);
  auto test = series_for(rows, keys_with_prefix(rows, true));
  size_t most = 0;
  for (const auto& s : test) most = std::max(most, s.x.size());
  if (most > 1) {
    add_chart(report, test, "Test metrics during training", family.unit);
  } else if (most == 1) {
    report.notes.push_back(
        "The test metrics were computed once, at the end of training; train with "
        "--eval-every N (and --eval-batches B to keep it quick) for their curve.");
  }
}

void add_training_rows(io::Report& report, const std::vector<io::MetricRow>& rows,
                       const train::Family& family) {
  for (auto it = rows.rbegin(); it != rows.rend(); ++it) {
    if (!it->count("loss")) continue;
    report.summary.emplace_back("final step", format_number(it->at("step")));
    // A weighted VDM trains on L_w and logs the bound's estimate as its bpd part: a reader
    // must not take the objective (0.19 bits/dim in the demo) for the bound (4.8).
    const bool weighted = it->count("bpd") && train::metric_unit(family, "bpd") == family.unit &&
                          std::abs(it->at("bpd") - it->at("loss")) > 1e-9 * std::abs(it->at("bpd"));
    report.summary.emplace_back(
        std::string(weighted ? "final training objective (weighted, not a bound; "
                             : "final training loss (") +
            family.unit + ")",
        format_number(it->at("loss")));
    if (weighted)
      report.summary.emplace_back("final training bound estimate (" + family.unit + ")",
                                  format_number(it->at("bpd")));
    if (it->count("steps_per_sec"))
      report.summary.emplace_back("training steps/s", format_number(it->at("steps_per_sec")));
    return;
  }
}

void add_fid_rows(io::Report& report, const json& f) {
  const json sampling = f.value("sampling", json::object());
  std::string how = std::to_string(f.value("samples", 0)) + " samples";
  if (sampling.contains("sampler"))
    how += ", " + sampling["sampler"].get<std::string>() + " with " +
           std::to_string(sampling.value("nfe", sampling.value("steps", 0))) +
           " network evaluations";
  report.summary.emplace_back("classifier-FID (" + how + ")", format_number(f.value("fid", 0.0)));
  for (const char* k : {"precision", "recall"})
    if (f.contains(k))
      report.summary.emplace_back(std::string(k) + " (k = 3, Kynkäänniemi et al. 2019)",
                                  format_number(f[k].get<double>()));
}

// An evaluation's metrics (eval.json or bounds.json), each with its unit and the test examples
// it was computed on.
void add_metric_rows(io::Report& report, const json& evaluation, const std::string& prefix,
                     const train::Family& family) {
  const std::string examples = std::to_string(evaluation.value("examples", 0)) + " test examples)";
  const json metrics =
      evaluation.value("metrics", json::object());  // named: items() must not outlive a temporary
  for (const auto& [k, v] : metrics.items()) {
    const std::string on = " (" + train::metric_unit(family, k) + ", " + examples;
    if (v.is_number()) report.summary.emplace_back(prefix + k + on, format_number(v));
  }
}

// One saved evaluation (bounds.json): its metrics and its ODE estimate.
void add_saved_rows(io::Report& report, const json& bounds, const train::Family& family) {
  add_metric_rows(report, bounds, "bounds: ", family);
  if (bounds.contains("ode") && bounds["ode"].is_object()) {
    const json& o = bounds["ode"];
    const bool bpd = o.contains("bpd");
    report.summary.emplace_back("probability-flow ODE estimate (" +
                                    std::string(bpd ? "bits/dim" : "nats") + ", " +
                                    std::to_string(o.value("examples", 0)) + " test examples, " +
                                    format_number(o.value("nfe", 0.0)) + " evaluations)",
                                format_number(o.value(bpd ? "bpd" : "nats", 0.0)) + " ± " +
                                    format_number(o.value("std_error", 0.0)));
  }
}

// eval.json (the whole test split after training) and each saved evaluation (bounds.json: the
// demo's IWAE bound and amortisation gap, eval --save).
void add_eval_rows(io::Report& report, const RunDir& dir, const train::Family& family) {
  const json ev = read_json_if_present(dir.eval());
  if (ev.is_object()) {
    add_metric_rows(report, ev, "test ", family);
    if (ev.contains("classifier_fid")) add_fid_rows(report, ev["classifier_fid"]);
    if (ev.contains("energy_distance"))
      report.summary.emplace_back("energy distance (samples vs test)",
                                  format_number(ev["energy_distance"].get<double>()));
  }
  for (const json& bounds : saved_evaluations(dir)) add_saved_rows(report, bounds, family);
}

void add_image(io::Report& report, const std::string& path, const std::string& caption) {
  if (io::file_exists(path)) report.images.push_back({caption, io::read_file(path)});
}

}  // namespace

void write_report(const std::string& run_dir) {
  const RunDir dir(run_dir);
  RunConfig c = load_run_config(run_dir);
  const train::Family& family = family_of(c);
  io::Report report;
  report.title = "deepgen run: " + c.model + " on " + c.data.spec;
  report.config_json = io::read_file(dir.config());
  auto rows = io::read_metrics(dir.metrics());
  add_training_rows(report, rows, family);
  add_eval_rows(report, dir, family);
  report.notes.push_back("Test metrics are " + family.units + ". " +
                         family.explain(c.model_options));
  report.notes.push_back(
      "Test rows logged during training (metrics.jsonl) draw their noise from a fixed "
      "evaluation seed in training-size batches, on part of the test split with "
      "--eval-batches; eval.json draws from the run's seed in batches of 500 over the whole "
      "split (or --final-eval-batches of them). Where a metric is a Monte Carlo estimate the two "
      "differ by its noise.");
  add_charts(report, rows, family);
  if (io::file_exists(dir.samples_svg())) {
    report.charts_svg.push_back(io::read_file(dir.samples_svg()));
  } else {
    add_image(report, dir.samples_png(),
              c.data_shape.size() == 3 ? "Samples" : "Samples (blue) over test data (grey)");
  }
  add_image(report, dir.reconstructions(),
            "Reconstructions (rows alternate: test images, then the model's reconstruction)");
  if (!report.charts_svg.empty()) io::write_file_atomic(dir.loss_svg(), report.charts_svg[0]);
  io::write_file_atomic(dir.report(), io::render_report_html(report));
}

}  // namespace deepgen::run
