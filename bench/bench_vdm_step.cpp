// VDM training step on MNIST-shaped batches: the paper's full-resolution net (the design the
// public PyTorch port runs at 3.2 s/step on 2 cores) against the CPU U-Net variants. Speed per
// step is what decides the likelihood a CPU user reaches in a fixed time.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "deepgen/core/runtime.h"
#include "deepgen/diffusion/model.h"
#include "ratio_reporter.h"

namespace dd = deepgen::diffusion;

namespace {

struct Net {
  const char* label;
  std::vector<int64_t> channels;
  int64_t blocks, patch;
};

// Row 0 is the baseline: one level (no down-sampling) of 32 channels × 8 blocks, the addtt
// port's MNIST configuration.
const std::vector<Net> kNets = {
    {"paper net: 1 level 32ch x 8 blocks", {32}, 8, 1}, {"unet 32,64,64 x1", {32, 64, 64}, 1, 1},
    {"unet 32,64 x2 patch2", {32, 64}, 2, 2},           {"unet 64,128 x2 patch2", {64, 128}, 2, 2},
    {"unet 64,128 x1 patch2", {64, 128}, 1, 2},
};

dd::VdmOptions options_for(const Net& n) {
  dd::VdmOptions o;
  o.net.channels = n.channels;
  o.net.blocks = n.blocks;
  o.net.patch = n.patch;
  return o;
}

int g_threads = 0;  // --threads=N before the benchmark flags; 0: the measured default

void BM_VdmTrainStep(benchmark::State& state) {
  deepgen::apply_threads(g_threads);
  const Net& net = kNets.at(static_cast<size_t>(state.range(0)));
  const int64_t batch = state.range(1);
  torch::manual_seed(0);
  dd::VdmModel model(options_for(net));
  torch::optim::Adam opt(model.module().parameters(), torch::optim::AdamOptions(2e-4));
  auto x = torch::rand({batch, 1, 28, 28});
  int64_t params = 0;
  for (const auto& p : model.module().parameters()) params += p.numel();
  for (auto _ : state) {
    opt.zero_grad();
    model.loss(x).loss.backward();
    opt.step();
  }
  state.counters["steps_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.SetLabel(std::string(net.label) + ", " + std::to_string(params) + " params");
}
BENCHMARK(BM_VdmTrainStep)
    ->ArgsProduct({{0, 1, 2, 3, 4}, {64}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(3.0)
    ->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]).rfind("--threads=", 0) == 0) {
    g_threads = std::stoi(std::string(argv[1]).substr(10));
    argv[1] = argv[0];
    ++argv;
    --argc;
  }
  benchmark::Initialize(&argc, argv);
  deepgen::bench::RatioReporter reporter("steps_per_s", 1);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  return 0;
}
