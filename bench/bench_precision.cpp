// Mixed precision (core/precision.h): one training step and one sampling batch of each image
// family's default network, fp32 against bf16 autocast, in the same run. bf16 pays only where
// the CPU has native bf16 arithmetic (avx512_bf16 / AMX); the ISA line of the closing table says
// which this machine has. One intra-op thread: the ratio, not the thread scaling, is measured.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <memory>

#include "deepgen/core/precision.h"
#include "deepgen/core/runtime.h"
#include "deepgen/diffusion/model.h"
#include "deepgen/score/model.h"
#include "deepgen/train/optim.h"
#include "deepgen/vi/vae.h"
#include "ratio_reporter.h"

namespace {

const char* const kModels[] = {"vdm U-Net 32,64 x2 patch2 (default), batch 64",
                               "ncsn U-Net (default), batch 64",
                               "vae MLP 784-400-20 (default), batch 128"};

std::unique_ptr<deepgen::train::GenerativeModel> make(int64_t which) {
  torch::manual_seed(0);
  if (which == 0)
    return std::make_unique<deepgen::diffusion::VdmModel>(deepgen::diffusion::VdmOptions());
  if (which == 1)
    return std::make_unique<deepgen::score::ScoreModel>(deepgen::score::ScoreOptions({1, 28, 28}));
  return std::make_unique<deepgen::vi::VaeModel>(deepgen::vi::VaeOptions({1, 28, 28}));
}

void set_precision(benchmark::State& state) {
  deepgen::apply_thread_settings({1, 1});
  const auto p = state.range(0) ? deepgen::Precision::bf16 : deepgen::Precision::fp32;
  deepgen::set_network_precision(p, c10::DeviceType::CPU);
}

void BM_TrainStep(benchmark::State& state) {
  set_precision(state);
  auto model = make(state.range(1));
  auto optimizer = deepgen::train::make_optimizer({}, model->module());
  const at::Tensor x = torch::rand({state.range(1) == 2 ? 128 : 64, 1, 28, 28});
  for (auto _ : state) {
    optimizer->zero_grad();
    auto out = model->loss(x);
    out.loss.backward();
    optimizer->step();
    benchmark::DoNotOptimize(out.loss.item<double>());
  }
  state.counters["steps/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.SetLabel(std::string(state.range(0) ? "bf16, " : "fp32, ") + kModels[state.range(1)]);
  deepgen::set_network_precision(deepgen::Precision::fp32, c10::DeviceType::CPU);
}

BENCHMARK(BM_TrainStep)
    ->ArgsProduct({{0, 1}, {0, 1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(4.0)
    ->UseRealTime();

// 64 VDM samples by DPM-Solver++(2M) at 20 network evaluations, under InferenceMode.
void BM_VdmSample(benchmark::State& state) {
  set_precision(state);
  deepgen::diffusion::VdmOptions o;
  o.sampler = "dpmpp2m";
  o.sample_steps = 20;
  torch::manual_seed(0);
  deepgen::diffusion::VdmModel model(o);
  model.module().eval();
  c10::InferenceMode inference;
  for (auto _ : state) benchmark::DoNotOptimize(model.sample(64).data_ptr<float>());
  state.counters["images/s"] = benchmark::Counter(64.0 * static_cast<double>(state.iterations()),
                                                  benchmark::Counter::kIsRate);
  state.SetLabel(std::string(state.range(0) ? "bf16" : "fp32") + ", dpmpp2m 20 NFE, 64 images");
  deepgen::set_network_precision(deepgen::Precision::fp32, c10::DeviceType::CPU);
}

BENCHMARK(BM_VdmSample)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(4.0)->UseRealTime();

}  // namespace

// The first argument (precision) is swept: the rows of one model or sampler are one group.
int main(int argc, char** argv) {
  return deepgen::bench::run_with_ratios(argc, argv,
                                         std::vector<std::string>{"steps/s", "images/s"},
                                         /*swept=*/1);
}
