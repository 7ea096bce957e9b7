// MATH 3.2b: the cost of explicit score matching against a kernel density (ESM-KDE) grows with
// the data set (O(M·D) per example: every reference point enters each target), while denoising
// score matching (DSM) costs O(1) in M. One training step (batch 128, the same MLP score net
// for both) for M in {1k, 10k, 50k} reference points of dimension D in {2, 784}; plus the KDE
// score alone with its effective sample size (the second weakness: in high dimension the
// softmax puts all weight on the nearest point, so the "density" is a nearest-neighbour
// lookup), one Langevin step, and one NCSN step of the image model. Ratios compare rows of the same
// (M, D) / (D) in this run.
#include <benchmark/benchmark.h>

#include "deepgen/core/runtime.h"
#include "deepgen/score/kde.h"
#include "deepgen/score/langevin.h"
#include "deepgen/score/model.h"
#include "deepgen/score/targets.h"
#include "ratio_reporter.h"

namespace {

constexpr int64_t kBatch = 128;

// One intra-op and one BLAS thread: the comparison is between methods and sizes, and a single
// thread keeps it stable on a shared machine (two OpenMP threads on one free core spin-wait).
void single_thread() { deepgen::apply_thread_settings({1, 1}); }

at::Tensor reference_set(int64_t m, int64_t d) {
  torch::manual_seed(0);
  return d == 2 ? torch::randn({m, d}) : torch::rand({m, d});  // points; stand-in for images
}

void rate(benchmark::State& state) {
  state.counters["steps/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// One optimiser step of the model's own loss: what a training step costs.
void train_step(deepgen::score::ScoreModel& model, torch::optim::Adam& optimizer,
                const at::Tensor& x) {
  optimizer.zero_grad();
  auto out = model.loss(x);
  out.loss.backward();
  optimizer.step();
  benchmark::DoNotOptimize(out.loss.item<double>());
}

// Args: method (0 esm-kde, 1 dsm), M, D.
void BM_ScoreTrainStep(benchmark::State& state) {
  single_thread();
  const std::string method = state.range(0) == 0 ? "esm-kde" : "dsm";
  const int64_t m = state.range(1), d = state.range(2);
  const at::Tensor data = reference_set(m, d);
  deepgen::score::ScoreModel model(
      deepgen::score::ScoreOptions({d}).method(method).sigma(0.1).hidden({128, 128}));
  if (method == "esm-kde") model.set_kde_data(data);
  torch::optim::Adam optimizer(model.module().parameters(), 1e-3);
  for (auto _ : state) {
    const at::Tensor x = data.index_select(0, torch::randint(m, {kBatch}, at::kLong));
    train_step(model, optimizer, x);
  }
  rate(state);
  state.SetLabel(method + ", 1 thread");
}

BENCHMARK(BM_ScoreTrainStep)
    ->ArgsProduct({{0, 1}, {1000, 10000, 50000}, {2, 784}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(1.0)
    ->UseRealTime();

// Mean over queries of 1/Σ w_i² for the KDE's softmax weights: the number of reference points
// that effectively contribute to a query's score target.
double effective_sample_size(const at::Tensor& x, const at::Tensor& data, double sigma) {
  const at::Tensor w = (torch::cdist(x, data).pow(2) / (-2 * sigma * sigma)).softmax(1);
  return (1 / w.pow(2).sum(1)).mean().item<double>();
}

// Args: M, D. kde_score of one batch of noised queries x = x0 + σz.
void BM_KdeScore(benchmark::State& state) {
  single_thread();
  const int64_t m = state.range(0), d = state.range(1);
  const double sigma = 0.1;
  const at::Tensor data = reference_set(m, d);
  const at::Tensor x = data.slice(0, 0, kBatch) + sigma * torch::randn({kBatch, d});
  for (auto _ : state) benchmark::DoNotOptimize(deepgen::score::kde_score(x, data, sigma));
  rate(state);
  state.counters["ess"] = effective_sample_size(x, data, sigma);
  state.SetLabel("sigma 0.1, batch 128, 1 thread");
}

BENCHMARK(BM_KdeScore)
    ->ArgsProduct({{1000, 10000, 50000}, {2, 784}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(1.0)
    ->UseRealTime();

// Args: chains n, score (0 analytic ncsn-gmm mixture, 1 the ncsn MLP). One Langevin step on 2-D.
void BM_LangevinStep(benchmark::State& state) {
  single_thread();
  const int64_t n = state.range(0);
  const deepgen::score::GaussianMixture gmm = deepgen::score::ncsn_gmm().to(at::kFloat);
  deepgen::score::ScoreModel model(deepgen::score::ScoreOptions({2}));
  const at::Tensor sigma = torch::full({n}, 1.0);
  const deepgen::score::ScoreFn analytic = [&](const at::Tensor& x) { return gmm.score(x); };
  const deepgen::score::ScoreFn net = [&](const at::Tensor& x) { return model.score(x, sigma); };
  const auto& score = state.range(1) == 0 ? analytic : net;
  torch::NoGradGuard no_grad;
  at::Tensor x = torch::randn({n, 2});
  for (auto _ : state) {
    x = deepgen::score::langevin_step(x, score, 1e-3);
    benchmark::DoNotOptimize(x.data_ptr<float>());
  }
  rate(state);
  state.SetLabel(state.range(1) == 0 ? "exact mixture score" : "MLP 128x128");
}

BENCHMARK(BM_LangevinStep)
    ->ArgsProduct({{1000, 10000}, {0, 1}})
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(0.5)
    ->UseRealTime();

// One NCSN training step of the default image model (U-Net 16/32 channels) on 28×28, batch 128.
void BM_NcsnImageStep(benchmark::State& state) {
  single_thread();
  deepgen::score::ScoreModel model(deepgen::score::ScoreOptions({1, 28, 28}));
  torch::optim::Adam optimizer(model.module().parameters(), 1e-3);
  const at::Tensor x = torch::rand({kBatch, 1, 28, 28});
  for (auto _ : state) {
    train_step(model, optimizer, x);
  }
  rate(state);
  state.SetLabel("U-Net 16,32, batch 128, 1 thread");
}

BENCHMARK(BM_NcsnImageStep)->Unit(benchmark::kMillisecond)->MinTime(3.0)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  return deepgen::bench::run_with_ratios(argc, argv, "steps/s", /*swept=*/1);
}
