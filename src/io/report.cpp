#include "deepgen/io/report.h"

#include <regex>
#include <sstream>

#include "deepgen/io/files.h"
#include "escape.h"

namespace deepgen::io {
namespace {

using detail::escape_xml;

constexpr const char* kStyle = R"(
body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 4px 10px; }
td.value { text-align: right; font-family: monospace; }
p.note { max-width: 60em; color: #444; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; }
.charts svg { max-width: 100%; height: auto; margin: 0 1em 1em 0; }
figure { display: inline-block; margin: 0 1em 1em 0; }
figure img { image-rendering: pixelated; width: 480px; max-width: 100%; }
)";

// An SVG inside HTML needs no namespace declaration (the HTML parser assigns it), and dropping
// it (with any XML prolog) keeps the page free of URLs, so nothing even looks like a fetch.
// Only <svg> start tags are edited: text that merely mentions xmlns stays as it is.
std::string inline_svg(const std::string& svg) {
  static const std::regex xmlns(R"(\s+xmlns(:[\w-]+)?\s*=\s*("[^"]*"|'[^']*'))");
  std::string out;
  size_t pos = 0;
  if (const size_t prolog_end = svg.find("?>");
      svg.rfind("<?xml", 0) == 0 && prolog_end != std::string::npos)
    pos = prolog_end + 2;
  for (size_t tag; (tag = svg.find("<svg", pos)) != std::string::npos;) {
    const size_t end = std::min(svg.size(), svg.find('>', tag));
    out.append(svg, pos, tag - pos);
    out += std::regex_replace(svg.substr(tag, end - tag), xmlns, "");
    pos = end;
  }
  return out.append(svg, pos, std::string::npos);
}

void summary_section(std::ostream& out, const Report& r) {
  if (r.summary.empty()) return;
  out << "<h2>Summary</h2>\n<table>\n";
  for (const auto& [name, value] : r.summary)
    out << "<tr><th>" << escape_xml(name) << "</th><td class=\"value\">" << escape_xml(value)
        << "</td></tr>\n";
  out << "</table>\n";
  for (const auto& note : r.notes) out << "<p class=\"note\">" << escape_xml(note) << "</p>\n";
}

void charts_section(std::ostream& out, const Report& r) {
  if (r.charts_svg.empty()) return;
  out << "<h2>Charts</h2>\n<div class=\"charts\">\n";
  for (const auto& svg : r.charts_svg) out << inline_svg(svg) << "\n";
  out << "</div>\n";
}

void images_section(std::ostream& out, const Report& r) {
  if (r.images.empty()) return;
  out << "<h2>Samples</h2>\n";
  for (const auto& image : r.images) {
    const std::string caption = escape_xml(image.caption);
    out << "<figure><img src=\"data:image/png;base64," << base64(image.png) << "\" alt=\""
        << caption << "\"><figcaption>" << caption << "</figcaption></figure>\n";
  }
}

void config_section(std::ostream& out, const Report& r) {
  if (r.config_json.empty()) return;
  out << "<h2>Configuration</h2>\n<pre>" << escape_xml(r.config_json) << "</pre>\n";
}

}  // namespace

std::string render_report_html(const Report& report) {
  const std::string title = escape_xml(report.title);
  std::ostringstream out;
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" << title
      << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n<h1>" << title << "</h1>\n";
  summary_section(out, report);
  charts_section(out, report);
  images_section(out, report);
  config_section(out, report);
  out << "</body>\n</html>\n";
  return out.str();
}

}  // namespace deepgen::io
