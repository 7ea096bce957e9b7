// The flat-buffer Adam against LibTorch's own Adam/AdamW, gradient plumbing of the flat buffer,
// clipping, and loading optimiser state that torch::optim::Adam wrote.
#include "deepgen/train/ema.h"
#include "deepgen/train/flat_adam.h"

#include <gtest/gtest.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>

#include "deepgen/train/optim.h"
#include "toy_model.h"

namespace deepgen::testing {
namespace {

// Two copies of one small network (with a 0-d parameter) and a fixed batch.
struct Pair {
  Pair() {
    torch::manual_seed(1);
    a = torch::nn::Sequential(torch::nn::Linear(5, 7), torch::nn::Tanh(), torch::nn::Linear(7, 3));
    a->register_parameter("scale", torch::ones({}));
    b = torch::nn::Sequential(torch::nn::Linear(5, 7), torch::nn::Tanh(), torch::nn::Linear(7, 3));
    b->register_parameter("scale", torch::ones({}));
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < a->parameters().size(); ++i)
      b->parameters()[i].copy_(a->parameters()[i]);
    x = torch::randn({16, 5});
  }
  at::Tensor loss(torch::nn::Sequential& m) {
    const at::Tensor scale = m->named_parameters()["scale"];
    return (m->forward(x) * scale).pow(2).mean() + scale.pow(2);
  }
  torch::nn::Sequential a{nullptr}, b{nullptr};
  at::Tensor x;
};

double max_diff(torch::nn::Module& a, torch::nn::Module& b) {
  return (flat_parameters(a) - flat_parameters(b)).abs().max().item<double>();
}

void expect_matches_torch(const std::string& name, double weight_decay) {
  Pair p;
  const at::Tensor before = flat_parameters(*p.a).clone();
  train::OptimizerOptions o;
  o.name = name;
  o.lr = 3e-2;
  o.weight_decay = weight_decay;
  auto flat = train::make_optimizer(o, *p.a);
  ASSERT_NE(dynamic_cast<train::FlatAdam*>(flat.get()), nullptr);
  std::unique_ptr<torch::optim::Optimizer> ref;
  if (name == "adamw")
    ref = std::make_unique<torch::optim::AdamW>(
        p.b->parameters(), torch::optim::AdamWOptions(o.lr).weight_decay(weight_decay));
  else
    ref = std::make_unique<torch::optim::Adam>(
        p.b->parameters(), torch::optim::AdamOptions(o.lr).weight_decay(weight_decay));
  for (int step = 0; step < 50; ++step) {
    train::zero_grad(*flat);
    p.loss(p.a).backward();
    flat->step();
    ref->zero_grad();
    p.loss(p.b).backward();
    ref->step();
  }
  // Same element-wise operations in the same order; the only freedom is where a vectorised
  // loop's tail falls (per tensor vs over the whole buffer), worth at most an ulp or so per step.
  // After 50 steps that is ~1e-6 at these magnitudes; a wrong bias correction or decay term
  // differs by > 1e-3 within a few steps. (Measured here: 0, bit for bit.)
  std::printf("%s, weight decay %g: max |flat - torch| = %.3g\n", name.c_str(), weight_decay,
              max_diff(*p.a, *p.b));
  EXPECT_LT(max_diff(*p.a, *p.b), 2e-6) << name << " weight decay " << weight_decay;
  EXPECT_GT((flat_parameters(*p.a) - before).abs().max().item<double>(), 0.1) << "it trained";
}

TEST(FlatAdam, MatchesTorchAdam) { expect_matches_torch("adam", 0.0); }
TEST(FlatAdam, MatchesTorchAdamWithL2) { expect_matches_torch("adam", 0.1); }
TEST(FlatAdam, MatchesTorchAdamW) { expect_matches_torch("adamw", 0.1); }

TEST(FlatAdam, ParametersAndGradientsLiveInTheBuffers) {
  Pair p;
  const at::Tensor before = flat_parameters(*p.a);
  auto opt = train::make_optimizer({}, *p.a);
  auto& flat = dynamic_cast<train::FlatAdam&>(*opt).flat();
  EXPECT_TRUE(torch::equal(flat.values(), before));  // values kept, in parameter order
  p.loss(p.a).backward();
  std::vector<at::Tensor> grads;
  for (const auto& t : p.a->parameters()) grads.push_back(t.grad().flatten());
  EXPECT_TRUE(torch::equal(flat.grads(), torch::cat(grads)));
  // Writing through the buffer is writing the module's parameters.
  flat.values().zero_();
  EXPECT_EQ(flat_parameters(*p.a).abs().sum().item<double>(), 0.0);
  // A gradient autograd replaced (not accumulated in place) is taken back into the buffer.
  p.a->parameters()[0].mutable_grad() = torch::full_like(p.a->parameters()[0], 7.0);
  EXPECT_EQ(flat.grads()[0].item<double>(), 7.0);
  train::zero_grad(*opt);
  EXPECT_EQ(flat.grads().abs().sum().item<double>(), 0.0);
  EXPECT_EQ(p.a->parameters()[0].grad().abs().sum().item<double>(), 0.0);
}

TEST(FlatAdam, ClipMatchesTorch) {
  Pair p;
  auto opt = train::make_optimizer({}, *p.a);
  p.loss(p.a).backward();
  p.loss(p.b).backward();
  const double ours = train::clip_grad_norm(*opt, 0.01);
  const double theirs = torch::nn::utils::clip_grad_norm_(p.b->parameters(), 0.01);
  EXPECT_NEAR(ours, theirs, 1e-6 * theirs);
  for (size_t i = 0; i < p.a->parameters().size(); ++i)
    EXPECT_TRUE(
        torch::allclose(p.a->parameters()[i].grad(), p.b->parameters()[i].grad(), 1e-5, 1e-8));
}

TEST(FlatAdam, LoadsStateThatTorchAdamSaved) {
  // A checkpoint from before the flat optimiser: torch::optim::Adam's archive. Loading it and
  // stepping on must continue exactly as torch's Adam continues.
  Pair p;
  torch::optim::Adam ref(p.b->parameters(), torch::optim::AdamOptions(1e-2));
  for (int i = 0; i < 3; ++i) {
    ref.zero_grad();
    p.loss(p.b).backward();
    ref.step();
  }
  torch::serialize::OutputArchive out;
  ref.save(out);
  std::ostringstream bytes;
  out.save_to(bytes);
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < p.a->parameters().size(); ++i)
      p.a->parameters()[i].copy_(p.b->parameters()[i]);
  }
  train::OptimizerOptions o;
  o.lr = 1e-2;
  auto flat = train::make_optimizer(o, *p.a);
  torch::serialize::InputArchive in;
  std::istringstream read(bytes.str());
  in.load_from(read);
  flat->load(in);
  EXPECT_EQ(dynamic_cast<train::FlatAdam&>(*flat).steps_taken(), 3);
  for (int i = 0; i < 3; ++i) {
    train::zero_grad(*flat);
    p.loss(p.a).backward();
    flat->step();
    ref.zero_grad();
    p.loss(p.b).backward();
    ref.step();
  }
  EXPECT_LT(max_diff(*p.a, *p.b), 1e-6);
}

}  // namespace
}  // namespace deepgen::testing

namespace deepgen::testing {
namespace {

TEST(FlatAdam, FlatEmaEqualsPerTensorEma) {
  // The EMA sees the parameters as one buffer and averages it in one kernel; it must give what
  // the per-tensor average gives, including the warm-up decay and swapping in and out.
  Pair p;
  auto opt = train::make_optimizer({}, *p.a);  // flattens a's parameters
  train::Ema flat(*p.a, 0.9), plain(*p.b, 0.9);
  for (int step = 0; step < 5; ++step) {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < p.a->parameters().size(); ++i) {
      p.a->parameters()[i].add_(0.1 * (step + 1));
      p.b->parameters()[i].add_(0.1 * (step + 1));
    }
    flat.update(*p.a, step);
    plain.update(*p.b, step);
  }
  for (size_t i = 0; i < flat.shadow().size(); ++i)
    EXPECT_TRUE(torch::equal(flat.shadow()[i], plain.shadow()[i])) << "tensor " << i;
  flat.swap(*p.a);
  plain.swap(*p.b);
  EXPECT_TRUE(torch::equal(flat_parameters(*p.a), flat_parameters(*p.b)));
  flat.swap(*p.a);
  plain.swap(*p.b);
  EXPECT_TRUE(torch::equal(flat_parameters(*p.a), flat_parameters(*p.b)));
}

}  // namespace
}  // namespace deepgen::testing
