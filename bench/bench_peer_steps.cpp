// Training steps/s of deepgen models, to set beside the Python PyTorch peers that build the same
// models (bench/peers/step_peers.py; bench/peers/compare_steps.sh runs both and checks they agree).
//
//   bench_peer_steps --model vae|vae2d|score2d|vdm_unet [--threads T] [--blas-threads B]
//                    [--batch N] [--seconds S] [--warmup N] [--flops-per-step F] [--gemm]
//   bench_peer_steps --model M --dump DIR   # weights, a batch, loss and gradients for --check
//   bench_peer_steps --model M --profile FILE  # after warm-up, 20 steps under LibTorch's
//                                              # profiler: a chrome://tracing JSON of every op
//
// A step is the trainer's (src/train/trainer.cpp): BatchSampler indices, data::gather, zero_grad,
// train_loss, loss.item(), backward, optimiser step, after_step, running sums of the parts.
// Prints one JSON line. vdm_unet (or --gemm) also times at::mm, the rate the U-Net's convolutions
// could at best reach, and sets flops_per_step (the peer's profiler count) x steps/s against it.
#include <sys/resource.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/optim/adam.h>
#include <torch/version.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>

#include "deepgen/core/error.h"
#include "deepgen/core/runtime.h"
#include "deepgen/data/loader.h"
#include "deepgen/diffusion/model.h"
#include "deepgen/io/files.h"
#include "deepgen/io/safetensors.h"
#include "deepgen/score/model.h"
#include "deepgen/train/checkpoint.h"
#include "deepgen/train/optim.h"
#include "deepgen/vi/vae.h"

namespace {

using Clock = std::chrono::steady_clock;
using deepgen::train::GenerativeModel;

constexpr uint64_t kNoiseSeed = 1234;  // --dump: the loss's noise, drawn again by the peer

struct Args {
  std::string model, dump, profile;
  int threads = 0, blas_threads = 0;  // 0: deepgen's defaults (all cores, OpenBLAS pinned to 1)
  int64_t batch = 0, warmup = 5;
  double seconds = 5, flops_per_step = 0;
  bool gemm = false;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "bench_peer_steps: %s\nusage: bench_peer_steps --model vae|vae2d|score2d|vdm_unet "
               "[--threads T] [--blas-threads B] [--batch N] [--seconds S] [--warmup N] "
               "[--flops-per-step F] [--gemm] [--dump DIR] [--profile FILE]\n",
               why.c_str());
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  using Set = std::function<void(const std::string&)>;
  const std::map<std::string, Set> set{
      {"--model", [&](const std::string& v) { a.model = v; }},
      {"--dump", [&](const std::string& v) { a.dump = v; }},
      {"--profile", [&](const std::string& v) { a.profile = v; }},
      {"--threads", [&](const std::string& v) { a.threads = std::stoi(v); }},
      {"--blas-threads", [&](const std::string& v) { a.blas_threads = std::stoi(v); }},
      {"--batch", [&](const std::string& v) { a.batch = std::stoll(v); }},
      {"--warmup", [&](const std::string& v) { a.warmup = std::stoll(v); }},
      {"--seconds", [&](const std::string& v) { a.seconds = std::stod(v); }},
      {"--flops-per-step", [&](const std::string& v) { a.flops_per_step = std::stod(v); }}};
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--gemm") {
      a.gemm = true;
      continue;
    }
    auto it = set.find(flag);
    if (it == set.end()) usage("unknown option " + flag);
    if (i + 1 >= argc) usage(flag + " needs a value");
    try {
      it->second(argv[++i]);
    } catch (const std::exception&) {
      usage(flag + " takes a number, got '" + argv[i] + "'");
    }
  }
  if (a.model.empty()) usage("--model is required");
  return a;
}

struct Setup {
  std::unique_ptr<GenerativeModel> model;
  deepgen::data::Dataset data;
  int64_t batch = 0;
};

// Data first, then the model, from seed 0: step_peers.py makes the same torch calls, so both
// sides hold bit-identical data (the weights differ until --dump / --check copies ours over).
Setup make(const std::string& name) {
  namespace dd = deepgen::data;
  Setup s;
  torch::manual_seed(0);
  const bool image = name == "vae" || name == "vdm_unet";
  s.data.kind = image ? dd::Kind::image : dd::Kind::points;
  if (image) {
    s.data.x = torch::rand({4096, 1, 28, 28});
  } else {  // the NCSN toy's two modes: 0.2·N((−5,−5), I) + 0.8·N((5,5), I)
    at::Tensor mode = (torch::rand({4096, 1}) < 0.8).to(torch::kFloat) * 10 - 5;
    s.data.x = mode + torch::randn({4096, 2});
  }
  if (name == "vae") {  // default VaeOptions: 784-400-20, Gaussian decoder, learned σ, ReLU
    s.model = std::make_unique<deepgen::vi::VaeModel>(deepgen::vi::VaeOptions({1, 28, 28}));
    s.batch = 128;
  } else if (name == "vae2d") {  // as `deepgen train vae --data toy:..` builds it for points
    s.model = std::make_unique<deepgen::vi::VaeModel>(
        deepgen::vi::VaeOptions({2}).hidden({128, 128}).latent(2).mean_activation("identity"));
    s.batch = 64;
  } else if (name == "score2d") {  // NCSN, σ 20 -> 0.05 over 10 levels, MLP 128-128 softplus
    s.model = std::make_unique<deepgen::score::ScoreModel>(deepgen::score::ScoreOptions({2}));
    s.batch = 128;
  } else if (name == "vdm_unet") {  // `deepgen train vdm --data mnist` defaults
    s.model = std::make_unique<deepgen::diffusion::VdmModel>(deepgen::diffusion::VdmOptions{});
    s.batch = 64;
  } else {
    usage("unknown model '" + name + "': use vae, vae2d, score2d or vdm_unet");
  }
  return s;
}

int64_t count_parameters(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // Linux: KiB
}

// The trainer's step, the global step carried across calls (warm-up, then the timed steps).
class Steps {
 public:
  explicit Steps(Setup& s) : s_(s), sampler_(s.data.size(), s.batch, 0) {
    optimizer_ = deepgen::train::make_optimizer({}, s.model->module());
  }
  void one() {
    deepgen::train::TrainBatch batch;
    batch.index = sampler_.indices(step_);
    batch.x = deepgen::data::gather(s_.data, batch.index, c10::Device(c10::kCPU));
    batch.step = step_;
    deepgen::train::set_learning_rate(*optimizer_, 1e-3);
    deepgen::train::zero_grad(*optimizer_);
    deepgen::train::LossOutput out = s_.model->train_loss(batch);
    const double loss = out.loss.item<double>();
    if (!std::isfinite(loss))
      throw deepgen::Error("non-finite loss at step " + std::to_string(step_));
    out.loss.backward();
    optimizer_->step();
    s_.model->after_step(batch);
    for (const auto& [name, value] : out.parts) {  // the trainer's metrics window
      auto it = sums_.find(name);
      if (it == sums_.end())
        sums_.emplace(name, value.detach().clone());
      else
        it->second.add_(value.detach());
    }
    ++step_;
  }
  // count steps, or steps for `seconds`; returns (steps, elapsed seconds).
  std::pair<int64_t, double> run(int64_t count, double seconds) {
    const auto t0 = Clock::now();
    int64_t n = 0;
    while (count > 0 ? n < count : seconds_since(t0) < seconds) {
      one();
      ++n;
    }
    return {n, seconds_since(t0)};
  }
  torch::optim::Optimizer& optimizer() { return *optimizer_; }

 private:
  Setup& s_;
  deepgen::data::BatchSampler sampler_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::map<std::string, at::Tensor> sums_;
  int64_t step_ = 0;
};

// GFLOP/s of at::mm(n x n, n x n) in float32 over about `seconds`, after one untimed product.
double gemm_gflops(int64_t n, double seconds) {
  const at::Tensor a = torch::randn({n, n}), b = torch::randn({n, n});
  at::Tensor c = at::mm(a, b);
  int64_t reps = 0;
  const auto t0 = Clock::now();
  do {
    at::mm_out(c, a, b);
    ++reps;
  } while (seconds_since(t0) < seconds);
  return 2.0 * n * n * n * reps / seconds_since(t0) / 1e9;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Weights (train::save_weights), the step-0 batch, the loss and gradients at noise seed
// kNoiseSeed, and the loss at the same noise after one Adam step: what step_peers.py --check reads.
void dump(Setup& s, const std::string& dir) {
  std::filesystem::create_directories(dir);
  deepgen::train::save_weights(dir + "/weights.safetensors", s.model->module());
  Steps steps(s);
  deepgen::data::BatchSampler sampler(s.data.size(), s.batch, 0);
  deepgen::train::TrainBatch batch;
  batch.index = sampler.indices(0);
  batch.x = deepgen::data::gather(s.data, batch.index, c10::Device(c10::kCPU));
  deepgen::train::zero_grad(steps.optimizer());
  torch::manual_seed(kNoiseSeed);
  const at::Tensor loss = s.model->train_loss(batch).loss;
  loss.backward();
  deepgen::io::NamedTensors tensors{{"x", batch.x}};
  for (const auto& p : s.model->module().named_parameters())
    tensors.emplace_back("grad." + p.key(), p.value().grad().detach().clone());
  steps.optimizer().step();
  torch::manual_seed(kNoiseSeed);
  double after = 0;
  {
    torch::NoGradGuard no_grad;
    after = s.model->train_loss(batch).loss.item<double>();
  }
  deepgen::io::save_safetensors(dir + "/check.safetensors", tensors,
                                {{"loss", num(loss.item<double>())},
                                 {"loss_after_step", num(after)},
                                 {"noise_seed", std::to_string(kNoiseSeed)}});
}

}  // namespace

int main(int argc, char** argv) try {
  const Args a = parse(argc, argv);
  // As the deepgen binary does at start-up; DEEPGEN_BENCH_NO_TUNE=1 measures glibc's defaults.
  if (std::getenv("DEEPGEN_BENCH_NO_TUNE") == nullptr) deepgen::tune_allocator();
  const deepgen::ThreadSettings threads = deepgen::apply_threads(a.threads, a.blas_threads);
  Setup s = make(a.model);
  if (a.batch > 0) s.batch = a.batch;
  if (!a.dump.empty()) {
    dump(s, a.dump);
    std::printf("{\"dumped\": \"%s\", \"model\": \"%s\"}\n", a.dump.c_str(), a.model.c_str());
    return 0;
  }
  Steps steps(s);
  steps.run(a.warmup, 0);
  if (!a.profile.empty()) {
    std::ostringstream trace;  // written whole, atomically, once the profiler has finished it
    {
      torch::autograd::profiler::RecordProfile guard(trace);
      steps.run(20, 0);
    }
    deepgen::io::write_file_atomic(a.profile, trace.str());
    std::printf("{\"profile\": \"%s\", \"model\": \"%s\", \"steps\": 20}\n", a.profile.c_str(),
                a.model.c_str());
    return 0;
  }
  const auto [n, secs] = steps.run(0, a.seconds);
  const double rate = n / secs, rss = peak_rss_mib();  // RSS before the GEMM buffers
  std::ostringstream j;
  j << "{\"side\": \"ours\", \"model\": \"" << a.model
    << "\", \"parameters\": " << count_parameters(s.model->module())
    << ", \"steps_per_sec\": " << num(rate) << ", \"steps\": " << n
    << ", \"seconds\": " << num(secs) << ", \"peak_rss_mib\": " << num(rss)
    << ", \"threads\": " << at::get_num_threads()
    << ", \"blas_threads\": " << deepgen::blas_threads() << ", \"batch\": " << s.batch
    << ", \"adam\": \""
    << (dynamic_cast<torch::optim::Adam*>(&steps.optimizer()) ? "torch" : "make_optimizer's own")
    << "\""
    << ", \"torch\": \"" TORCH_VERSION "\"";
  if (a.gemm || a.model == "vdm_unet") {
    // at::mm goes to OpenBLAS, so its pin (deepgen's default: 1 thread) decides how many cores a
    // GEMM gets, while convolutions (oneDNN) use every intra-op thread. So the GEMM is timed under
    // the step's settings and with OpenBLAS given all intra-op threads, and the U-Net's FLOP rate
    // is set against the best of them: what a GEMM reaches on these cores.
    double best = 0;
    j << ", \"gemm_gflops\": {";
    for (int64_t size : {1024, 2048}) {
      const double g = gemm_gflops(size, 1.0);
      best = std::max(best, g);
      j << (size == 1024 ? "" : ", ") << "\"" << size << "\": " << num(g);
    }
    j << "}";
    if (threads.blas < threads.intra_op) {
      deepgen::apply_thread_settings({threads.intra_op, threads.intra_op});
      const double g = gemm_gflops(2048, 1.0);
      best = std::max(best, g);
      j << ", \"gemm_gflops_blas_threads_" << threads.intra_op << "\": {\"2048\": " << num(g)
        << "}";
      deepgen::apply_thread_settings(threads);
    }
    if (a.flops_per_step > 0)
      j << ", \"flops_per_step\": " << num(a.flops_per_step)
        << ", \"flop_rate_gflops\": " << num(a.flops_per_step * rate / 1e9)
        << ", \"gemm_best_gflops\": " << num(best)
        << ", \"flop_rate_vs_gemm\": " << num(a.flops_per_step * rate / 1e9 / best);
  }
  j << "}";
  std::printf("%s\n", j.str().c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_peer_steps: %s\n", e.what());
  return 1;
}
