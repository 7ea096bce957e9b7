#pragma once
// report.html: one self-contained page per run (config, metrics, curves, samples inline), that
// opens in a browser with no network.
#include <string>
#include <utility>
#include <vector>

namespace deepgen::io {

struct ReportImage {
  std::string caption;
  std::string png;  // PNG bytes, inlined as base64
};

struct Report {
  std::string title;
  std::string config_json;                                   // shown verbatim (pretty JSON)
  std::vector<std::pair<std::string, std::string>> summary;  // metric name, formatted value
  std::vector<std::string> notes;       // paragraphs under the summary: what the numbers are
  std::vector<std::string> charts_svg;  // inline SVG documents
  std::vector<ReportImage> images;
};

std::string render_report_html(const Report& report);  // every text HTML-escaped

}  // namespace deepgen::io
