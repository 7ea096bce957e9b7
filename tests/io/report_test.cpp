#include "deepgen/io/report.h"

#include <gtest/gtest.h>

#include "deepgen/io/files.h"
#include "deepgen/io/image.h"
#include "deepgen/io/plot.h"

namespace deepgen::io {
namespace {

Report sample_report() {
  Report r;
  r.title = "VAE <mnist> & \"friends\"";
  r.config_json = "{\n  \"model\": \"<vae>\",\n  \"lr\": 0.001\n}";
  r.summary = {{"test NLL <nats>", "88.4 & rising"}, {"steps", "1200"}};
  ChartOptions options;
  options.title = "loss";
  r.charts_svg = {line_chart_svg({{"train", {0, 1, 2}, {3, 2, 1}}}, options)};
  r.images = {{"samples <epoch 3>", encode_png(torch::rand({1, 8, 8}))}};
  return r;
}

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1))
    ++n;
  return n;
}

TEST(Report, IsSelfContained) {
  const std::string html = render_report_html(sample_report());
  EXPECT_EQ(html.find("http"), std::string::npos);  // not even the SVG namespace URL
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
  EXPECT_EQ(html.find("src=\"//"), std::string::npos);
  // Every src is an inline data URL.
  EXPECT_EQ(count(html, "src=\""), count(html, "src=\"data:image/png;base64,"));
}

TEST(Report, EscapesEveryText) {
  const Report r = sample_report();
  const std::string html = render_report_html(r);
  const std::string title = "VAE &lt;mnist&gt; &amp; &quot;friends&quot;";
  EXPECT_NE(html.find("<title>" + title + "</title>"), std::string::npos);
  EXPECT_NE(html.find("<h1>" + title + "</h1>"), std::string::npos);
  EXPECT_EQ(html.find("<mnist>"), std::string::npos);
  EXPECT_EQ(html.find("<vae>"), std::string::npos);
  EXPECT_NE(html.find("test NLL &lt;nats&gt;"), std::string::npos);
  EXPECT_NE(html.find("88.4 &amp; rising"), std::string::npos);
  EXPECT_NE(html.find("samples &lt;epoch 3&gt;"), std::string::npos);
}

TEST(Report, HasEverySection) {
  const Report r = sample_report();
  const std::string html = render_report_html(r);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<meta charset=\"utf-8\">"), std::string::npos);
  // Config verbatim (escaped) inside <pre>, newlines kept.
  EXPECT_NE(html.find("<pre>{\n  &quot;model&quot;: &quot;&lt;vae&gt;&quot;,\n  &quot;lr&quot;: "
                      "0.001\n}</pre>"),
            std::string::npos);
  EXPECT_EQ(count(html, "<tr>"), r.summary.size());
  EXPECT_EQ(count(html, "<svg"), 1u);
  EXPECT_EQ(count(html, "<polyline"), 1u);
  EXPECT_NE(html.find("data:image/png;base64," + base64(r.images[0].png) + "\""),
            std::string::npos);
  EXPECT_NE(html.find("</html>"), std::string::npos);
}

TEST(Report, EmptySectionsAreOmitted) {
  Report r;
  r.title = "bare";
  const std::string html = render_report_html(r);
  EXPECT_EQ(html.find("<table"), std::string::npos);
  EXPECT_EQ(html.find("<pre"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_NE(html.find("<h1>bare</h1>"), std::string::npos);
}

TEST(Report, StripsXmlPrologAndNamespacesOnlyFromSvgTags) {
  Report r;
  r.charts_svg = {
      "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
      "xmlns:xlink='http://www.w3.org/1999/xlink' width=\"10\"><text>xmlns=\"x\"</text></svg>"};
  const std::string html = render_report_html(r);
  EXPECT_EQ(html.find("http"), std::string::npos);
  EXPECT_EQ(html.find("<?xml"), std::string::npos);
  EXPECT_NE(html.find("<svg width=\"10\"><text>xmlns=\"x\"</text></svg>"), std::string::npos);
}

}  // namespace
}  // namespace deepgen::io
