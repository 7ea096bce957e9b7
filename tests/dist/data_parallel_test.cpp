// Data-parallel training through the shared trainer, with ranks as real processes (this test
// binary re-run as a worker): 2 ranks x batch B/2 reach the parameters of 1 rank x batch B.
#include <gtest/gtest.h>

#include <cstdlib>

#include "cli/cli_support.h"
#include "deepgen/core/error.h"
#include "deepgen/dist/comm.h"
#include "deepgen/train/checkpoint.h"
#include "deepgen/train/trainer.h"
#include "dist_support.h"
#include "train/toy_model.h"

namespace deepgen::testing {
namespace {

constexpr int64_t kBatch = 32, kSteps = 24, kPoints = 256;

train::TrainOptions options(const std::string& dir, int64_t steps) {
  train::TrainOptions o;
  o.batch = kBatch;
  o.steps = steps;
  o.seed = 5;
  o.run_dir = dir;
  o.log_every = 4;
  o.optimizer.lr = 1e-2;
  o.optimizer.grad_clip = 1.0;  // clipping acts on the averaged gradient, as in one process
  o.bucket_elems = 40;          // the model's 118 parameters travel as 3 buckets
  return o;
}

// Trains the deterministic toy denoiser; returns its parameters.
at::Tensor train_toy(const train::TrainOptions& o) {
  torch::manual_seed(3);
  ToyDenoiser model(3, /*noise=*/0.0);
  const data::Dataset d = toy_points(kPoints);
  train::train(model, d, &d, o);
  return flat_parameters(model.module()).clone();
}

at::Tensor saved_parameters(const std::string& dir) {
  torch::manual_seed(3);
  ToyDenoiser model(3, 0.0);
  train::load_weights(train::weights_path(dir), model.module());
  return flat_parameters(model.module()).clone();
}

double last_test_mse(const std::string& dir) {
  double v = std::nan("");
  for (const auto& line : lines_of(read_text(train::metrics_path(dir)))) {
    const json row = json::parse(line);
    if (row.contains("test/mse")) v = row["test/mse"].get<double>();
  }
  return v;
}

// Worker mode: one rank of the run described by the environment.
int worker_main() {
  try {
    at::set_num_threads(1);
    const dist::WorldEnv env = dist::world_from_env();
    train::TrainOptions o =
        options(std::getenv("DEEPGEN_TEST_RUN_DIR"), std::atoll(std::getenv("DEEPGEN_TEST_STEPS")));
    o.comm = dist::join(env, c10::Device(c10::kCPU), std::chrono::seconds(60));
    train_toy(o);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "worker: %s\n", e.what());
    return 1;
  }
}

TEST(DataParallel, TwoRanksOfHalfBatchesMatchOneRank) {
  at::set_num_threads(1);
  TempDir one, two;
  const at::Tensor reference = train_toy(options(one.str(), kSteps));
  const int port = free_port();
  std::vector<std::unique_ptr<Process>> ranks;
  for (int r = 0; r < 2; ++r) {
    Env env = rank_env(r, 2, port);
    env["DEEPGEN_DIST_WORKER"] = "1";
    env["DEEPGEN_TEST_RUN_DIR"] = two.str();
    env["DEEPGEN_TEST_STEPS"] = std::to_string(kSteps);
    ranks.push_back(std::make_unique<Process>(std::vector<std::string>{}, env, "/proc/self/exe"));
  }
  for (auto& p : ranks) ASSERT_TRUE(succeeded(p->wait()));
  const at::Tensor parallel = saved_parameters(two.str());
  // Both runs see the same 32 examples per step; they differ only in how the float32 mean of
  // the gradient is summed (two means of 16 averaged, against one mean of 32): ~1e-7 relative
  // per step. Adam's steps are at most lr = 1e-2 per coordinate, so after 24 steps 1e-5 leaves
  // room for rounding and is far below what one step changes (checked below).
  const double diff = (parallel - reference).abs().max().item<double>();
  std::printf("max |2 ranks - 1 rank| over the parameters: %.3g\n", diff);
  EXPECT_LT(diff, 1e-5) << "2 ranks x 16 vs 1 rank x 32";
  TempDir more;
  const at::Tensor extra = train_toy(options(more.str(), kSteps + 1));
  EXPECT_GT((extra - reference).abs().max().item<double>(), 1e-4)
      << "the tolerance must detect one step";
  // The test split is evaluated in shards and reduced: the same mean as one process.
  EXPECT_NEAR(last_test_mse(two.str()), last_test_mse(one.str()), 1e-6);
  const auto rows = training_rows(two.str());  // rank 0 alone writes them, once per window
  ASSERT_EQ(rows.size(), static_cast<size_t>(kSteps / 4));
  EXPECT_EQ(rows.back()["step"].get<double>(), kSteps);
}

}  // namespace
}  // namespace deepgen::testing

int main(int argc, char** argv) {
  if (std::getenv("DEEPGEN_DIST_WORKER") != nullptr) return deepgen::testing::worker_main();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
