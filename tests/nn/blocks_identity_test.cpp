// The score and VDM networks must stay exactly what they were while their blocks move between
// files: the same parameter names in the same order (old run directories' model.safetensors and
// checkpoint.pt keep loading), the same initial values, the same forward pass and the same
// parameters after one optimiser step. Compared with fixtures recorded from the code before the
// move (tests/nn/fixtures/blocks_identity/); DEEPGEN_RECORD_FIXTURES=1 records them again, which
// replaces the reference, so only do it for a change that is meant to change the numbers.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "deepgen/core/rng.h"
#include "deepgen/core/runtime.h"
#include "deepgen/diffusion/net.h"
#include "deepgen/io/safetensors.h"
#include "deepgen/score/net.h"

namespace deepgen {
namespace {

constexpr uint64_t kSeed = 20240611;
constexpr int64_t kSamples = 32;  // values kept per stepped parameter: the fixtures stay small
// Off the recorded kernels (another vector width or oneDNN blocking sums float32 in another
// order) values move by a few ulps per op: up to about 1e-6 of the tensor's largest magnitude
// when the recording machine was made to run its narrower kernels (ATEN_CPU_CAPABILITY=default,
// ONEDNN_MAX_CPU_ISA=SSE41, OPENBLAS_CORETYPE=Nehalem). 1e-5 leaves a margin of 10, while a
// changed formula (another norm order, a missing projection) moves values by far more.
constexpr double kTolerance = 1e-5;

std::string fixture(const std::string& net, const std::string& ext) {
  return std::string(DEEPGEN_SOURCE_DIR) + "/tests/nn/fixtures/blocks_identity/" + net + ext;
}

bool recording() {
  const char* v = std::getenv("DEEPGEN_RECORD_FIXTURES");
  return v != nullptr && std::string(v) == "1";
}

// FNV-1a (64 bits) of the tensor's raw bytes.
std::string fnv1a(const at::Tensor& t) {
  const at::Tensor c = t.detach().cpu().contiguous();
  const auto* bytes = static_cast<const uint8_t*>(c.data_ptr());
  uint64_t h = 14695981039346656037ULL;
  for (size_t i = 0; i < c.nbytes(); ++i) h = (h ^ bytes[i]) * 1099511628211ULL;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

// Parallel kernels split their sums by thread count: one thread makes the numbers a function of
// the kernels alone, whatever the machine's core count.
class OneThread {
 public:
  OneThread() { at::set_num_threads(1); }
  ~OneThread() { at::set_num_threads(before_); }

 private:
  int before_ = at::get_num_threads();
};

// A network built from the global generator, and its forward pass on fixed inputs.
struct Net {
  std::shared_ptr<torch::nn::Module> module;
  std::function<at::Tensor()> forward;
};

// Inputs and perturbations come from a generator of their own, so they do not depend on what the
// nets draw; uniform draws on [0, 1) scaled by exact float ops are the same on every ISA.
at::Tensor uniform(std::vector<int64_t> shape, at::Generator& gen, double scale) {
  return (torch::rand(shape, gen) * 2 - 1) * scale;
}

std::vector<int64_t> batch_of(int64_t batch, std::vector<int64_t> shape) {
  shape.insert(shape.begin(), batch);
  return shape;
}

// The VDM options are spelled out (today's defaults) so that a later change of a default does
// not read as a change of the blocks.
diffusion::EpsNetOptions vdm_unet(std::vector<int64_t> image, std::vector<int64_t> channels) {
  diffusion::EpsNetOptions o;
  o.data_shape = std::move(image);
  o.architecture = "unet";
  o.channels = std::move(channels);
  o.blocks = 2;
  o.attention = true;
  o.patch = 2;
  o.fourier = {6, 7};
  o.dropout = 0.0;
  o.noise_min = -13.3;
  o.noise_max = 5.0;
  return o;
}

Net vdm(const diffusion::EpsNetOptions& o, int64_t batch) {
  std::shared_ptr<diffusion::EpsNetwork> net = diffusion::make_eps_network(o);
  at::Generator gen = make_generator(kSeed + 1);
  const at::Tensor z = uniform(batch_of(batch, o.data_shape), gen, 1.0);
  const at::Tensor gamma = torch::linspace(-12.0, 4.0, batch);
  return {net, [net, z, gamma] { return net->forward(z, gamma, {}); }};
}

Net score_unet(const std::vector<int64_t>& image, const std::vector<int64_t>& channels) {
  score::ScoreUNet net(image, channels);
  at::Generator gen = make_generator(kSeed + 1);
  const at::Tensor x = torch::rand(batch_of(2, image), gen);
  const at::Tensor sigma = torch::tensor({1.0F, 0.1F});
  return {net.ptr(), [net, x, sigma]() mutable { return net->forward(x, sigma); }};
}

Net score_mlp(int64_t dim, const std::vector<int64_t>& hidden, const std::string& activation) {
  score::ScoreMLP net(dim, hidden, activation);
  at::Generator gen = make_generator(kSeed + 1);
  const at::Tensor x = uniform({8, dim}, gen, 5.0);
  const at::Tensor sigma = torch::linspace(0.1, 5.0, 8);
  return {net.ptr(), [net, x, sigma]() mutable { return net->forward(x, sigma); }};
}

// What the fixture holds of one net: the record (JSON: the kernels it was made on, the output's
// hash, every parameter's name, shape and hashes after init and after the step) and tensors
// (safetensors: the output, a sample of every stepped parameter, and every parameter's sum and
// absolute sum after init and after the step).
struct Trace {
  nlohmann::ordered_json record;
  at::Tensor output, samples, init_sums, sums;
};

// Every stride-th value of the flattened tensor, kSamples values at most.
at::Tensor sample(const at::Tensor& t) {
  const int64_t n = t.numel(), stride = (n + kSamples - 1) / kSamples;
  return t.detach().flatten().slice(0, 0, n, stride);
}

// (P, 2): every parameter's sum and absolute sum, in float64.
at::Tensor sums(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> rows;
  for (const at::Tensor& p : params) {
    const at::Tensor d = p.detach().to(at::kDouble);
    rows.push_back(torch::stack({d.sum(), d.abs().sum()}));
  }
  return torch::stack(rows);
}

// Init, a perturbation (the VDM zero-initialises its output layers, which would hide the rest of
// the net from both the forward pass and the gradients), forward, one Adam step.
Trace trace(const std::function<Net()>& build) {
  OneThread one_thread;
  seed_global(kSeed);
  Net net = build();
  Trace t;
  t.record["cpu_kernels"] = cpu_kernels();
  auto params = nlohmann::ordered_json::array();
  for (const auto& item : net.module->named_parameters())
    params.push_back({{"name", item.key()},
                      {"shape", item.value().sizes().vec()},
                      {"init", fnv1a(item.value())}});
  t.init_sums = sums(net.module->parameters());
  at::Generator gen = make_generator(kSeed + 2);
  {
    torch::NoGradGuard no_grad;
    for (at::Tensor& p : net.module->parameters()) p.add_(uniform(p.sizes().vec(), gen, 0.05));
  }
  t.output = net.forward();
  t.record["output"] = fnv1a(t.output);
  // eps well above the gradients' rounding makes the step a smooth function of the gradient:
  // with the default 1e-8 a gradient near zero that flips sign on other kernels would move its
  // parameter by a whole learning rate.
  torch::optim::Adam adam(net.module->parameters(), torch::optim::AdamOptions(1e-3).eps(1e-3));
  t.output.square().mean().backward();
  adam.step();
  std::vector<at::Tensor> samples;
  size_t i = 0;
  for (const at::Tensor& p : net.module->parameters()) {
    params[i++]["step"] = fnv1a(p);
    samples.push_back(sample(p));
  }
  t.record["params"] = params;
  t.output = t.output.detach();
  t.samples = torch::cat(samples);
  t.sums = sums(net.module->parameters());
  return t;
}

// One parameter a line, so that a re-recorded fixture diffs by parameter.
void record(const std::string& name, const Trace& t) {
  std::filesystem::create_directories(std::filesystem::path(fixture(name, ".json")).parent_path());
  std::ofstream out(fixture(name, ".json"));
  out << "{\n \"cpu_kernels\": " << t.record["cpu_kernels"].dump()
      << ",\n \"output\": " << t.record["output"].dump() << ",\n \"params\": [";
  const auto& params = t.record["params"];
  for (size_t i = 0; i < params.size(); ++i) out << (i ? ",\n  " : "\n  ") << params[i].dump();
  out << "\n ]\n}\n";
  io::save_safetensors(
      fixture(name, ".safetensors"),
      {{"output", t.output}, {"samples", t.samples}, {"init_sums", t.init_sums}, {"sums", t.sums}});
}

void expect_close(const at::Tensor& now, const at::Tensor& ref, const std::string& what) {
  ASSERT_EQ(now.sizes(), ref.sizes()) << what;
  const double scale = ref.to(at::kDouble).abs().max().item<double>();
  const double diff = (now.to(at::kDouble) - ref.to(at::kDouble)).abs().max().item<double>();
  EXPECT_LE(diff, kTolerance * scale) << what << " (fixture recorded on other kernels)";
}

// Each sum within kTolerance of its tensor's absolute sum.
void expect_sums_close(const at::Tensor& now, const at::Tensor& ref, const std::string& what) {
  ASSERT_EQ(now.sizes(), ref.sizes()) << what;
  const at::Tensor diff = (now.select(1, 0) - ref.select(1, 0)).abs();
  EXPECT_TRUE((diff <= kTolerance * ref.select(1, 1)).all().item<bool>())
      << what << " (fixture recorded on other kernels)";
}

// The generator's draws are the same everywhere, but ATen compiles its scalar kernels (the
// uniform init among them) with FMA for AVX2 and AVX512 and without it for "NO AVX", where the
// initial values then differ in their last bit. (AVX2 and AVX512 init alike: checked with
// ATEN_CPU_CAPABILITY=avx512 on the recording machine.)
bool fma_kernels(const std::string& cpu_kernels) {
  return cpu_kernels.find("aten NO AVX") == std::string::npos;
}

// Names and shapes always match exactly, and so do initial values where the init kernels are
// compiled alike (fma_kernels); the output and the stepped parameters bit for bit on the
// recorded kernels, else within kTolerance.
void expect_matches(const std::string& name, const Trace& now) {
  nlohmann::ordered_json ref;
  std::ifstream(fixture(name, ".json")) >> ref;
  std::map<std::string, at::Tensor> saved;
  for (auto& [key, value] : io::load_safetensors(fixture(name, ".safetensors"))) saved[key] = value;
  const std::string ref_kernels = ref["cpu_kernels"], now_kernels = now.record["cpu_kernels"];
  const bool exact_init = fma_kernels(ref_kernels) == fma_kernels(now_kernels);
  const auto& a = now.record["params"];
  const auto& b = ref["params"];
  ASSERT_EQ(a.size(), b.size()) << "parameter count";
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i]["name"], b[i]["name"]) << "parameter " << i << " (registration order)";
    EXPECT_EQ(a[i]["shape"], b[i]["shape"]) << b[i]["name"];
    if (exact_init) EXPECT_EQ(a[i]["init"], b[i]["init"]) << b[i]["name"] << " after init";
  }
  if (!exact_init) expect_sums_close(now.init_sums, saved.at("init_sums"), "initial parameters");
  if (ref_kernels == now_kernels) {
    EXPECT_EQ(now.record["output"], ref["output"]) << "output";
    for (size_t i = 0; i < a.size(); ++i)
      EXPECT_EQ(a[i]["step"], b[i]["step"]) << b[i]["name"] << " after one step";
    return;
  }
  expect_close(now.output, saved.at("output"), "output");
  expect_close(now.samples, saved.at("samples"), "stepped parameters (samples)");
  expect_sums_close(now.sums, saved.at("sums"), "stepped parameters (sums)");
}

void check(const std::string& name, const std::function<Net()>& build) {
  const Trace t = trace(build);
  if (recording()) {
    record(name, t);
    GTEST_SKIP() << "recorded " << fixture(name, ".json") << " on " << cpu_kernels();
  }
  expect_matches(name, t);
}

TEST(BlocksIdentity, VdmUNetMnist) {
  check("vdm_unet_1x28x28", [] { return vdm(vdm_unet({1, 28, 28}, {32, 64}), 2); });
}

TEST(BlocksIdentity, VdmUNetRgbSmall) {
  check("vdm_unet_3x16x16", [] { return vdm(vdm_unet({3, 16, 16}, {16, 32}), 2); });
}

TEST(BlocksIdentity, VdmUNetWithDropout) {
  // Dropout draws its mask from the global generator, after the init: the order of the block's
  // ops (dropout between the second SiLU and conv) shows in the output.
  diffusion::EpsNetOptions o = vdm_unet({1, 8, 8}, {8, 16});
  o.dropout = 0.1;
  check("vdm_unet_dropout_1x8x8", [o] { return vdm(o, 2); });
}

TEST(BlocksIdentity, VdmMlpPoints) {
  diffusion::EpsNetOptions o;
  o.data_shape = {2};
  o.architecture = "mlp";
  o.hidden = 256;
  o.layers = 3;
  o.noise_min = -13.3;
  o.noise_max = 5.0;
  check("vdm_mlp_2", [o] { return vdm(o, 8); });
}

TEST(BlocksIdentity, ScoreUNetMnist) {
  check("score_unet_1x28x28", [] { return score_unet({1, 28, 28}, {16, 32}); });
}

TEST(BlocksIdentity, ScoreMlpPoints) {
  check("score_mlp_2", [] { return score_mlp(2, {128, 128}, "softplus"); });
}

}  // namespace
}  // namespace deepgen
