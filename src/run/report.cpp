// report.html of a run, assembled from the files the run wrote.
#include "deepgen/io/report.h"

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

void add_charts(io::Report& report, const std::vector<io::MetricRow>& rows) {
  const auto train_keys = keys_with_prefix(rows, false);
  auto loss = series_for(rows, {"loss"});
  if (!loss.empty())
    report.charts_svg.push_back(io::line_chart_svg(loss, {"Training loss", "step", "loss"}));
  std::vector<std::string> parts;
  for (const auto& k : train_keys)
    if (k != "loss") parts.push_back(k);
  auto part_series = series_for(rows, parts);
  if (!part_series.empty())
    report.charts_svg.push_back(
        io::line_chart_svg(part_series, {"Training loss parts", "step", "value"}));
  auto test = series_for(rows, keys_with_prefix(rows, true));
  if (!test.empty())
    report.charts_svg.push_back(io::line_chart_svg(test, {"Test metrics", "step", "value"}));
}

void add_summary(io::Report& report, const std::vector<io::MetricRow>& rows, const RunDir& dir) {
  for (auto it = rows.rbegin(); it != rows.rend(); ++it) {
    if (!it->count("loss")) continue;
    report.summary.emplace_back("final step", format_number(it->at("step")));
    report.summary.emplace_back("final training loss", format_number(it->at("loss")));
    if (it->count("steps_per_sec"))
      report.summary.emplace_back("training steps/s", format_number(it->at("steps_per_sec")));
    break;
  }
  if (!io::file_exists(dir.eval())) return;
  json ev = json::parse(io::read_file(dir.eval()), nullptr, false);
  if (ev.is_discarded()) return;
  const json metrics = ev.value("metrics", json::object());
  if (ev.contains("units"))
    report.summary.emplace_back("test metrics are", ev["units"].get<std::string>());
  for (const auto& [k, v] : metrics.items())
    if (v.is_number()) report.summary.emplace_back("test " + k, format_number(v));
  if (ev.contains("classifier_fid")) {  // written by an eval with the FID (e.g. the demo)
    const json& f = ev["classifier_fid"];
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
  if (ev.contains("energy_distance"))
    report.summary.emplace_back("energy distance (samples vs test)",
                                format_number(ev["energy_distance"].get<double>()));
}

void add_image(io::Report& report, const std::string& path, const std::string& caption) {
  if (io::file_exists(path)) report.images.push_back({caption, io::read_file(path)});
}

}  // namespace

void write_report(const std::string& run_dir) {
  const RunDir dir(run_dir);
  RunConfig c = load_run_config(run_dir);
  io::Report report;
  report.title = "deepgen run: " + c.model + " on " + c.data.spec;
  report.config_json = io::read_file(dir.config());
  auto rows = io::read_metrics(dir.metrics());
  add_summary(report, rows, dir);
  add_charts(report, rows);
  add_image(report, dir.samples_png(),
            c.data_shape.size() == 3 ? "Samples" : "Samples (blue) over test data (grey)");
  add_image(report, dir.reconstructions(),
            "Reconstructions (rows alternate: test images, then the model's reconstruction)");
  if (!report.charts_svg.empty()) io::write_file_atomic(dir.loss_svg(), report.charts_svg[0]);
  io::write_file_atomic(dir.report(), io::render_report_html(report));
}

}  // namespace deepgen::run
