#include "deepgen/io/metrics.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "deepgen/core/error.h"
#include "deepgen/io/files.h"

namespace deepgen::io {
namespace {

using Json = nlohmann::json;

// JSON has no NaN or Inf: nlohmann writes them as null, so null reads back as NaN (a diverged
// loss stays visible as a gap instead of dropping the whole row).
bool parse_row(const std::string& line, MetricRow* row) {
  const Json j = Json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  row->clear();
  for (const auto& [key, value] : j.items()) {
    if (value.is_number()) {
      (*row)[key] = value.get<double>();
    } else if (value.is_null()) {
      (*row)[key] = std::nan("");
    } else {
      return false;
    }
  }
  const auto step = row->find("step");
  return step != row->end() && std::isfinite(step->second);
}

nlohmann::ordered_json number(double value) {
  if (std::isfinite(value) && value == std::trunc(value) && std::abs(value) < 9.0e15)
    return static_cast<int64_t>(value);
  return value;
}

// "step" leads each line so the file reads well by eye, and integral values (steps, epochs,
// counts) are written without a fraction: {"step":3,...}, not 3.0.
std::string to_line(const MetricRow& row) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  if (const auto step = row.find("step"); step != row.end()) j["step"] = number(step->second);
  for (const auto& [key, value] : row)
    if (key != "step") j[key] = number(value);
  return j.dump() + "\n";
}

// A crash can leave a torn last line with no newline; a row appended straight after it would be
// glued onto it and lost too.
bool ends_mid_line(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in || in.tellg() <= 0) return false;
  in.seekg(-1, std::ios::end);
  return in.get() != '\n';
}

}  // namespace

std::vector<MetricRow> read_metrics(const std::string& path) {
  std::vector<MetricRow> rows;
  if (!file_exists(path)) return rows;
  std::istringstream in(read_file(path));
  MetricRow row;
  for (std::string line; std::getline(in, line);)
    if (parse_row(line, &row)) rows.push_back(row);
  return rows;
}

void truncate_metrics(const std::string& path, double max_step) {
  if (!file_exists(path)) return;
  std::string kept;
  for (const auto& row : read_metrics(path))
    if (row.at("step") <= max_step) kept += to_line(row);
  write_file_atomic(path, kept);
}

void append_metrics(const std::string& path, const MetricRow& row) {
  const std::string line = (ends_mid_line(path) ? "\n" : "") + to_line(row);
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << line << std::flush;
  if (!out) throw Error("cannot append to " + path);
}

}  // namespace deepgen::io
