#include "deepgen/train/checkpoint.h"

#include <gtest/gtest.h>

#include <fstream>
#include <limits>

#include "deepgen/core/error.h"
#include "deepgen/core/rng.h"
#include "deepgen/io/files.h"
#include "deepgen/io/safetensors.h"
#include "deepgen/train/ema.h"
#include "deepgen/train/optim.h"
#include "deepgen/train/trainer.h"
#include "support/temp_dir.h"
#include "toy_model.h"

namespace deepgen::testing {
namespace {

// A few real Adam steps so the optimiser holds non-trivial moments.
void take_steps(ToyDenoiser& m, torch::optim::Optimizer& opt, train::Ema* ema, int n) {
  auto d = toy_points(16);
  for (int i = 0; i < n; ++i) {
    opt.zero_grad();
    m.loss(d.x).loss.backward();
    opt.step();
    if (ema) ema->update(m.module());
  }
}

TEST(Checkpoint, RoundTripRestoresEverything) {
  TempDir dir;
  const std::string path = dir.file("c.pt");
  torch::manual_seed(1);
  ToyDenoiser a;
  auto opt_a = train::make_optimizer({}, a.module());
  train::Ema ema_a(a.module(), 0.5);
  take_steps(a, *opt_a, &ema_a, 3);
  at::Tensor rng = global_rng_state();
  train::save_checkpoint(path, a.module(), &ema_a, *opt_a, {42, rng});

  torch::manual_seed(2);  // different initial weights
  ToyDenoiser b;
  auto opt_b = train::make_optimizer({}, b.module());
  train::Ema ema_b(b.module(), 0.5);
  torch::randn({5});  // move the generator away
  auto state = train::load_checkpoint(path, b.module(), &ema_b, *opt_b);
  EXPECT_EQ(state.step, 42);
  EXPECT_TRUE(torch::equal(state.rng, rng));
  EXPECT_TRUE(torch::equal(flat_parameters(a.module()), flat_parameters(b.module())));
  for (size_t i = 0; i < ema_a.shadow().size(); ++i)
    EXPECT_TRUE(torch::equal(ema_a.shadow()[i], ema_b.shadow()[i]));

  // The restored optimiser continues exactly: one more identical step on both sides.
  set_global_rng_state(rng);
  take_steps(a, *opt_a, nullptr, 1);
  set_global_rng_state(rng);
  take_steps(b, *opt_b, nullptr, 1);
  EXPECT_TRUE(torch::equal(flat_parameters(a.module()), flat_parameters(b.module())));
}

TEST(Checkpoint, CorruptFileIsAnErrorNamingIt) {
  TempDir dir;
  const std::string path = dir.file("broken.pt");
  io::write_file_atomic(path, "not a checkpoint");
  ToyDenoiser m;
  auto opt = train::make_optimizer({}, m.module());
  try {
    train::load_checkpoint(path, m.module(), nullptr, *opt);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("broken.pt"), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, DifferentArchitectureIsAnError) {
  TempDir dir;
  const std::string path = dir.file("c.pt");
  ToyDenoiser small(3);
  auto opt = train::make_optimizer({}, small.module());
  train::save_checkpoint(path, small.module(), nullptr, *opt, {1, global_rng_state()});
  ToyDenoiser big(5);
  auto opt_big = train::make_optimizer({}, big.module());
  EXPECT_THROW(train::load_checkpoint(path, big.module(), nullptr, *opt_big), Error);
}

// The tensor under a dotted name in a nested archive (how the checkpoint stores names).
at::Tensor stored_under(torch::serialize::InputArchive& archive, const std::string& name) {
  const size_t dot = name.find('.');
  at::Tensor t;
  if (dot == std::string::npos) {
    archive.read(name, t);
    return t;
  }
  torch::serialize::InputArchive nested;
  archive.read(name.substr(0, dot), nested);
  return stored_under(nested, name.substr(dot + 1));
}

TEST(Checkpoint, NamesItsTensorsAndNotItsTempFile) {
  TempDir dir;
  const std::string path = dir.file("checkpoint.pt");
  torch::manual_seed(1);
  ToyDenoiser m;
  auto opt = train::make_optimizer({}, m.module());
  train::Ema ema(m.module(), 0.5);
  take_steps(m, *opt, &ema, 2);
  train::save_checkpoint(path, m.module(), &ema, *opt, {7, global_rng_state()});

  torch::serialize::InputArchive archive, model, averages;
  archive.load_from(path);
  archive.read("model", model);
  archive.read("ema", averages);
  const auto params = m.module().named_parameters();
  ASSERT_GT(params.size(), 0u);
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(torch::equal(stored_under(model, params[i].key()), params[i].value()))
        << params[i].key();
    EXPECT_TRUE(torch::equal(stored_under(averages, params[i].key()), ema.shadow()[i]))
        << params[i].key();
  }
  // The zip's folder is a fixed name, not the temp file's (checkpoint.pt.tmp.PID/).
  const std::string bytes = io::read_file(path);
  EXPECT_NE(bytes.find("archive/data.pkl"), std::string::npos);
  EXPECT_EQ(bytes.find(".tmp"), std::string::npos);
}

// The archive is TorchScript: a module named after a Python keyword (the U-Net's "in") must not
// make the file unreadable.
TEST(Checkpoint, ModulesNamedAfterPythonKeywordsRoundTrip) {
  struct KeywordNet : torch::nn::Module {
    KeywordNet() {
      register_module("in", torch::nn::Linear(2, 3));
      register_module("lambda", torch::nn::Linear(3, 2));
    }
  };
  TempDir dir;
  const std::string path = dir.file("k.pt");
  torch::manual_seed(1);
  KeywordNet a;
  auto opt_a = train::make_optimizer({}, a);
  train::save_checkpoint(path, a, nullptr, *opt_a, {5, global_rng_state()});
  torch::manual_seed(2);
  KeywordNet b;
  auto opt_b = train::make_optimizer({}, b);
  ASSERT_FALSE(torch::equal(flat_parameters(a), flat_parameters(b)));
  EXPECT_EQ(train::load_checkpoint(path, b, nullptr, *opt_b).step, 5);
  EXPECT_TRUE(torch::equal(flat_parameters(a), flat_parameters(b)));
}

// PyTorch's zip reader skips the zip's CRCs, so deepgen checks its own: every single-byte change
// of a checkpoint is either refused with an error or (in the two bytes the check cannot cover,
// the zip comment's length) leaves exactly the same weights. Before the checksum, 54 of 250
// random mutations resumed with exit 0 and different weights.
TEST(Checkpoint, EveryByteChangeIsRefusedOrHarmless) {
  TempDir dir;
  const std::string path = dir.file("c.pt"), bad = dir.file("bad.pt");
  torch::manual_seed(1);
  ToyDenoiser a;
  auto opt_a = train::make_optimizer({}, a.module());
  take_steps(a, *opt_a, nullptr, 2);
  train::save_checkpoint(path, a.module(), nullptr, *opt_a, {3, global_rng_state()});
  const std::string bytes = io::read_file(path);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  int refused = 0, harmless = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::string mutated = bytes;
    // The last 60 bytes (directory end, comment, checksum) get a share of their own.
    const int64_t n = static_cast<int64_t>(bytes.size());
    const int64_t at = trial % 4 == 0 ? n - 1 - at::randint(60, {1}, gen).item<int64_t>()
                                      : at::randint(n, {1}, gen).item<int64_t>();
    mutated[at] = static_cast<char>(mutated[at] ^ (1 + at::randint(255, {1}, gen).item<int>()));
    io::write_file_atomic(bad, mutated);
    ToyDenoiser b;
    auto opt_b = train::make_optimizer({}, b.module());
    try {
      train::load_checkpoint(bad, b.module(), nullptr, *opt_b);
    } catch (const Error& e) {
      ++refused;
      continue;
    }
    ++harmless;
    EXPECT_TRUE(torch::equal(flat_parameters(a.module()), flat_parameters(b.module())))
        << "byte " << at << " changed the weights without an error";
  }
  EXPECT_GE(refused, 190) << harmless << " loaded";
}

TEST(Checkpoint, DamagedChecksumSaysSo) {
  TempDir dir;
  const std::string path = dir.file("c.pt");
  ToyDenoiser a;
  auto opt = train::make_optimizer({}, a.module());
  train::save_checkpoint(path, a.module(), nullptr, *opt, {1, global_rng_state()});
  std::string bytes = io::read_file(path);
  bytes[bytes.size() / 2] ^= 0x10;  // inside the tensors' data
  io::write_file_atomic(path, bytes);
  try {
    train::load_checkpoint(path, a.module(), nullptr, *opt);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("c.pt"), std::string::npos) << what;
    EXPECT_NE(what.find("damaged"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

TEST(Weights, NonFiniteValuesAreAnErrorNamingTheTensor) {
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  ToyDenoiser a;
  const auto named = a.module().named_parameters();
  {
    torch::NoGradGuard no_grad;
    named[0].value().view(-1)[0] = std::numeric_limits<float>::quiet_NaN();
  }
  train::save_weights(path, a.module());
  ToyDenoiser b;
  try {
    train::load_weights(path, b.module());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'" + named[0].key() + "'"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("NaN"), std::string::npos) << e.what();
  }
}

// Checkpoints written before tensors were named (t0, t1, ... and a count) still resume.
TEST(Checkpoint, IndexedCheckpointsOfEarlierVersionsStillLoad) {
  TempDir dir;
  const std::string path = dir.file("old.pt");
  torch::manual_seed(1);
  ToyDenoiser a;
  auto opt_a = train::make_optimizer({}, a.module());
  take_steps(a, *opt_a, nullptr, 2);
  torch::serialize::OutputArchive archive, model, optim;
  const auto tensors = a.module().named_parameters();
  for (size_t i = 0; i < tensors.size(); ++i) {
    model.write("t" + std::to_string(i), tensors[i].value());
    model.write("name" + std::to_string(i), c10::IValue(tensors[i].key()));
  }
  model.write("count", c10::IValue(static_cast<int64_t>(tensors.size())));
  opt_a->save(optim);
  archive.write("model", model);
  archive.write("optimizer", optim);
  archive.write("step", torch::tensor(int64_t{3}));
  archive.write("rng", global_rng_state());
  archive.save_to(path);

  torch::manual_seed(2);
  ToyDenoiser b;
  auto opt_b = train::make_optimizer({}, b.module());
  ASSERT_FALSE(torch::equal(flat_parameters(a.module()), flat_parameters(b.module())));
  EXPECT_EQ(train::load_checkpoint(path, b.module(), nullptr, *opt_b).step, 3);
  EXPECT_TRUE(torch::equal(flat_parameters(a.module()), flat_parameters(b.module())));

  // Without deepgen's checksum the zip's own entry CRCs are checked: damage is refused.
  const std::string bytes = io::read_file(path);
  int refused = 0;
  for (size_t at = 0; at < bytes.size(); at += 97) {
    std::string mutated = bytes;
    mutated[at] = static_cast<char>(mutated[at] ^ 0x5a);
    io::write_file_atomic(path, mutated);
    try {
      train::load_checkpoint(path, b.module(), nullptr, *opt_b);
      EXPECT_TRUE(torch::equal(flat_parameters(a.module()), flat_parameters(b.module())))
          << "byte " << at << " changed the weights without an error";
    } catch (const Error&) {
      ++refused;
    }
  }
  EXPECT_GT(refused, 0);
}

TEST(Weights, MetadataIsWrittenBesideTheFormatKey) {
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  ToyDenoiser a;
  train::save_weights(path, a.module(), {{"family", "toy"}, {"data_shape", "[2]"}});
  std::map<std::string, std::string> meta;
  io::load_safetensors(path, &meta);
  EXPECT_EQ(meta["format"], "pt");
  EXPECT_EQ(meta["family"], "toy");
  EXPECT_EQ(meta["data_shape"], "[2]");
}

TEST(Weights, SafetensorsRoundTripAndShapeCheck) {
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  torch::manual_seed(1);
  ToyDenoiser a;
  train::save_weights(path, a.module());
  torch::manual_seed(2);
  ToyDenoiser b;
  ASSERT_FALSE(torch::equal(flat_parameters(a.module()), flat_parameters(b.module())));
  train::load_weights(path, b.module());
  EXPECT_TRUE(torch::equal(flat_parameters(a.module()), flat_parameters(b.module())));
  ToyDenoiser other(4);
  try {
    train::load_weights(path, other.module());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("w.safetensors"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("shape"), std::string::npos) << e.what();
  }
}

TEST(Ema, UpdateIsThePolyakAverageAndSwapIsAnInvolution) {
  torch::manual_seed(1);
  ToyDenoiser m;
  train::Ema ema(m.module(), 0.75);
  at::Tensor old_shadow = torch::cat({ema.shadow()[0].flatten()}).clone();
  {
    torch::NoGradGuard g;
    for (auto& p : m.module().parameters()) p.add_(1.0);
  }
  ema.update(m.module());
  at::Tensor p0 = m.module().parameters()[0].detach().flatten();
  // 0.75·old + 0.25·(old + 1) = old + 0.25, to float32 rounding.
  EXPECT_TRUE(torch::allclose(ema.shadow()[0].flatten(), old_shadow + 0.25, 0, 1e-6));
  at::Tensor before = flat_parameters(m.module()).clone();
  ema.swap(m.module());
  EXPECT_FALSE(torch::equal(before, flat_parameters(m.module())));
  ema.swap(m.module());
  EXPECT_TRUE(torch::equal(before, flat_parameters(m.module())));
  EXPECT_THROW(train::Ema(m.module(), 1.0), Error);
}

// The warm-up: the first update (n = 0) uses d = 1/10, so the average moves 90% of the way to
// the current weights; d reaches the configured decay once (1 + n)/(10 + n) exceeds it.
TEST(Ema, WarmUpDecayFollowsTheUpdateCount) {
  ToyDenoiser m;
  train::Ema ema(m.module(), 0.999);
  EXPECT_DOUBLE_EQ(ema.decay_at(0), 0.1);
  EXPECT_DOUBLE_EQ(ema.decay_at(90), 91.0 / 100.0);
  EXPECT_DOUBLE_EQ(ema.decay_at(100000), 0.999);
  EXPECT_DOUBLE_EQ(ema.decay_at(-1), 0.999);
  at::Tensor old_shadow = ema.shadow()[0].flatten().clone();
  {
    torch::NoGradGuard g;
    for (auto& p : m.module().parameters()) p.add_(1.0);
  }
  ema.update(m.module(), 0);
  EXPECT_TRUE(torch::allclose(ema.shadow()[0].flatten(), old_shadow + 0.9, 0, 1e-6));
}

TEST(Schedule, WarmupCosineAndConstant) {
  train::OptimizerOptions o;
  o.lr = 1.0;
  EXPECT_DOUBLE_EQ(train::learning_rate(o, 0, 100), 1.0);
  o.warmup = 10;
  EXPECT_DOUBLE_EQ(train::learning_rate(o, 0, 100), 0.1);
  EXPECT_DOUBLE_EQ(train::learning_rate(o, 9, 100), 1.0);
  o.schedule = "cosine";
  o.min_lr_factor = 0.1;
  EXPECT_DOUBLE_EQ(train::learning_rate(o, 10, 110), 1.0);
  EXPECT_NEAR(train::learning_rate(o, 60, 110), 0.55, 1e-12);  // half-way: (1 + 0.1) / 2
  EXPECT_NEAR(train::learning_rate(o, 110, 110), 0.1, 1e-12);
  o.schedule = "linear";
  EXPECT_THROW(train::validate(o), Error);
}

TEST(Evaluate, WeightedMeanOverUnevenBatches) {
  torch::manual_seed(1);
  ToyDenoiser m;
  auto d = toy_points(10);
  // Noise is drawn per batch, so compare with an evaluation whose noise is zero: the sample
  // mean of per-batch means weighted by size equals the full-batch mean.
  struct NoNoise : ToyDenoiser {
    train::LossOutput evaluate(const at::Tensor& x) override {
      at::Tensor l = (net()->forward(x) - x).pow(2).mean();
      return {l, {}};
    }
  } exact;
  auto full = train::evaluate(exact, d, 10, c10::Device(c10::kCPU));
  auto split = train::evaluate(exact, d, 4, c10::Device(c10::kCPU));  // batches 4, 4, 2
  EXPECT_NEAR(full.at("loss"), split.at("loss"), 1e-6);
  auto first = train::evaluate(exact, d, 4, c10::Device(c10::kCPU), 1);
  EXPECT_GT(std::abs(first.at("loss") - full.at("loss")), 0.0);
}

// eval's progress line (issue 18: a long IWAE bound was silent) is fed one call per batch.
TEST(Evaluate, ReportsProgressAfterEveryBatch) {
  ToyDenoiser m;
  auto d = toy_points(10);
  std::vector<std::pair<int64_t, int64_t>> calls;
  train::evaluate(m, d, 4, c10::Device(c10::kCPU), 0, nullptr,
                  [&](int64_t done, int64_t total) { calls.emplace_back(done, total); });
  const std::vector<std::pair<int64_t, int64_t>> expected{{1, 3}, {2, 3}, {3, 3}};
  EXPECT_EQ(calls, expected);
}

}  // namespace
}  // namespace deepgen::testing
