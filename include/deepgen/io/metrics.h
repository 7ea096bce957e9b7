#pragma once
// metrics.jsonl: one JSON object per line, with at least "step".
#include <map>
#include <string>
#include <vector>

namespace deepgen::io {

using MetricRow = std::map<std::string, double>;

// Parses every line; lines that are not JSON objects of numbers are skipped (a torn last line
// after a crash must not break resume or the report), as are rows without a finite "step". null
// reads as NaN (JSON has no NaN: non-finite values are written as null). Missing file: empty.
std::vector<MetricRow> read_metrics(const std::string& path);
// Rewrites the file keeping only rows with step <= max_step (used on resume), atomically.
// Unparseable lines are dropped too; a missing file stays missing.
void truncate_metrics(const std::string& path, double max_step);
// Appends one row as a JSON line and flushes.
void append_metrics(const std::string& path, const MetricRow& row);

}  // namespace deepgen::io
