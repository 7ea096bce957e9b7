// Micro-benchmarks of the library's inner loops, each through the real function: one VDM sampler
// step (its own arithmetic apart from the ε-network), one Langevin step and one annealed level,
// the KDE score, and the chunked IWAE bound. Every row reports items/s (samples, points, queries
// or importance samples per second) and a ratio against the first row of its group in this run
// (the first argument is the one swept; the rest name the group). One intra-op thread by
// default, for numbers that hold still on a shared machine; --threads=N (first flag) overrides.
#include <ATen/autocast_mode.h>
#include <benchmark/benchmark.h>
#include <c10/core/InferenceMode.h>
#include <torch/torch.h>

#include <algorithm>
#include <string>

#include "deepgen/core/runtime.h"
#include "deepgen/diffusion/model.h"
#include "deepgen/diffusion/sampler.h"
#include "deepgen/nn/fused.h"
#include "deepgen/score/kde.h"
#include "deepgen/score/langevin.h"
#include "deepgen/score/targets.h"
#include "deepgen/vi/bounds.h"
#include "deepgen/vi/vae.h"
#include "ratio_reporter.h"

namespace dd = deepgen::diffusion;
namespace ds = deepgen::score;
namespace dv = deepgen::vi;

namespace {

int g_threads = 1;  // --threads=N; the rows compare sizes, not thread counts

void set_threads() { deepgen::apply_threads(g_threads); }

std::string threads_label() { return std::to_string(at::get_num_threads()) + " thread(s)"; }

// items/s: `per_iteration` items each time the loop body ran.
void items_rate(benchmark::State& state, double per_iteration) {
  state.counters["items/s"] = benchmark::Counter(
      per_iteration * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// ---- 1a. VDM sampler steps ----------------------------------------------------------------------

constexpr int64_t kVdmBatch = 64;

enum VdmRow { kNetForward, kAncestralNet, kAncestralTrivial, kDdimNet, kDdimTrivial };

const char* vdm_label(int64_t row) {
  switch (row) {
    case kNetForward:
      return "eps-net forward alone (default U-Net 32,64 patch 2)";
    case kAncestralNet:
      return "ancestral: eps-net + noise + step";
    case kAncestralTrivial:
      return "ancestral: trivial eps + noise + step";
    case kDdimNet:
      return "ddim: eps-net + step";
    default:
      return "ddim: trivial eps + step";
  }
}

// One iteration of sample_loop's body (src/diffusion/sampler.cpp), noise drawn the same way.
at::Tensor vdm_step(int64_t row, const dd::EpsFn& eps, const at::Tensor& z, const at::Tensor& g_t,
                    const at::Tensor& g_s, at::Generator& gen) {
  if (row == kNetForward) return eps(z, g_t);
  const at::Tensor eps_hat = eps(z, g_t);
  if (row == kDdimNet || row == kDdimTrivial) return dd::ddim_step(z, eps_hat, g_t, g_s);
  const at::Tensor noise = at::randn(z.sizes(), gen, z.scalar_type());
  return dd::ancestral_step(z, eps_hat, g_t, g_s, noise);
}

// The untrained net predicts ε̂ = z_t (net.h), so ε̂ = z is a faithful stand-in that costs nothing.
dd::EpsFn make_eps(bool net, dd::Vdm& vdm) {
  if (!net) return [](const at::Tensor& z, const at::Tensor&) { return z; };
  return [&vdm](const at::Tensor& z, const at::Tensor& g) { return vdm->eps(z, g); };
}

// Arg: row (VdmRow). The baseline is the ε-network alone, so a trivial-ε̂ row's ratio is how many
// of its steps cost one network call. Under InferenceMode, as `deepgen sample` runs sampling.
void BM_VdmStep(benchmark::State& state) {
  set_threads();
  const int64_t row = state.range(0);
  torch::manual_seed(0);
  dd::VdmModel model{dd::VdmOptions{}};
  model.module().eval();
  c10::InferenceMode guard;
  dd::Vdm& vdm = model.vdm();
  // A mid-trajectory step of the default 1000-step grid: t = 0.5 -> 0.499.
  const at::Tensor g = vdm->schedule()->gamma(torch::tensor({0.5, 0.499}, torch::kFloat));
  const at::Tensor g_t = g[0].expand({kVdmBatch}), g_s = g[1].expand({kVdmBatch});
  const bool net = row == kNetForward || row == kAncestralNet || row == kDdimNet;
  const dd::EpsFn eps = make_eps(net, vdm);
  const at::Tensor z = torch::randn({kVdmBatch, 1, 28, 28});
  auto gen = at::detail::getDefaultCPUGenerator();
  for (auto _ : state) benchmark::DoNotOptimize(vdm_step(row, eps, z, g_t, g_s, gen));
  items_rate(state, kVdmBatch);
  state.SetLabel(std::string(vdm_label(row)) + ", batch 64, " + threads_label());
}

BENCHMARK(BM_VdmStep)
    ->DenseRange(kNetForward, kDdimTrivial)
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(0.5)
    ->UseRealTime();

// ---- 1b. Langevin on 2-D points -----------------------------------------------------------------

// Spread over both modes (±5) of the NCSN mixture; float64, the dtype `deepgen langevin` samples
// analytic targets in.
at::Tensor start_points(int64_t n) {
  torch::manual_seed(0);
  return torch::randn({n, 2}, torch::kDouble) * 5;
}

// guard 0: no guard, as `deepgen langevin` calls the sampler; 1: InferenceMode, to show what
// the dispatcher's autograd bookkeeping costs on these small tensors.
std::string guard_label(int64_t guard) { return guard ? "InferenceMode" : "grad mode (as CLI)"; }

// Args: points n, guard. x' = x + δ·s(x) + √(2δ)ε with the exact score of the NCSN toy mixture.
void BM_LangevinStep(benchmark::State& state) {
  set_threads();
  const int64_t n = state.range(0);
  const ds::GaussianMixture gmm = ds::ncsn_gmm();
  const ds::ScoreFn score = [&](const at::Tensor& x) { return gmm.score(x); };
  c10::optional<c10::InferenceMode> guard;
  if (state.range(1)) guard.emplace();
  at::Tensor x = start_points(n);
  for (auto _ : state) {
    x = ds::langevin_step(x, score, 1e-2);
    benchmark::DoNotOptimize(x.data_ptr<double>());
  }
  items_rate(state, static_cast<double>(n));
  state.SetLabel("points/s, ncsn-gmm exact score, " + guard_label(state.range(1)) + ", " +
                 threads_label());
}

constexpr int64_t kStepsPerLevel = 100;  // ScoreOptions::steps_per_level's default

// Args: points n, guard. One level of annealed Langevin: a one-σ ladder, no final denoise, the
// exact noised score s(x, σ) of the mixture convolved with N(0, σ²I).
void BM_AnnealedLevel(benchmark::State& state) {
  set_threads();
  const int64_t n = state.range(0);
  const ds::GaussianMixture gmm = ds::ncsn_gmm();
  const ds::NoiseScoreFn score = [&](const at::Tensor& x, const at::Tensor& sigma) {
    return gmm.score(x, sigma);
  };
  c10::optional<c10::InferenceMode> guard;
  if (state.range(1)) guard.emplace();
  at::Tensor x = start_points(n);
  for (auto _ : state) {
    x = ds::annealed_langevin(x, score, {1.0}, kStepsPerLevel, 1e-2, c10::nullopt, false);
    benchmark::DoNotOptimize(x.data_ptr<double>());
  }
  items_rate(state, static_cast<double>(n * kStepsPerLevel));
  state.SetLabel("point-steps/s, 100 steps at sigma 1, " + guard_label(state.range(1)) + ", " +
                 threads_label());
}

BENCHMARK(BM_LangevinStep)
    ->ArgsProduct({{1000, 10000, 100000}, {0, 1}})
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(0.5)
    ->UseRealTime();
BENCHMARK(BM_AnnealedLevel)
    ->ArgsProduct({{1000, 10000, 100000}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.5)
    ->UseRealTime();

// ---- 2. KDE score -------------------------------------------------------------------------------

constexpr int64_t kQueries = 128;

// Args: kernel points M, dimension D. Ratios within one D show the O(M) cost per query.
// NoGradGuard, as the ESM-KDE loss computes its target (src/score/losses.cpp).
void BM_KdeScore(benchmark::State& state) {
  set_threads();
  const int64_t m = state.range(0), d = state.range(1);
  torch::manual_seed(0);
  // Points in 2-D; uniform [0, 1] pixels stand in for images in 784-D.
  const at::Tensor data = d == 2 ? torch::randn({m, d}) : torch::rand({m, d});
  const at::Tensor x = data.slice(0, 0, kQueries) + 0.1 * torch::randn({kQueries, d});
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(ds::kde_score(x, data, 0.1));
  items_rate(state, kQueries);
  state.counters["pairs/s"] = benchmark::Counter(
      static_cast<double>(kQueries * m * state.iterations()), benchmark::Counter::kIsRate);
  state.SetLabel("queries/s, batch 128, sigma 0.1, float32, " + threads_label());
}

BENCHMARK(BM_KdeScore)
    ->ArgsProduct({{1000, 10000, 50000}, {2, 784}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.5)
    ->UseRealTime();

// ---- 3. IWAE bound ------------------------------------------------------------------------------

constexpr int64_t kIwaeBatch = 16;

// Args: K, decoder rows held at once (VaeEvalOptions::iwae_rows). The chunk is VaeModel::evaluate's
// rule, max(1, rows / B): 50000 rows (the default until it was measured here) puts K <= 3125 in
// one chunk; the default 2048 rows gives chunk 128, whose temporaries stay in cache. The encoder
// runs once per iteration, as in evaluate; NoGradGuard, as train::evaluate runs evaluation.
void BM_IwaeBound(benchmark::State& state) {
  set_threads();
  const int64_t k = state.range(0), rows = state.range(1);
  const int64_t chunk = std::max<int64_t>(1, rows / kIwaeBatch);
  torch::manual_seed(0);
  dv::VaeModel model{dv::VaeOptions({1, 28, 28})};
  model.module().eval();
  dv::Vae& vae = model.vae();
  const at::Tensor x = torch::rand({kIwaeBatch, 1, 28, 28});
  torch::NoGradGuard no_grad;
  for (auto _ : state) {
    auto [mu, logvar] = vae->encode(x);
    auto weights = [&](int64_t n) { return vae->log_weights(x, mu, logvar, n); };
    benchmark::DoNotOptimize(dv::iwae_bound(weights, k, chunk).mean().item<float>());
  }
  items_rate(state, static_cast<double>(k * kIwaeBatch));
  state.SetLabel("importance samples/s, default VAE 784-400-20 gaussian, batch 16, chunk " +
                 std::to_string(chunk) + ", " + threads_label());
}

BENCHMARK(BM_IwaeBound)
    ->ArgsProduct({{100, 1000}, {50000, 2048}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.5)
    ->UseRealTime();

// ---- 4. GroupNorm → SiLU, fused and not ---------------------------------------------------------

// Args: 0 the two ATen operators (the reference) / 1 nn::group_norm_silu; 0 float32 / 1 under
// bf16 autocast (x arrives as bfloat16, the output goes to a convolution); 0 forward under
// InferenceMode (sampling) / 1 forward and backward (training). The shape is the VDM U-Net's
// widest block: batch 64, 64 channels in 8 groups, 14×14.
void BM_GroupNormSilu(benchmark::State& state) {
  set_threads();
  const bool fused = state.range(0) == 1, bf16 = state.range(1) == 1, train = state.range(2) == 1;
  torch::manual_seed(0);
  auto x = torch::randn({64, 64, 14, 14}).mul_(3).add_(1);
  if (bf16) x = x.to(at::kBFloat16);
  auto w = torch::rand({64}).add_(0.5).requires_grad_(train);
  auto b = torch::randn({64}).requires_grad_(train);
  x.requires_grad_(train);
  auto run = [&] {
    const bool was = at::autocast::is_cpu_enabled();
    at::autocast::set_cpu_enabled(bf16);
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    auto y = fused ? deepgen::nn::group_norm_silu(x, 8, w, b)
                   : deepgen::nn::group_norm_silu_reference(x, 8, w, b)
                         .to(bf16 ? at::kBFloat16 : at::kFloat);
    at::autocast::set_cpu_enabled(was);
    if (train) y.backward(torch::ones_like(y));
    return y;
  };
  for (auto _ : state) {
    if (train) {
      benchmark::DoNotOptimize(run());
    } else {
      c10::InferenceMode guard;
      benchmark::DoNotOptimize(run());
    }
  }
  items_rate(state, static_cast<double>(x.numel()));
  state.SetLabel(std::string(fused ? "fused" : "aten group_norm + silu") + ", " +
                 (bf16 ? "bf16 in/out" : "fp32") + ", " +
                 (train ? "forward + backward" : "forward, InferenceMode") + ", " +
                 threads_label());
}

BENCHMARK(BM_GroupNormSilu)
    ->ArgsProduct({{0, 1}, {0, 1}, {0, 1}})
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(0.5)
    ->UseRealTime();

// Takes --threads=N off the front of argv before Google Benchmark sees the flags.
void take_threads_flag(int& argc, char**& argv) {
  const std::string prefix = "--threads=";
  if (argc < 2 || std::string(argv[1]).rfind(prefix, 0) != 0) return;
  g_threads = std::stoi(std::string(argv[1]).substr(prefix.size()));
  argv[1] = argv[0];
  ++argv;
  --argc;
}

}  // namespace

int main(int argc, char** argv) {
  take_threads_flag(argc, argv);
  return deepgen::bench::run_with_ratios(argc, argv, "items/s", /*swept=*/1);
}
