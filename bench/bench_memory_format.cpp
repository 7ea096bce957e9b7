// Channels-last against NCHW activations for the image U-Nets: one training step (forward,
// backward, the trainer's Adam) in float32 and under bf16 autocast, in the same run. The rule
// (core::network_memory_format: channels-last for bf16 on a CPU with AMX) is overridden here to
// run both layouts on this machine; the first convolution's input layout is all it takes, as
// oneDNN runs a convolution channels-last when its input is and the fused GroupNorm → SiLU keeps
// the layout. One intra-op thread: the ratio is measured, not the thread scaling.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <memory>

#include "deepgen/core/precision.h"
#include "deepgen/core/runtime.h"
#include "deepgen/diffusion/model.h"
#include "deepgen/score/model.h"
#include "deepgen/train/optim.h"
#include "ratio_reporter.h"

namespace {

const char* const kModels[] = {"vdm U-Net 32,64 x2 patch2 (default)", "ncsn U-Net (default)"};

std::unique_ptr<deepgen::train::GenerativeModel> make(int64_t which) {
  torch::manual_seed(0);
  if (which == 0)
    return std::make_unique<deepgen::diffusion::VdmModel>(deepgen::diffusion::VdmOptions());
  return std::make_unique<deepgen::score::ScoreModel>(deepgen::score::ScoreOptions({1, 28, 28}));
}

// Arguments: channels-last (0/1, swept), bf16 (0/1), model.
void BM_TrainStep(benchmark::State& state) {
  deepgen::apply_thread_settings({1, 1});
  const bool channels_last = state.range(0) != 0, bf16 = state.range(1) != 0;
  deepgen::set_network_precision(bf16 ? deepgen::Precision::bf16 : deepgen::Precision::fp32,
                                 c10::DeviceType::CPU);
  deepgen::force_network_memory_format(channels_last ? at::MemoryFormat::ChannelsLast
                                                     : at::MemoryFormat::Contiguous);
  auto model = make(state.range(2));
  const at::Tensor x = torch::rand({64, 1, 28, 28});
  auto optimizer = deepgen::train::make_optimizer({}, model->module());
  for (auto _ : state) {
    optimizer->zero_grad();
    auto out = model->loss(x);
    out.loss.backward();
    optimizer->step();
    benchmark::DoNotOptimize(out.loss.item<double>());
  }
  state.counters["steps/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.SetLabel(std::string(channels_last ? "channels-last" : "NCHW") + ", " +
                 (bf16 ? "bf16, " : "fp32, ") + kModels[state.range(2)] + ", batch 64");
  deepgen::set_network_precision(deepgen::Precision::fp32, c10::DeviceType::CPU);
  deepgen::force_network_memory_format(c10::nullopt);
}

BENCHMARK(BM_TrainStep)
    ->ArgsProduct({{0, 1}, {0, 1}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(4.0)
    ->UseRealTime();

}  // namespace

// The first argument (memory format) is swept: each precision and model is one group.
int main(int argc, char** argv) {
  return deepgen::bench::run_with_ratios(argc, argv, "steps/s", /*swept=*/1);
}
