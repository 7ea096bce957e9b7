// Sampling and evaluation throughput of the image models: images/s of each sampler at the
// evaluations it is used with (docs/results.md: the quality ladder's rows), and test images/s of
// the VDM's bound, under InferenceMode as `deepgen sample` and `eval` run them. The default
// networks (untrained: the cost does not depend on the weights), 64 images, one intra-op thread,
// at --precision auto's choice on this CPU (printed in the label).
#include <benchmark/benchmark.h>
#include <c10/core/InferenceMode.h>
#include <torch/torch.h>

#include <string>

#include "deepgen/core/precision.h"
#include "deepgen/core/runtime.h"
#include "deepgen/diffusion/model.h"
#include "deepgen/diffusion/sampler.h"
#include "deepgen/score/model.h"
#include "ratio_reporter.h"

namespace dd = deepgen::diffusion;
namespace ds = deepgen::score;

namespace {

constexpr int64_t kImages = 64;

struct Solver {
  const char* name;
  int64_t steps;
};

// Row 0, the baseline, is the ancestral sampler at the quality ladder's 50 steps.
const Solver kVdmSolvers[] = {{"ancestral", 50},   {"ddim", 50},       {"dpmpp2m", 20},
                              {"dpmpp2m-sde", 20}, {"dpm2", 10},       {"dpm3", 16},
                              {"heun", 10},        {"ancestral", 1000}};

// Sets one thread and the precision auto resolves to for a model; returns its name.
std::string set_auto_precision(bool network_gains) {
  deepgen::apply_thread_settings({1, 1});
  const c10::Device cpu(c10::kCPU);
  const auto choice =
      deepgen::resolve_precision("auto", cpu, deepgen::detect_bf16_support(), network_gains);
  deepgen::set_network_precision(choice.precision, cpu.type());
  return deepgen::precision_name(choice.precision);
}

void images_rate(benchmark::State& state, int64_t per_iteration) {
  state.counters["images/s"] = benchmark::Counter(
      static_cast<double>(per_iteration * state.iterations()), benchmark::Counter::kIsRate);
}

void BM_VdmSample(benchmark::State& state) {
  const Solver& s = kVdmSolvers[state.range(0)];
  torch::manual_seed(0);
  dd::VdmModel model{dd::VdmOptions{}};
  const std::string precision = set_auto_precision(model.gains_from_bf16());
  model.module().eval();
  c10::InferenceMode inference;
  for (auto _ : state)
    benchmark::DoNotOptimize(model.vdm()->sample(kImages, s.name, s.steps).data_ptr<float>());
  images_rate(state, kImages);
  state.SetLabel(std::string("vdm ") + s.name + " " + std::to_string(s.steps) + " steps, " +
                 std::to_string(dd::sampler_nfe(s.name, s.steps)) + " NFE, " + precision);
  deepgen::set_network_precision(deepgen::Precision::fp32, c10::DeviceType::CPU);
}

BENCHMARK(BM_VdmSample)
    ->DenseRange(0, static_cast<int64_t>(std::size(kVdmSolvers)) - 1)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0)
    ->UseRealTime();

struct ScoreSampler {
  const char* name;
  int64_t sigma_steps, corrector_steps;
};

// The ladder's 99-evaluation settings (49 steps; pc adds one corrector step per level, heun
// spends two evaluations a step), and annealed Langevin over 10 levels x 10 steps.
const ScoreSampler kScoreSamplers[] = {{"annealed", 0, 0}, {"pc", 49, 1}, {"ode", 49, 0}};

void BM_NcsnSample(benchmark::State& state) {
  const ScoreSampler& s = kScoreSamplers[state.range(0)];
  ds::ScoreOptions o({1, 28, 28});
  o.sigma_begin(15.77).sigma_end(0.01).num_sigmas(10).steps_per_level(10).sample_eps(2e-5);
  o.sampler(s.name).sigma_steps(s.sigma_steps > 0 ? s.sigma_steps : 100);
  o.corrector_steps(s.corrector_steps);
  torch::manual_seed(0);
  ds::ScoreModel model(o);
  const std::string precision = set_auto_precision(model.gains_from_bf16());
  model.module().eval();
  c10::InferenceMode inference;
  for (auto _ : state) benchmark::DoNotOptimize(model.sample(kImages).data_ptr<float>());
  images_rate(state, kImages);
  const std::string grid = s.sigma_steps > 0 ? std::to_string(s.sigma_steps) + " sigma steps"
                                             : std::string("10 levels x 10 Langevin steps");
  state.SetLabel(std::string("ncsn ") + s.name + ", " + grid + ", " + precision);
  deepgen::set_network_precision(deepgen::Precision::fp32, c10::DeviceType::CPU);
}

BENCHMARK(BM_NcsnSample)
    ->DenseRange(0, 2)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0)
    ->UseRealTime();

// The VDM's test bound (diffusion + reconstruction + prior, one (t, ε) draw) on a batch of 64.
void BM_VdmEvaluate(benchmark::State& state) {
  torch::manual_seed(0);
  dd::VdmModel model{dd::VdmOptions{}};
  const std::string precision = set_auto_precision(model.gains_from_bf16());
  model.module().eval();
  const at::Tensor x = torch::rand({kImages, 1, 28, 28});
  c10::InferenceMode inference;
  for (auto _ : state) benchmark::DoNotOptimize(model.evaluate(x).loss.item<double>());
  images_rate(state, kImages);
  state.SetLabel("vdm bound, 1 draw, " + precision);
  deepgen::set_network_precision(deepgen::Precision::fp32, c10::DeviceType::CPU);
}

BENCHMARK(BM_VdmEvaluate)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();

}  // namespace

// The first argument (the sampler) is swept: each function's rows are one group, against its
// first row.
int main(int argc, char** argv) {
  return deepgen::bench::run_with_ratios(argc, argv, "images/s", /*swept=*/1);
}
