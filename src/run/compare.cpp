#include "deepgen/run/compare.h"

#include "deepgen/core/error.h"
#include "deepgen/io/files.h"
#include "deepgen/io/report.h"
#include "deepgen/run/config.h"
#include "deepgen/run/model.h"
#include "deepgen/run/run_dir.h"

namespace deepgen::run {

using nlohmann::json;

const OptionTable<CompareRequest>& compare_option_table() {
  static const OptionTable<CompareRequest> table = [] {
    OptionTable<CompareRequest> t("compare");
    t.add("runs", &CompareRequest::runs, "Run directories, comma-separated (one data set)");
    t.add("html", &CompareRequest::html, "Also write the table and sample grids as one HTML page");
    return t;
  }();
  return table;
}

namespace {

// The likelihoods of one evaluation file: its bounds (the family says which metrics are), and
// an ODE estimate when it holds one.
void add_rows(json& rows, const std::string& run, const RunConfig& c, const json& evaluation,
              const std::string& source) {
  if (!evaluation.is_object()) return;
  const train::Family& family = family_of(c);
  const json metrics = evaluation.value("metrics", json::object());
  for (const auto& [metric, kind] : family.likelihoods(c.model_options)) {
    if (!metrics.contains(metric) || !metrics[metric].is_number()) continue;
    rows.push_back({{"run", run},
                    {"family", c.model},
                    {"estimator", metric},
                    {"kind", kind},
                    {"value", metrics[metric]},
                    {"unit", train::metric_unit(family, metric)},
                    {"examples", evaluation.value("examples", 0)},
                    {"source", source}});
  }
  if (!evaluation.contains("ode") || !evaluation["ode"].is_object()) return;
  const json& o = evaluation["ode"];
  const bool bpd = o.contains("bpd");
  const double t0 = o.value("t0", 0.0);
  rows.push_back({{"run", run},
                  {"family", c.model},
                  {"estimator", "probability-flow ODE (" + o.value("divergence", "") + ", " +
                                    o.value("solver", "") +
                                    (t0 > 0 ? ", from t0 = " + c10::str(t0) + ")" : ")")},
                  {"kind", "estimate"},
                  {"value", o.value(bpd ? "bpd" : "nats", 0.0)},
                  {"unit", bpd ? "bits/dim" : "nats"},
                  {"std_error", o.value("std_error", 0.0)},
                  {"examples", o.value("examples", 0)},
                  {"nfe", o.value("nfe", 0.0)},
                  {"seconds", o.value("seconds", 0.0)},
                  {"source", source}});
}

std::string number(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

void write_page(const json& table, const std::string& path) {
  io::Report page;
  page.title = "deepgen compare: " + table["data"].get<std::string>();
  page.config_json = table.dump(2);
  for (const auto& r : table["rows"]) {
    std::string value = number(r["value"].get<double>());
    if (r.contains("std_error")) value += " ± " + number(r["std_error"].get<double>());
    value += " " + r["unit"].get<std::string>();
    if (r.contains("nfe"))
      value += " (" + number(r["nfe"].get<double>()) + " evaluations, " +
               number(r["seconds"].get<double>()) + " s)";
    page.summary.emplace_back(r["run"].get<std::string>() + " — " + r["family"].get<std::string>() +
                                  " — " + r["estimator"].get<std::string>() + " — " +
                                  r["kind"].get<std::string>() + " (" +
                                  std::to_string(r["examples"].get<int64_t>()) + " examples)",
                              value);
  }
  page.notes.push_back(
      "Upper bounds (ELBO, IWAE) and probability-flow ODE estimates of −log P(x) on the same "
      "test set; lower is better. ODE estimates dequantise 8-bit data uniformly and carry a "
      "standard error over examples (docs/likelihood.md).");
  for (const auto& run : table["runs"]) {
    const std::string png = RunDir(run.get<std::string>()).samples_png();
    if (io::file_exists(png))
      page.images.push_back({"Samples: " + run.get<std::string>(), io::read_file(png)});
  }
  io::write_file_atomic(path, io::render_report_html(page));
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    if (comma > start) out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

}  // namespace

json compare_runs(const CompareRequest& r) {
  const std::vector<std::string> runs = split_list(r.runs);
  if (runs.empty())
    throw Error("compare: give the runs to compare, e.g. " + option_ref("compare", "runs") +
                " runs/vae,runs/vdm");
  json table{{"rows", json::array()}, {"runs", runs}};
  std::string data, first;
  for (const auto& run : runs) {
    const RunConfig c = load_run_config(run);
    if (data.empty()) data = c.data.spec, first = run;
    if (c.data.spec != data)
      throw Error("compare: " + first + " was trained on " + data + " but " + run + " on " +
                  c.data.spec + ": compare runs of one data set");
    const RunDir dir(run);
    add_rows(table["rows"], run, c, read_json_if_present(dir.eval()), "eval.json");
    for (const auto& saved : saved_evaluations(dir))
      add_rows(table["rows"], run, c, saved, "bounds.json");
  }
  table["data"] = data;
  if (!r.html.empty()) write_page(table, r.html);
  return table;
}

}  // namespace deepgen::run
