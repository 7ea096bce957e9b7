// deepgen langevin and deepgen train score (docs/score.md): Langevin, MALA and annealed Langevin
// on targets with known scores, the NCSN toy result through the CLI, and score-model runs
// (dsm, esm-kde, ncsn) with their reports, re-evaluation and exact resume.
#include <cmath>

#include "cli_support.h"
#include "deepgen/core/rng.h"
#include "deepgen/data/toy.h"

namespace {

namespace fs = std::filesystem;
using deepgen::testing::TempDir;
using nlohmann::json;

// deepgen langevin with one thread; the caller adds the target, sampler and sizes.
Result langevin(const std::string& out, std::vector<std::string> more) {
  std::vector<std::string> args{"langevin", "--out", out, "--threads", "1"};
  args.insert(args.end(), more.begin(), more.end());
  return deepgen(args);
}

double num(const json& j, size_t i) { return j.at(i).get<double>(); }
double num(const json& j, size_t i, size_t k) { return j.at(i).at(k).get<double>(); }

// The NCSN toy experiment (Song & Ermon 2019, §3.2.2) end to end; the library test is
// NcsnToy.*. Target 0.2·N((−5,−5), I) + 0.8·N((5,5), I), chains uniform in [−8, 8]².
TEST(CliLangevin, AnnealedLangevinRecoversTheMixtureWeightsAndPlainLangevinDoesNot) {
  TempDir dir;
  const std::string annealed = dir.file("annealed"), plain = dir.file("plain");
  // NCSN's ladder 20 → 1 (L = 10, the defaults), T = 100, ε = 0.2 in our convention.
  Result a = langevin(annealed, {"--target", "toy:ncsn-gmm", "--annealed", "--steps", "100",
                                 "--step-size", "0.2", "--n", "4000", "--seed", "1"});
  ASSERT_TRUE(succeeded(a));
  json ja = only_json_object(a);
  EXPECT_EQ(ja["sampler"], "annealed");
  EXPECT_EQ(ja["sigmas"].size(), 10u);
  EXPECT_DOUBLE_EQ(num(ja["sigmas"], 0), 20.0);
  EXPECT_NEAR(num(ja["component_weights"], 1), 0.8, 1e-12);
  const double heavy_annealed = num(ja["component_fractions"], 1);
  // Binomial s.e. of a fraction near 0.8 from 4000 chains: √(0.16/4000) = 0.0063, so 0.03 is
  // 4.7 s.e. (the library test measured 0.7917 with 8000 chains).
  EXPECT_NEAR(heavy_annealed, 0.8, 0.03) << ja.dump();
  EXPECT_NEAR(num(ja["component_fractions"], 0) + heavy_annealed, 1.0, 1e-12);
  EXPECT_EQ(read_csv(annealed + "/samples.csv").size(), 4000u);
  EXPECT_EQ(read_csv(annealed + "/samples.csv").front().size(), 2u);
  EXPECT_TRUE(is_png(annealed + "/samples.png"));

  // The paper's plain Langevin: T = 1000, its ε = 0.1 = our δ = 0.05. Near each mode the score
  // ignores the weights, so the chains keep their initial split ≈ 0.5 (the basin boundary moves
  // by only ~0.1, about 0.01 of the box). Binomial s.e. √(0.25/4000) = 0.0079: 0.06 is 7.6 s.e.,
  // and 0.24 short of the true weight.
  Result p = langevin(plain, {"--target", "toy:ncsn-gmm", "--steps", "1000", "--step-size", "0.05",
                              "--n", "4000", "--seed", "1"});
  ASSERT_TRUE(succeeded(p));
  json jp = only_json_object(p);
  EXPECT_EQ(jp["sampler"], "langevin");
  EXPECT_EQ(jp["steps"], 1000);
  EXPECT_NEAR(num(jp["component_fractions"], 1), 0.5, 0.06) << jp.dump();
  EXPECT_EQ(read_csv(plain + "/samples.csv").size(), 4000u);
  EXPECT_TRUE(is_png(plain + "/samples.png"));
}

// MALA has no step-size bias: on N(0, I₂) with δ = 2 (where ULA has no stationary law) the
// covariance is I. ULA with δ = 0.5 shows the bias of our convention x + δ∇log p + √(2δ)ε:
// variance s²/(1 − δ/(2s²)) = 4/3, not the 1.143 of the paper's convention at the same number.
TEST(CliLangevin, MalaIsExactAtALargeStepWhereUlaIsBiased) {
  TempDir dir;
  const int64_t n = 8000;
  const double se_var = std::sqrt(2.0 / n);  // s.e. of a sample variance of N(0, 1): 0.016
  Result m = langevin(dir.file("mala"), {"--target", "gaussian:0,0,1", "--mala", "--step-size", "2",
                                         "--steps", "200", "--n", std::to_string(n)});
  ASSERT_TRUE(succeeded(m));
  json jm = only_json_object(m);
  EXPECT_EQ(jm["sampler"], "mala");
  const double acceptance = jm["acceptance"].get<double>();
  EXPECT_GT(acceptance, 0.0);
  EXPECT_LT(acceptance, 1.0);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_NEAR(num(jm["covariance"], i, i), 1.0, 5 * se_var) << jm.dump();
    EXPECT_NEAR(num(jm["mean"], i), 0.0, 5 / std::sqrt(double(n))) << jm.dump();
  }
  EXPECT_NEAR(num(jm["covariance"], 0, 1), 0.0, 5 / std::sqrt(double(n))) << jm.dump();
  EXPECT_EQ(read_csv(dir.file("mala") + "/samples.csv").size(), size_t(n));

  // ULA: the AR(1) x' = (1 − δ)x + √(2δ)ε, stationary variance 1/(1 − δ/2) = 4/3 at δ = 0.5;
  // |1 − δ|^200 leaves nothing of the start. s.e. (4/3)·√(2/n) = 0.021: 5 s.e. = 0.105 is
  // below the 0.19 gap to 8/7 (the paper convention's value) and the 0.33 gap to 1.
  Result u = langevin(dir.file("ula"), {"--target", "gaussian:0,0,1", "--step-size", "0.5",
                                        "--steps", "200", "--n", std::to_string(n)});
  ASSERT_TRUE(succeeded(u));
  json ju = only_json_object(u);
  for (size_t i = 0; i < 2; ++i)
    EXPECT_NEAR(num(ju["covariance"], i, i), 4.0 / 3.0, 5 * (4.0 / 3.0) * se_var) << ju.dump();
}

// A toy name other than ncsn-gmm is the kernel density of 2000 of its points (width 0.1), whose
// noised scores are exact too (width √(0.1² + σ²)). Annealed Langevin must land on the data.
TEST(CliLangevin, AnnealedSamplingOfAToyKernelDensityLandsOnItsData) {
  TempDir dir;
  const std::string out = dir.file("moons");
  const int64_t n = 500;
  Result r = langevin(
      out, {"--target", "toy:moons", "--annealed", "--sigma-begin", "1", "--sigma-end", "0.05",
            "--step-size", "0.00025", "--steps", "30", "--n", std::to_string(n), "--seed", "5"});
  ASSERT_TRUE(succeeded(r));
  json j = only_json_object(r);
  EXPECT_EQ(j["sampler"], "annealed");
  EXPECT_FALSE(j.contains("component_fractions"));  // not a mixture
  // The kernel density's reference points: the same draw the command makes (seed + 1).
  at::Generator gen = deepgen::make_generator(5 + 1);
  const at::Tensor data = deepgen::data::sample_toy("moons", 2000, gen).to(at::kDouble);
  const at::Tensor mean = data.mean(0), sd = data.std(0);
  for (int64_t i = 0; i < 2; ++i) {
    const double m = num(j["mean"], i), v = num(j["covariance"], i, i);
    ASSERT_TRUE(std::isfinite(m) && std::isfinite(v)) << j.dump();
    // The KDE's mean is the data's; 5 s.e. of a mean of n samples, plus 0.05 for what 30 steps
    // per level leave of the start (uniform in [−8, 8]², mean 0 but far wider than the data).
    const double s = sd[i].item<double>();
    EXPECT_NEAR(m, mean[i].item<double>(), 5 * s / std::sqrt(double(n)) + 0.05) << j.dump();
    // The spread is the data's (var + 0.1² of the kernel), not the start's (64/3 ≈ 21): within
    // a factor 1.5 either way.
    EXPECT_GT(v, s * s / 1.5) << j.dump();
    EXPECT_LT(v, s * s * 1.5) << j.dump();
  }
  const auto samples = read_csv(out + "/samples.csv");
  ASSERT_EQ(samples.size(), size_t(n));
  for (const auto& row : samples) {
    ASSERT_EQ(row.size(), 2u);
    EXPECT_LT(std::abs(row[0]), 8.0);
    EXPECT_LT(std::abs(row[1]), 8.0);
  }
  EXPECT_TRUE(is_png(out + "/samples.png"));
}

TEST(CliLangevin, BadRequestsAreOneLineErrors) {
  TempDir dir;
  const std::string out = dir.file("bad");
  EXPECT_TRUE(one_line_error(langevin(out, {"--target", "laplace:0,1"}), "laplace:0,1"));
  EXPECT_TRUE(one_line_error(langevin(out, {"--target", "gmm:1,0,x,1"}), "gmm:1,0,x,1"));
  EXPECT_TRUE(one_line_error(langevin(out, {"--target", "toy:nope", "--steps", "1"}), "nope"));
  // ε/σ_L² = 2 > 1: steps δ_i = 2σ_i² overshoot every level's modes.
  EXPECT_TRUE(one_line_error(
      langevin(out, {"--target", "toy:ncsn-gmm", "--annealed", "--step-size", "2"}), "diverge"));
  EXPECT_TRUE(
      one_line_error(langevin(out, {"--target", "toy:moons", "--mala", "--steps", "1"}), "--mala"));
  EXPECT_TRUE(one_line_error(langevin(out, {"--target", "toy:ncsn-gmm", "--annealed", "--mala"}),
                             "pick one"));
  EXPECT_TRUE(one_line_error(langevin(out, {"--target", "gaussian:0,1", "--step-size", "0"}),
                             "--step-size"));
  EXPECT_FALSE(fs::exists(out));  // nothing written by a refused request
}

// A small score model on toy points; the caller adds --method, --out and the rest.
std::vector<std::string> score_toy(TempDir& dir, const std::string& data, int64_t train,
                                   const std::string& out, std::vector<std::string> more) {
  const std::string config = dir.file("toy" + std::to_string(train) + ".json");
  std::ofstream(config) << R"({"data": {"toy_train": )" << train << R"(, "toy_test": 500}})";
  std::vector<std::string> args{"train",    "score", "--data",   data,    "--out",     out,
                                "--config", config,  "--hidden", "64,64", "--threads", "1"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

TEST(CliScore, DsmToyRunReportsTheLossSamplesAndADistance) {
  TempDir dir;
  const std::string run = dir.file("run");
  // σ = 0.5 and δ = 0.01 (the library test's): 200 steps take the chains from the box to data.
  ASSERT_TRUE(succeeded(deepgen(score_toy(dir, "toy:8gaussians", 2000, run,
                                          {"--method", "dsm", "--sigma", "0.5", "--steps", "300",
                                           "--langevin-steps", "200", "--step-size", "0.01"}))));
  json config = json::parse(read_text(run + "/config.json"));
  EXPECT_EQ(config["model_options"]["method"], "dsm");
  EXPECT_EQ(config["model_options"]["hidden"], json({64, 64}));
  EXPECT_EQ(config["model_options"]["langevin_steps"], 200);
  json ev = json::parse(read_text(run + "/eval.json"));
  ASSERT_TRUE(ev["metrics"].contains("dsm")) << ev.dump();
  EXPECT_TRUE(std::isfinite(ev["metrics"]["dsm"].get<double>()));
  EXPECT_NE(ev["units"].get<std::string>().find("score-matching"), std::string::npos);
  EXPECT_FALSE(ev.contains("sampling"));  // vdm only
  const double distance = ev["energy_distance"].get<double>();
  EXPECT_TRUE(std::isfinite(distance));
  EXPECT_GT(distance, 0.0);
  EXPECT_EQ(read_csv(run + "/samples.csv").size(), 2000u);
  EXPECT_TRUE(is_png(run + "/samples.png"));
  const auto rows = training_rows(run);
  ASSERT_EQ(rows.size(), 6u);  // --log-every 50 (default) over 300 steps
  ASSERT_TRUE(rows.front().contains("dsm"));
  EXPECT_LT(rows.back()["loss"].get<double>(), rows.front()["loss"].get<double>());
}

// esm-kde regresses on the score of a kernel density of the training set, which is not in the
// checkpoint: deepgen eval must rebuild it from the run's data, and then reproduces eval.json.
TEST(CliScore, EsmKdeRunEvaluatesAgainWithItsKernelDensity) {
  TempDir dir;
  const std::string run = dir.file("run");
  ASSERT_TRUE(succeeded(
      deepgen(score_toy(dir, "toy:moons", 500, run,
                        {"--method", "esm-kde", "--sigma", "0.2", "--steps", "60", "--batch", "64",
                         "--log-every", "20", "--langevin-steps", "50", "--step-size", "0.01"}))));
  json saved = json::parse(read_text(run + "/eval.json"));
  ASSERT_TRUE(saved["metrics"].contains("esm_kde")) << saved.dump();
  EXPECT_EQ(training_rows(run).size(), 3u);
  Result r = deepgen({"eval", "--run", run});
  ASSERT_TRUE(succeeded(r));
  json j = only_json_object(r);
  ASSERT_TRUE(j["metrics"].contains("esm_kde")) << j.dump();
  EXPECT_TRUE(std::isfinite(j["metrics"]["esm_kde"].get<double>()));
  // Same weights, test set, seed (0) and batch (500) as the run's own evaluation: same numbers.
  EXPECT_DOUBLE_EQ(j["metrics"]["esm_kde"].get<double>(),
                   saved["metrics"]["esm_kde"].get<double>());
  EXPECT_DOUBLE_EQ(j["energy_distance"].get<double>(), saved["energy_distance"].get<double>());
}

// NCSN draws a level and the noise per example from the global generator, which the checkpoint
// carries.
TEST(CliScore, NcsnResumedRunMatchesStraightRunBitForBit) {
  TempDir dir;
  const std::string a = dir.file("a"), b = dir.file("b");
  auto with = [&](const std::string& run, const std::string& steps) {
    return score_toy(dir, "toy:ncsn-gmm", 1000, run,
                     {"--steps", steps, "--batch", "64", "--num-sigmas", "3", "--steps-per-level",
                      "5", "--log-every", "10", "--checkpoint-every", "20"});
  };
  ASSERT_TRUE(succeeded(deepgen(with(a, "20"))));
  ASSERT_TRUE(
      succeeded(deepgen({"train", "--out", a, "--resume", "--steps", "40", "--threads", "1"})));
  ASSERT_TRUE(succeeded(deepgen(with(b, "40"))));
  json config = json::parse(read_text(a + "/config.json"));
  EXPECT_EQ(config["model_options"]["method"], "ncsn");  // the default
  EXPECT_EQ(config["model_options"]["num_sigmas"], 3);
  json ev = json::parse(read_text(b + "/eval.json"));
  for (const char* key : {"ncsn", "ncsn_sigma_max", "ncsn_sigma_min"})
    EXPECT_TRUE(ev["metrics"].contains(key)) << key << ev.dump();
  EXPECT_TRUE(same_weights(a, b));
}

// The sampler is chosen at sampling time; --sampler is also the VDM's flag (one flag shared on
// deepgen sample), so the run's family decides which table reads it and which names it takes.
TEST(CliScore, NcsnRunSamplesWithEachSamplerAndRefusesAVdmSamplerName) {
  TempDir dir;
  const std::string run = dir.file("run");
  ASSERT_TRUE(succeeded(deepgen(score_toy(
      dir, "toy:8gaussians", 1000, run,
      {"--steps", "20", "--num-sigmas", "3", "--steps-per-level", "5", "--log-every", "10"}))));
  auto sample = [&](const std::string& name, std::vector<std::string> more) {
    std::vector<std::string> args{"sample", "--run", run,     "--n",         "40",
                                  "--seed", "2",     "--out", dir.file(name)};
    args.insert(args.end(), more.begin(), more.end());
    return deepgen(args);
  };
  ASSERT_TRUE(succeeded(sample("pc.csv", {"--sampler", "pc", "--sigma-steps", "10"})));
  ASSERT_TRUE(succeeded(
      sample("ode.csv", {"--sampler", "ode", "--sigma-steps", "10", "--ode-solver", "euler"})));
  ASSERT_TRUE(succeeded(sample("ode2.csv", {"--sampler", "ode", "--sigma-steps", "10"})));
  ASSERT_TRUE(succeeded(sample("annealed.csv", {})));
  for (const char* name : {"pc.csv", "ode.csv", "ode2.csv", "annealed.csv"})
    EXPECT_EQ(read_csv(dir.file(name)).size(), 40u) << name;
  // Same start (seed 2), another solver: another deterministic map.
  EXPECT_NE(read_text(dir.file("ode.csv")), read_text(dir.file("ode2.csv")));
  EXPECT_TRUE(one_line_error(sample("bad.csv", {"--sampler", "ddim"}),
                             "--sampler 'ddim' is unknown: use annealed, pc or ode"));
  EXPECT_TRUE(one_line_error(sample("bad.csv", {"--sampler", "pc", "--snr", "0"}), "--snr"));
  EXPECT_FALSE(fs::exists(dir.file("bad.csv")));
  Result help = deepgen({"sample", "--help"});
  EXPECT_NE(help.out.find("vdm runs, score runs"), std::string::npos) << help.out;
}

TEST(CliScore, BadMethodAndLadderAreOneLineErrors) {
  TempDir dir;
  const std::string run = dir.file("run");
  EXPECT_TRUE(one_line_error(
      deepgen(score_toy(dir, "toy:moons", 500, run, {"--steps", "2", "--method", "nope"})),
      "--method 'nope'"));
  // One level is no ladder: σ_L would be ignored and NCSN would sample at σ_1 only.
  EXPECT_TRUE(one_line_error(
      deepgen(score_toy(dir, "toy:moons", 500, run, {"--steps", "2", "--num-sigmas", "1"})),
      "--num-sigmas"));
  EXPECT_TRUE(one_line_error(
      deepgen(score_toy(dir, "toy:moons", 500, run, {"--steps", "2", "--sigma-begin", "0.01"})),
      "--sigma-begin"));
  EXPECT_TRUE(one_line_error(
      deepgen(score_toy(dir, "toy:moons", 500, run, {"--steps", "2", "--activation", "gelu"})),
      "gelu"));
}

}  // namespace
