#include "deepgen/io/plot.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstring>
#include <sstream>

namespace deepgen::io {
namespace {

// A small XML well-formedness check (no DTDs, no CDATA): one root element, every tag closed in
// order, attributes quoted with no raw '<', and every '&' a known entity.
class XmlChecker {
 public:
  explicit XmlChecker(const std::string& xml) : xml_(xml) {}

  std::string error() {
    int roots = 0;
    for (size_t i = 0; i < xml_.size();) {
      if (xml_[i] == '&') {
        if (!entity_at(i)) return "bad entity at " + std::to_string(i);
        ++i;
      } else if (xml_[i] != '<') {
        if (stack_.empty() && !std::isspace(static_cast<unsigned char>(xml_[i])))
          return "text outside the root at " + std::to_string(i);
        ++i;
      } else {
        const size_t end = xml_.find('>', i);
        if (end == std::string::npos) return "unterminated tag at " + std::to_string(i);
        if (stack_.empty() && xml_[i + 1] != '/' && xml_[i + 1] != '?') ++roots;
        const std::string why = tag(xml_.substr(i + 1, end - i - 1));
        if (!why.empty()) return why + " at " + std::to_string(i);
        i = end + 1;
      }
    }
    if (!stack_.empty()) return "unclosed <" + stack_.back() + ">";
    return roots == 1 ? "" : std::to_string(roots) + " root elements";
  }

 private:
  bool entity_at(size_t i) const {
    for (const char* e : {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#"})
      if (xml_.compare(i, std::strlen(e), e) == 0) return true;
    return false;
  }

  std::string tag(const std::string& body) {
    if (body.empty()) return "empty tag";
    if (body[0] == '?') return body.back() == '?' ? "" : "bad processing instruction";
    if (body[0] == '/') {
      if (stack_.empty() || stack_.back() != body.substr(1))
        return "mismatched </" + body.substr(1) + ">";
      stack_.pop_back();
      return "";
    }
    size_t p = 0;
    const std::string name = read_name(body, &p);
    if (name.empty()) return "tag without a name";
    const bool self_closing = body.back() == '/';
    const size_t attrs_end = self_closing ? body.size() - 1 : body.size();
    while (true) {
      const size_t before = p;
      while (p < attrs_end && std::isspace(static_cast<unsigned char>(body[p]))) ++p;
      if (p == attrs_end) break;
      if (p == before) return "attributes not separated in <" + name + ">";
      if (read_name(body, &p).empty() || p >= attrs_end || body[p] != '=' || body[p + 1] != '"')
        return "unquoted attribute in <" + name + ">";
      const size_t close = body.find('"', p + 2);
      if (close == std::string::npos || close >= attrs_end) return "unterminated attribute";
      if (body.find('<', p + 2) < close) return "raw '<' in an attribute";
      p = close + 1;
    }
    if (!self_closing) stack_.push_back(name);
    return "";
  }

  static std::string read_name(const std::string& s, size_t* p) {
    const size_t start = *p;
    while (*p < s.size() && (std::isalnum(static_cast<unsigned char>(s[*p])) || s[*p] == '-' ||
                             s[*p] == '_' || s[*p] == ':' || s[*p] == '.'))
      ++*p;
    return s.substr(start, *p - start);
  }

  const std::string& xml_;
  std::vector<std::string> stack_;
};

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1))
    ++n;
  return n;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// (x, y) pairs of every polyline, in document order.
std::vector<std::vector<std::pair<double, double>>> polylines(const std::string& svg) {
  std::vector<std::vector<std::pair<double, double>>> out;
  for (size_t p = svg.find("<polyline"); p != std::string::npos; p = svg.find("<polyline", p + 1)) {
    const size_t start = svg.find("points=\"", p) + 8;
    std::istringstream in(svg.substr(start, svg.find('"', start) - start));
    out.emplace_back();
    double x, y;
    char comma;
    while (in >> x >> comma >> y) out.back().emplace_back(x, y);
  }
  return out;
}

// Contents of <text> elements: tick labels, title, axis labels, legend names.
std::vector<std::string> texts(const std::string& svg) {
  std::vector<std::string> out;
  for (size_t p = svg.find("<text"); p != std::string::npos; p = svg.find("<text", p + 1)) {
    const size_t start = svg.find('>', p) + 1;
    out.push_back(svg.substr(start, svg.find("</text>", start) - start));
  }
  return out;
}

bool has_text(const std::string& svg, const std::string& label) {
  const auto all = texts(svg);
  return std::find(all.begin(), all.end(), label) != all.end();
}

void expect_valid_svg(const std::string& svg) {
  EXPECT_EQ(XmlChecker(svg).error(), "") << svg;
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_EQ(lower(svg).find("nan"), std::string::npos) << svg;
  EXPECT_EQ(lower(svg).find("inf"), std::string::npos) << svg;
}

const double kNaN = std::nan("");
const double kInf = INFINITY;

TEST(Plot, OnePolylinePerSeriesEvenWithNonFiniteData) {
  const std::vector<Series> series = {
      {"train", {0, 1, 2, 3, 4}, {1.0, kNaN, 0.5, kInf, 0.25}},
      {"all missing", {0, 1}, {kNaN, kNaN}},
      {"val", {0, 2, 4}, {1.2, 0.8, -kInf}},
  };
  ChartOptions options;
  options.title = "Loss <train> & \"val\"";
  options.x_label = "step";
  options.y_label = "loss";
  const std::string svg = line_chart_svg(series, options);
  expect_valid_svg(svg);
  EXPECT_EQ(count(svg, "<polyline"), series.size());
  const auto lines = polylines(svg);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].size(), 3u);  // the NaN and Inf points are skipped
  EXPECT_EQ(lines[1].size(), 0u);
  EXPECT_EQ(lines[2].size(), 2u);
  for (const auto& line : lines)
    for (const auto& [x, y] : line) {
      EXPECT_GE(x, 0);
      EXPECT_LE(x, options.width);
      EXPECT_GE(y, 0);
      EXPECT_LE(y, options.height);
    }
  EXPECT_TRUE(has_text(svg, "Loss &lt;train&gt; &amp; &quot;val&quot;"));
  EXPECT_TRUE(has_text(svg, "step"));
  EXPECT_TRUE(has_text(svg, "loss"));
  EXPECT_TRUE(has_text(svg, "train"));  // legend
  EXPECT_TRUE(has_text(svg, "val"));
}

TEST(Plot, HigherValuesAreDrawnHigher) {
  const std::string svg = line_chart_svg({{"s", {0, 1}, {0, 10}}}, {});
  const auto line = polylines(svg).at(0);
  ASSERT_EQ(line.size(), 2u);
  EXPECT_LT(line[0].first, line[1].first);
  EXPECT_GT(line[0].second, line[1].second);  // SVG y grows downwards
}

TEST(Plot, NiceTicksCoverTheData) {
  const std::string svg = line_chart_svg({{"s", {0, 37, 100}, {0.05, 0.6, 0.93}}}, {});
  expect_valid_svg(svg);
  for (const char* label : {"0", "20", "40", "60", "80", "100"})
    EXPECT_TRUE(has_text(svg, label)) << label;
  for (const char* label : {"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"})
    EXPECT_TRUE(has_text(svg, label)) << label;
}

TEST(Plot, LogAxisUsesDecades) {
  ChartOptions options;
  options.log_y = true;
  const Series s{"loss", {1, 2, 3, 4}, {100, 3, 0.2, 0.001}};
  const std::string svg = line_chart_svg({s}, options);
  expect_valid_svg(svg);
  for (const char* label : {"0.001", "0.01", "0.1", "1", "10", "100"})
    EXPECT_TRUE(has_text(svg, label)) << label;
  // On a log axis 3 -> 0.2 is a visible step; on a linear one both sit near the bottom.
  const auto log_line = polylines(svg).at(0);
  const auto lin_line = polylines(line_chart_svg({s}, {})).at(0);
  EXPECT_GT(log_line[2].second - log_line[1].second, 30);
  EXPECT_LT(lin_line[2].second - lin_line[1].second, 10);
}

TEST(Plot, LogAxisFallsBackToLinearForNonPositiveValues) {
  ChartOptions options;
  options.log_y = true;
  const std::string svg = line_chart_svg({{"s", {0, 1, 2}, {1, 0, -1}}}, options);
  expect_valid_svg(svg);
  EXPECT_EQ(polylines(svg).at(0).size(), 3u);
  EXPECT_TRUE(has_text(svg, "0.0"));
}

TEST(Plot, DegenerateInputsStayValid) {
  expect_valid_svg(line_chart_svg({}, {}));
  expect_valid_svg(line_chart_svg({{"nothing", {}, {}}}, {}));
  const std::string single = line_chart_svg({{"one", {5}, {5}}}, {});
  expect_valid_svg(single);
  EXPECT_EQ(count(single, "<circle"), 1u);  // a lone point is still visible
  expect_valid_svg(line_chart_svg({{"flat", {0, 1, 2}, {3, 3, 3}}}, {}));
  expect_valid_svg(line_chart_svg({{"huge", {0, 1}, {-1e308, 1e308}}}, {}));
}

TEST(Plot, ControlCharactersAreDropped) {
  const std::string svg = line_chart_svg({{std::string("a\x01") + "b", {0, 1}, {0, 1}}}, {});
  expect_valid_svg(svg);
  EXPECT_TRUE(has_text(svg, "ab"));
}

}  // namespace
}  // namespace deepgen::io
