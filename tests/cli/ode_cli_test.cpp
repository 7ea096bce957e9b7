// deepgen eval --ode: the probability-flow likelihood of a VDM on points (nats, exact
// divergence) and on 8-bit images (bits/dim, Hutchinson), labelled an estimate; bad input.
#include "cli_support.h"
#include "deepgen/io/image.h"

namespace {

namespace fs = std::filesystem;
using deepgen::testing::TempDir;
using nlohmann::json;

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(CliOde, PointsGiveNatsWithTheExactDivergence) {
  TempDir dir;
  const std::string run = dir.file("run");
  ASSERT_TRUE(succeeded(
      deepgen({"train", "vdm", "--data", "toy:moons", "--out", run, "--steps", "40", "--batch",
               "64", "--hidden", "32", "--sample-steps", "10", "--threads", "1"})));
  const std::vector<std::string> eval{"eval",  "--run",          run, "--max-batches", "1",
                                      "--ode", "--ode-examples", "64"};
  const json ev = only_json_object(deepgen(eval));
  const json& ode = ev["ode"];
  ASSERT_TRUE(ode.contains("nats")) << ev.dump();
  EXPECT_TRUE(std::isfinite(ode["nats"].get<double>()));
  EXPECT_GT(ode["std_error"].get<double>(), 0.0);
  EXPECT_EQ(ode["kind"], "estimate");
  // Each likelihood says what it is: the ELBO's bpd a bound, the ODE's an estimate.
  EXPECT_EQ(ev["likelihoods"]["bpd"].get<std::string>().rfind("upper bound", 0), 0u) << ev.dump();
  EXPECT_EQ(ev["likelihoods"]["ode"].get<std::string>().rfind("estimate", 0), 0u) << ev.dump();
  EXPECT_EQ(ode["divergence"], "exact");
  EXPECT_EQ(ode["examples"], 64);
  EXPECT_GT(ode["nfe"].get<double>(), 0.0);
  // Tighter tolerances cost more evaluations and change the number little (the flow is smooth).
  const json tight =
      only_json_object(deepgen(with(eval, {"--ode-rtol", "1e-7", "--ode-atol", "1e-7"})))["ode"];
  EXPECT_GT(tight["nfe"].get<double>(), ode["nfe"].get<double>());
  EXPECT_NEAR(tight["nats"].get<double>(), ode["nats"].get<double>(), 0.01);
  // Bad numbers and a model without an ODE: one line each.
  EXPECT_TRUE(one_line_error(deepgen(with(eval, {"--probes", "0"})), "--probes"));
  EXPECT_TRUE(one_line_error(deepgen(with(eval, {"--ode-rtol", "2"})), "--ode-rtol"));
  EXPECT_TRUE(one_line_error(deepgen(with(eval, {"--ode-method", "rk23"})), "rk23"));
  const std::string vae = dir.file("vae");
  ASSERT_TRUE(succeeded(deepgen(toy_train(vae, {"--steps", "5"}))));
  EXPECT_TRUE(one_line_error(deepgen({"eval", "--run", vae, "--max-batches", "1", "--ode"}),
                             "probability-flow ODE"));

  // compare: the VAE's bound, the VDM's bound and its saved ODE estimate in one table and page.
  // Saving keeps each kind of evaluation once: the ODE evaluation saved twice is one entry, a
  // plain one saved after it is a second, and neither replaces the other.
  ASSERT_TRUE(succeeded(deepgen(with(eval, {"--save"}))));
  ASSERT_TRUE(succeeded(deepgen(with(eval, {"--save"}))));
  ASSERT_TRUE(succeeded(deepgen({"eval", "--run", run, "--max-batches", "1", "--save"})));
  EXPECT_EQ(json::parse(read_text(run + "/bounds.json"))["evaluations"].size(), 2u);
  const std::string page = dir.file("cmp.html");
  const json table =
      only_json_object(deepgen({"compare", "--runs", vae + "," + run, "--html", page}));
  EXPECT_EQ(table["data"], "toy:moons");
  int bounds = 0, estimates = 0;
  for (const auto& row : table["rows"]) {
    const std::string kind = row["kind"];
    bounds += kind.rfind("upper bound", 0) == 0;
    if (kind == "estimate") {
      ++estimates;
      EXPECT_EQ(row["run"], run);
      EXPECT_NEAR(row["value"].get<double>(), ode["nats"].get<double>(), 1e-9);  // same seed
      EXPECT_GT(row["nfe"].get<double>(), 0.0);
    }
  }
  EXPECT_GE(bounds, 2) << table.dump();  // the VAE's −ELBO and the VDM's bpd at least
  EXPECT_EQ(estimates, 1) << table.dump();
  EXPECT_NE(read_text(page).find("probability-flow ODE"), std::string::npos);
  const std::string other = dir.file("other");
  ASSERT_TRUE(
      succeeded(deepgen({"train", "vae", "--data", "toy:8gaussians", "--out", other, "--steps", "2",
                         "--batch", "64", "--hidden", "16", "--threads", "1"})));
  EXPECT_TRUE(one_line_error(deepgen({"compare", "--runs", run + "," + other}), "one data set"));
  EXPECT_TRUE(one_line_error(deepgen({"compare"}), "--runs"));
}

// 8-bit images are dequantised and the estimate is in bits/dim; a fixed-step solver's cost is
// its steps times its evaluations per step.
TEST(CliOde, EightBitImagesGiveBitsPerDim) {
  TempDir dir;
  const std::string images = dir.file("imgs");
  fs::create_directories(images);
  for (int i = 0; i < 12; ++i)
    deepgen::io::write_png(images + "/im" + std::to_string(i) + ".png",
                           torch::rand({1, 8, 8}, at::make_generator<at::CPUGeneratorImpl>(i)));
  const std::string run = dir.file("run");
  ASSERT_TRUE(succeeded(deepgen({"train", "vdm", "--data", "folder:" + images, "--test-fraction",
                                 "0.34", "--out", run, "--steps", "4", "--batch", "4", "--channels",
                                 "8,16", "--sample-steps", "4", "--threads", "1"})));
  const json ev = only_json_object(
      deepgen({"eval", "--run", run, "--ode", "--ode-method", "heun", "--ode-steps", "5",
               "--divergence", "hutchinson", "--probes", "2", "--precision", "fp32"}));
  const json& ode = ev["ode"];
  ASSERT_TRUE(ode.contains("bpd")) << ev.dump();
  const double bpd = ode["bpd"].get<double>();
  EXPECT_GT(bpd, 0.0);  // a bound on −log₂P(k)/D of 8-bit values is positive
  EXPECT_LT(bpd, 20.0);
  EXPECT_EQ(ode["nfe"], 10.0);  // 5 Heun steps of 2 evaluations
  EXPECT_EQ(ode["probes"], 2);
  // The VDM dequantises by its own encoder and decoder (a comb-like density at t = 0).
  EXPECT_EQ(ode["dequantization"].get<std::string>().rfind("variational", 0), 0u);
  // From t0 > 0 the bound's own terms cover [0, t0]; the solver's cost is unchanged, and the
  // comparison table names the start.
  const std::vector<std::string> late{"eval",         "--run", run,           "--ode",
                                      "--ode-method", "heun",  "--ode-steps", "5",
                                      "--ode-t0",     "0.4",   "--precision", "fp32"};
  const json from = only_json_object(deepgen(with(late, {"--save"})))["ode"];
  EXPECT_EQ(from["t0"], 0.4);
  EXPECT_EQ(from["nfe"], 10.0);
  EXPECT_GT(from["bpd"].get<double>(), 0.0);
  EXPECT_NE(from["dequantization"].get<std::string>().find("t0 = 0.4"), std::string::npos);
  const json table = only_json_object(deepgen({"compare", "--runs", run}));
  bool named = false;
  for (const auto& row : table["rows"])
    named |= row["estimator"].get<std::string>().find("from t0 = 0.4") != std::string::npos;
  EXPECT_TRUE(named) << table.dump();
  EXPECT_TRUE(
      one_line_error(deepgen({"eval", "--run", run, "--ode", "--ode-t0", "1"}), "--ode-t0"));
}

}  // namespace
