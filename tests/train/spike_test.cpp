// Loss-spike detection: the diverging VDM run, noisy curves that must not alarm, and the
// trainer keeping the checkpoint before a spike.
#include "deepgen/train/spike.h"

#include <gtest/gtest.h>

#include <cmath>

#include "deepgen/io/files.h"
#include "deepgen/io/metrics.h"
#include "deepgen/train/checkpoint.h"
#include "deepgen/train/trainer.h"
#include "support/temp_dir.h"
#include "toy_model.h"

namespace deepgen::testing {
namespace {

// The README recipe's run (issue 13): 8.5 bpd at step 50 falling to 2.07 at step 1950, then 9.37
// at 2080 and 7.77 at 2340. Reported once, at the first high window.
TEST(LossSpike, TheDivergingVdmRunIsReportedOnceAtItsStep) {
  train::LossSpikeDetector d(0.5);
  int64_t reported = 0, count = 0;
  auto feed = [&](int64_t step, double mean) {
    if (d.observe(step, mean)) {
      reported = step;
      ++count;
    }
  };
  for (int64_t s = 50; s <= 1950; s += 50) feed(s, 2.07 + 6.4 * std::exp(-(s - 50) / 300.0));
  EXPECT_EQ(count, 0);
  feed(2000, 2.09);
  feed(2050, 9.37);
  feed(2100, 8.8);
  feed(2340, 7.77);
  EXPECT_EQ(reported, 2050);
  EXPECT_EQ(count, 1);
  EXPECT_TRUE(d.in_spike());
  EXPECT_NEAR(d.best(), 2.08, 0.01);  // the curve at step 1950
  feed(2400, 2.2);  // back within the margin: the spike ends, and a new one is reported again
  EXPECT_FALSE(d.in_spike());
  feed(2450, 6.0);
  EXPECT_EQ(count, 2);
}

// Window means that wander by ±10 % (VDM noise is ~2 %), or a negative loss (the Gaussian VAE's
// −718 nats) that passes through zero on its way down, are not spikes; factor 0 is off.
TEST(LossSpike, NoiseAndNegativeLossesAreNotSpikes) {
  train::LossSpikeDetector noisy(0.5), negative(0.5), off(0.0);
  for (int64_t s = 1; s <= 400; ++s) {
    const double wobble = 0.1 * std::sin(1.7 * static_cast<double>(s));
    EXPECT_FALSE(noisy.observe(s, 3.0 * (1 + wobble))) << s;
    EXPECT_FALSE(negative.observe(s, 200.0 - 918.0 * (1 - std::exp(-s / 50.0)) + 20 * wobble)) << s;
    EXPECT_FALSE(off.observe(s, s % 50 == 0 ? 1e6 : 1.0));
  }
  EXPECT_LT(negative.best(), -700);
  EXPECT_TRUE(negative.observe(401, -200.0));  // +500 nats above −718 is a spike
}

// A finite divergence at step 31 of 60 (loss × 50): the message names the step, metrics.jsonl
// marks the rows, and checkpoint-before-spike.pt holds the step-30 weights, which a later
// regular checkpoint no longer has.
TEST(LossSpike, TrainerReportsItAndKeepsTheCheckpointBeforeIt) {
  TempDir dir;
  auto d = toy_points(200);
  train::TrainOptions o;
  o.batch = 32;
  o.seed = 5;
  o.run_dir = dir.str();
  o.steps = 60;
  o.log_every = 5;
  o.checkpoint_every = 10;
  o.optimizer.lr = 1e-2;
  torch::manual_seed(3);
  ToyDenoiser model;
  model.spike_from_call(31, 50.0);
  std::vector<std::string> messages;
  train::TrainCallbacks cb;
  int64_t progress_spike = 0;
  cb.on_message = [&](const std::string& m) { messages.push_back(m); };
  cb.on_progress = [&](const train::Progress& p) { progress_spike = p.spike_step; };
  train::train(model, d, nullptr, o, cb);
  std::string spike;
  for (const auto& m : messages)
    if (m.find("loss spike") != std::string::npos) spike = m;
  EXPECT_NE(spike.find("loss spike at step 35"), std::string::npos) << spike;
  EXPECT_NE(spike.find("checkpoint of step 30"), std::string::npos) << spike;
  EXPECT_NE(spike.find("`train.lr`"), std::string::npos) << spike;
  EXPECT_EQ(progress_spike, 35);
  auto rows = io::read_metrics(train::metrics_path(dir.str()));
  int64_t marked = 0;
  for (const auto& r : rows) marked += r.count("spike") ? 1 : 0;
  EXPECT_EQ(marked, 6);  // steps 35, 40, .., 60: the loss stays × 50
  torch::manual_seed(3);
  ToyDenoiser kept;
  auto opt = train::make_optimizer(o.optimizer, kept.module());
  auto state = train::load_checkpoint(train::spike_checkpoint_path(dir.str()), kept.module(),
                                      nullptr, *opt);
  EXPECT_EQ(state.step, 30);
}

}  // namespace
}  // namespace deepgen::testing
