#include "deepgen/io/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "deepgen/io/files.h"
#include "support/temp_dir.h"

namespace deepgen::io {
namespace {

using deepgen::testing::TempDir;

std::vector<double> steps(const std::vector<MetricRow>& rows) {
  std::vector<double> out;
  for (const auto& r : rows) out.push_back(r.at("step"));
  return out;
}

TEST(Metrics, MissingFileReadsEmpty) {
  TempDir dir;
  EXPECT_TRUE(read_metrics(dir.file("none.jsonl")).empty());
}

TEST(Metrics, AppendThenReadRoundTrips) {
  TempDir dir;
  const std::string path = dir.file("metrics.jsonl");
  append_metrics(path, {{"step", 1}, {"loss", 0.125}, {"lr", 1e-3}});
  append_metrics(path, {{"step", 2}, {"loss", 0.1 + 0.2}});
  const auto rows = read_metrics(path);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (MetricRow{{"step", 1}, {"loss", 0.125}, {"lr", 1e-3}}));
  EXPECT_EQ(rows[1].at("loss"), 0.1 + 0.2);  // doubles round-trip exactly
  const std::string text = read_file(path);
  EXPECT_EQ(text.rfind("{\"step\":1,", 0), 0u) << text;  // step first, integral stays integer
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2);
}

TEST(Metrics, NonFiniteValuesReadBackAsNaN) {
  TempDir dir;
  const std::string path = dir.file("m.jsonl");
  append_metrics(path, {{"step", 3}, {"loss", std::nan("")}, {"grad", INFINITY}});
  const auto rows = read_metrics(path);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_TRUE(std::isnan(rows[0].at("loss")));
  EXPECT_TRUE(std::isnan(rows[0].at("grad")));
}

TEST(Metrics, TornLastLineAndJunkAreSkipped) {
  TempDir dir;
  const std::string path = dir.file("m.jsonl");
  write_file_atomic(path,
                    "{\"step\":1,\"loss\":2.5}\n"
                    "not json\n"
                    "[1,2]\n"
                    "{\"step\":2,\"phase\":\"train\"}\n"
                    "{\"loss\":1.0}\n"
                    "\n"
                    "{\"step\":3,\"loss\":2.0}\n"
                    "{\"step\":4,\"lo");
  EXPECT_EQ(steps(read_metrics(path)), (std::vector<double>{1, 3}));
}

TEST(Metrics, AppendAfterATornLineStartsANewLine) {
  TempDir dir;
  const std::string path = dir.file("m.jsonl");
  write_file_atomic(path, "{\"step\":1}\n{\"step\":2,\"lo");
  append_metrics(path, {{"step", 2}, {"loss", 0.5}});
  EXPECT_EQ(steps(read_metrics(path)), (std::vector<double>{1, 2}));
}

TEST(Metrics, TruncateKeepsRowsUpToStep) {
  TempDir dir;
  const std::string path = dir.file("m.jsonl");
  for (int step = 10; step <= 50; step += 10)
    append_metrics(path, {{"step", step}, {"x", step * 0.5}});
  std::ofstream(path, std::ios::app) << "{\"step\":60,";  // torn
  truncate_metrics(path, 30);
  const auto rows = read_metrics(path);
  EXPECT_EQ(steps(rows), (std::vector<double>{10, 20, 30}));
  EXPECT_EQ(rows[2].at("x"), 15.0);
  EXPECT_EQ(read_file(path).back(), '\n');
  append_metrics(path, {{"step", 40}});
  EXPECT_EQ(steps(read_metrics(path)), (std::vector<double>{10, 20, 30, 40}));
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir.str()))
    names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"m.jsonl"});  // no temp file left behind
}

TEST(Metrics, TruncateBelowEveryStepEmptiesAndMissingStaysMissing) {
  TempDir dir;
  const std::string path = dir.file("m.jsonl");
  append_metrics(path, {{"step", 5}});
  truncate_metrics(path, 0);
  EXPECT_TRUE(file_exists(path));
  EXPECT_TRUE(read_metrics(path).empty());
  truncate_metrics(dir.file("absent.jsonl"), 10);
  EXPECT_FALSE(file_exists(dir.file("absent.jsonl")));
}

}  // namespace
}  // namespace deepgen::io
