// Training steps/s of the pytorch/examples-size VAE (784-400-20, batch 128) through the real
// trainer pieces (gather, loss, backward, Adam), across (intra-op threads, OpenBLAS threads).
// Compare rows of one run: the machine is noisy across runs.
#include <benchmark/benchmark.h>

#include "deepgen/core/runtime.h"
#include "deepgen/data/loader.h"
#include "deepgen/train/optim.h"
#include "deepgen/vi/vae.h"
#include "ratio_reporter.h"

namespace {

void BM_VaeTrainStep(benchmark::State& state) {
  deepgen::ThreadSettings threads;
  threads.intra_op = static_cast<int>(state.range(0));
  threads.blas = static_cast<int>(state.range(1));
  const std::string likelihood = state.range(2) ? "bernoulli" : "gaussian";
  deepgen::apply_thread_settings(threads);
  torch::manual_seed(0);
  deepgen::data::Dataset data;
  data.kind = deepgen::data::Kind::image;
  data.x = torch::rand({4096, 1, 28, 28});
  deepgen::vi::VaeModel model(deepgen::vi::VaeOptions({1, 28, 28}).likelihood(likelihood));
  auto optimizer = deepgen::train::make_optimizer({}, model.module());
  deepgen::data::BatchSampler sampler(data.size(), 128, 0);
  int64_t step = 0;
  for (auto _ : state) {
    at::Tensor x = deepgen::data::gather(data, sampler.indices(step++), c10::Device(c10::kCPU));
    optimizer->zero_grad();
    auto out = model.loss(x);
    out.loss.backward();
    optimizer->step();
    benchmark::DoNotOptimize(out.loss.item<double>());
  }
  state.counters["steps/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.SetLabel(likelihood + ", intra-op threads " + std::to_string(at::get_num_threads()) +
                 ", blas threads " + std::to_string(deepgen::blas_threads()));
}

BENCHMARK(BM_VaeTrainStep)
    ->ArgsProduct({{1, 2}, {1, 2}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0)
    ->UseRealTime();

// A convolutional step (the shape of the image families' networks) under the same settings, to
// check that one thread default serves both GEMM-bound and convolution-bound models.
void BM_ConvTrainStep(benchmark::State& state) {
  deepgen::ThreadSettings threads;
  threads.intra_op = static_cast<int>(state.range(0));
  threads.blas = static_cast<int>(state.range(1));
  deepgen::apply_thread_settings(threads);
  torch::manual_seed(0);
  torch::nn::Sequential net(
      torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 32, 3).padding(1)), torch::nn::SiLU(),
      torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 32, 3).padding(1)), torch::nn::SiLU(),
      torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 1, 3).padding(1)));
  torch::optim::Adam optimizer(net->parameters(), 1e-3);
  at::Tensor x = torch::rand({64, 1, 28, 28});
  for (auto _ : state) {
    optimizer.zero_grad();
    at::Tensor loss = (net->forward(x) - x).pow(2).mean();
    loss.backward();
    optimizer.step();
    benchmark::DoNotOptimize(loss.item<double>());
  }
  state.counters["steps/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.SetLabel("intra-op threads " + std::to_string(at::get_num_threads()) + ", blas threads " +
                 std::to_string(deepgen::blas_threads()));
}

BENCHMARK(BM_ConvTrainStep)
    ->ArgsProduct({{1, 2}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0)
    ->UseRealTime();

}  // namespace

// Ratios are against (1 intra-op, 1 BLAS) thread of the same model in this run.
int main(int argc, char** argv) {
  return deepgen::bench::run_with_ratios(argc, argv, "steps/s", /*swept=*/2);
}
