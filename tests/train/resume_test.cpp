// Exact resume: N steps + resume + M steps gives bit-identical parameters to N + M steps.
#include <gtest/gtest.h>

#include "deepgen/core/error.h"
#include "deepgen/io/files.h"
#include "deepgen/io/metrics.h"
#include "deepgen/train/checkpoint.h"
#include "deepgen/train/trainer.h"
#include "support/temp_dir.h"
#include "toy_model.h"

namespace deepgen::testing {
namespace {

train::TrainOptions base_options(const std::string& dir) {
  train::TrainOptions o;
  o.batch = 32;
  o.seed = 11;
  o.run_dir = dir;
  o.log_every = 5;
  o.checkpoint_every = 1000;
  o.optimizer.lr = 1e-2;
  return o;
}

struct Trained {
  at::Tensor params;
  at::Tensor ema;
};

// Builds the model from `seed` as a fresh process would, then trains with `o`.
Trained run(const train::TrainOptions& o, const data::Dataset& d, int64_t stop_after = -1) {
  torch::manual_seed(3);
  ToyDenoiser model;
  train::TrainCallbacks cb;
  int64_t seen = 0;
  if (stop_after >= 0) cb.should_stop = [&] { return seen++ >= stop_after; };
  train::train(model, d, &d, o, cb);
  Trained t{flat_parameters(model.module()).clone(), {}};
  if (o.ema_decay > 0) {
    train::load_weights(train::ema_weights_path(o.run_dir), model.module());
    t.ema = flat_parameters(model.module()).clone();
  }
  return t;
}

TEST(Resume, StepsThenResumeEqualsUninterrupted) {
  TempDir a, b;
  auto d = toy_points(200);  // 6 batches per epoch: the runs cross epoch boundaries
  auto o = base_options(a.str());
  o.steps = 25;
  o.ema_decay = 0.9;
  Trained straight = run(o, d);

  auto first = base_options(b.str());
  first.steps = 10;
  first.ema_decay = 0.9;
  run(first, d);
  auto second = first;
  second.steps = 25;
  second.resume = true;
  Trained resumed = run(second, d);
  EXPECT_TRUE(torch::equal(straight.params, resumed.params));
  EXPECT_TRUE(torch::equal(straight.ema, resumed.ema));
}

// With a cosine schedule the learning rate depends on the total, so the first leg is stopped
// (as by SIGTERM) rather than shortened.
TEST(Resume, InterruptedCosineRunResumesExactly) {
  TempDir a, b;
  auto d = toy_points(200);
  auto o = base_options(a.str());
  o.steps = 30;
  o.optimizer.schedule = "cosine";
  o.optimizer.warmup = 5;
  o.optimizer.grad_clip = 0.5;
  o.eval_every = 7;
  Trained straight = run(o, d);

  auto leg = o;
  leg.run_dir = b.str();
  run(leg, d, /*stop_after=*/13);
  auto rows = io::read_metrics(train::metrics_path(b.str()));
  ASSERT_FALSE(rows.empty());
  EXPECT_LE(rows.back().at("step"), 13.0);
  leg.resume = true;
  Trained resumed = run(leg, d);
  EXPECT_TRUE(torch::equal(straight.params, resumed.params));

  // The resumed metrics continue the same steps: the files agree row for row on "loss".
  auto ra = io::read_metrics(train::metrics_path(a.str()));
  auto rb = io::read_metrics(train::metrics_path(b.str()));
  ASSERT_EQ(ra.size(), rb.size());
  for (size_t i = 0; i < ra.size(); ++i) EXPECT_EQ(ra[i].at("step"), rb[i].at("step"));
}

TEST(Resume, EvaluationDoesNotChangeTraining) {
  TempDir a, b;
  auto d = toy_points(200);
  auto o = base_options(a.str());
  o.steps = 12;
  Trained plain = run(o, d);
  auto with_eval = base_options(b.str());
  with_eval.steps = 12;
  with_eval.eval_every = 3;
  Trained evaluated = run(with_eval, d);
  EXPECT_TRUE(torch::equal(plain.params, evaluated.params));
}

TEST(Resume, MissingCheckpointIsAClearError) {
  TempDir a;
  auto d = toy_points(64);
  auto o = base_options(a.str());
  o.steps = 5;
  o.resume = true;
  ToyDenoiser model;
  try {
    train::train(model, d, nullptr, o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nothing to resume"), std::string::npos) << e.what();
  }
}

TEST(NanGuard, StopsWithErrorAndKeepsLastGoodCheckpoint) {
  TempDir a;
  auto d = toy_points(200);
  auto o = base_options(a.str());
  o.steps = 50;
  o.checkpoint_every = 10;
  torch::manual_seed(3);
  ToyDenoiser model;
  model.fail_at_call(25);
  try {
    train::train(model, d, nullptr, o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("non-finite"), std::string::npos) << m;
    EXPECT_NE(m.find("step 25"), std::string::npos) << m;
    EXPECT_NE(m.find("checkpoint"), std::string::npos) << m;
  }
  // The checkpoint on disk is the one of step 20, with finite weights.
  torch::manual_seed(3);
  ToyDenoiser restored;
  auto opt = train::make_optimizer(o.optimizer, restored.module());
  auto state =
      train::load_checkpoint(train::checkpoint_path(a.str()), restored.module(), nullptr, *opt);
  EXPECT_EQ(state.step, 20);
  EXPECT_TRUE(torch::isfinite(flat_parameters(restored.module())).all().item<bool>());

  // A plain resume would walk into the same divergence: refused, naming the step and the fix.
  o.resume = true;
  torch::manual_seed(3);
  ToyDenoiser again;
  try {
    train::train(again, d, nullptr, o);
    FAIL() << "expected the plain resume to be refused";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("diverged at step 25"), std::string::npos) << m;
    EXPECT_NE(m.find("lower `train.lr`"), std::string::npos) << m;
  }
  EXPECT_TRUE(io::file_exists(train::divergence_path(a.str())));
  // A lower learning rate resumes from step 20 and clears the record; so would a tighter clip.
  o.optimizer.lr /= 2;
  torch::manual_seed(3);
  ToyDenoiser lower;
  EXPECT_EQ(train::train(lower, d, nullptr, o).step, 50);
  EXPECT_FALSE(io::file_exists(train::divergence_path(a.str())));
}

// NaN after a finite spike: checkpoint.pt was written during the spike, so the message sends the
// user to the checkpoint before it, not to the latest one.
TEST(NanGuard, AfterASpikeNamesTheCheckpointBeforeIt) {
  TempDir a;
  auto d = toy_points(200);
  auto o = base_options(a.str());
  o.steps = 60;
  o.checkpoint_every = 10;
  torch::manual_seed(3);
  ToyDenoiser model;
  model.spike_from_call(31, 50.0);
  model.fail_at_call(47);
  try {
    train::train(model, d, nullptr, o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("spiking since step 35"), std::string::npos) << m;
    EXPECT_NE(m.find("checkpoint.pt (step 40) may hold diverging weights"), std::string::npos) << m;
    EXPECT_NE(m.find("checkpoint-before-spike.pt"), std::string::npos) << m;
  }
  // A tighter clip is the other accepted way on.
  o.resume = true;
  o.optimizer.grad_clip = 0.5;
  torch::manual_seed(3);
  ToyDenoiser clipped;
  EXPECT_EQ(train::train(clipped, d, nullptr, o).step, 60);
}

TEST(Trainer, RejectsBadOptions) {
  TempDir a;
  auto d = toy_points(16);
  ToyDenoiser model;
  auto o = base_options(a.str());
  o.steps = 0;
  EXPECT_THROW(train::train(model, d, nullptr, o), Error);  // no length
  o.steps = 3;
  o.batch = 17;
  EXPECT_THROW(train::train(model, d, nullptr, o), Error);  // batch > data
  o.batch = 4;
  o.optimizer.name = "sgdx";
  EXPECT_THROW(train::train(model, d, nullptr, o), Error);
}

TEST(Trainer, EpochsSetTheLengthAndLossFalls) {
  TempDir a;
  auto d = toy_points(256);
  auto o = base_options(a.str());
  o.epochs = 20;
  o.log_every = 8;
  torch::manual_seed(3);
  ToyDenoiser model;
  auto before = train::evaluate(model, d, 64, c10::Device(c10::kCPU));
  auto r = train::train(model, d, &d, o);
  EXPECT_EQ(r.step, 20 * (256 / 32));
  // A denoiser with noise 0.1 on unit-variance data reaches well under the identity-free start.
  EXPECT_LT(r.test_metrics.at("test/loss"), 0.5 * before.at("loss"));
  EXPECT_TRUE(io::file_exists(train::weights_path(a.str())));
}

}  // namespace
}  // namespace deepgen::testing
