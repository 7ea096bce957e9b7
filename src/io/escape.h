#pragma once
// Text escaping shared by the SVG and HTML writers (private to deepgen_io).
#include <string>

namespace deepgen::io::detail {

// Escapes markup characters and drops the control characters XML 1.0 forbids, so any string
// (a run name, a config value) is safe in element content and in quoted attributes.
inline std::string escape_xml(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default: {
        const auto u = static_cast<unsigned char>(ch);
        if (u >= 0x20 || ch == '\n' || ch == '\t' || ch == '\r') out += ch;
      }
    }
  }
  return out;
}

}  // namespace deepgen::io::detail
