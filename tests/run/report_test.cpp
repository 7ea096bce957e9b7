// report.html shows what eval.json holds: the test metrics and, when an evaluation measured
// them, the classifier-FID with its sampler and cost, precision and recall.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "deepgen/io/files.h"
#include "deepgen/run/outputs.h"
#include "deepgen/run/run_dir.h"
#include "support/temp_dir.h"

namespace deepgen::run {
namespace {

const std::string kFixture = DEEPGEN_SOURCE_DIR "/tests/run/fixtures/vdm-toy";

std::string report_of(const nlohmann::json& eval, const std::string& metrics = "") {
  testing::TempDir dir;
  io::write_file_atomic(dir.str() + "/config.json", io::read_file(kFixture + "/config.json"));
  io::write_file_atomic(RunDir(dir.str()).eval(), eval.dump());
  if (!metrics.empty()) io::write_file_atomic(RunDir(dir.str()).metrics(), metrics);
  write_report(dir.str());
  return io::read_file(RunDir(dir.str()).report());
}

TEST(Report, ShowsTheClassifierFidWithItsSamplerPrecisionAndRecall) {
  nlohmann::json eval{{"metrics", {{"bpd", 4.75}}},
                      {"examples", 2000},
                      {"classifier_fid",
                       {{"fid", 32.25},
                        {"samples", 1000},
                        {"precision", 0.505},
                        {"recall", 0.896},
                        {"sampling", {{"sampler", "dpmpp2m"}, {"steps", 20}, {"nfe", 20}}}}}};
  const std::string html = report_of(eval);
  EXPECT_NE(html.find("test bpd (bits/dim, 2000 test examples)</th><td class=\"value\">4.75<"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("classifier-FID (1000 samples, dpmpp2m with 20 network evaluations)</th>"
                      "<td class=\"value\">32.25<"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("0.505"), std::string::npos);
  EXPECT_NE(html.find("0.896"), std::string::npos);
}

TEST(Report, WithoutAnFidEvaluationShowsNone) {
  const std::string html = report_of({{"metrics", {{"bpd", 4.75}}}});
  EXPECT_EQ(html.find("classifier-FID"), std::string::npos);
  EXPECT_NE(html.find("4.75"), std::string::npos);
}

// A weighted VDM's training loss is its objective L_w, not the bound: the page says so and shows
// the bound's training estimate beside it; an ELBO-trained run's loss is the bound itself.
TEST(Report, AWeightedObjectiveIsNotShownAsTheBound) {
  const std::string weighted =
      report_of({{"metrics", {{"bpd", 4.77}}}}, R"({"step": 100, "loss": 0.19, "bpd": 4.81})"
                                                "\n");
  EXPECT_NE(weighted.find("final training objective (weighted, not a bound; bits/dim)</th>"
                          "<td class=\"value\">0.19<"),
            std::string::npos)
      << weighted;
  EXPECT_NE(weighted.find("final training bound estimate (bits/dim)</th><td class=\"value\">4.81<"),
            std::string::npos);
  const std::string elbo =
      report_of({{"metrics", {{"bpd", 4.77}}}}, R"({"step": 100, "loss": 4.81, "bpd": 4.81})"
                                                "\n");
  EXPECT_NE(elbo.find("final training loss (bits/dim)"), std::string::npos);
  EXPECT_EQ(elbo.find("weighted"), std::string::npos);
}

// bounds.json keeps one evaluation of each kind: a file of the old single-object form reads as
// one; saving the same kind replaces it, another kind is kept beside it, and the report shows
// every saved one.
TEST(SavedEvaluations, KeepOneOfEachKindAndTheReportShowsThemAll) {
  testing::TempDir dir;
  const RunDir run(dir.str());
  io::write_file_atomic(dir.str() + "/config.json", io::read_file(kFixture + "/config.json"));
  EXPECT_TRUE(saved_evaluations(run).empty());
  const nlohmann::json iwae{{"metrics", {{"bpd", 4.5}, {"iwae", 4.25}}}, {"examples", 1000}};
  io::write_file_atomic(run.bounds(), iwae.dump());  // the form before the list
  ASSERT_EQ(saved_evaluations(run).size(), 1u);
  EXPECT_EQ(saved_evaluations(run)[0], iwae);
  nlohmann::json ode{{"metrics", {{"bpd", 4.5}}}, {"examples", 64}, {"ode", {{"bpd", 3.875}}}};
  save_evaluation(run, ode);
  ode["ode"]["bpd"] = 3.75;
  save_evaluation(run, ode);  // the same kind again: replaces
  const auto saved = saved_evaluations(run);
  ASSERT_EQ(saved.size(), 2u);
  EXPECT_EQ(saved[0], iwae);
  EXPECT_EQ(saved[1]["ode"]["bpd"], 3.75);
  write_report(dir.str());
  const std::string html = io::read_file(run.report());
  EXPECT_NE(html.find("bounds: iwae"), std::string::npos) << html;
  EXPECT_NE(html.find("3.75"), std::string::npos) << html;
  EXPECT_EQ(html.find("3.875"), std::string::npos) << html;
}

}  // namespace
}  // namespace deepgen::run
