// Uses deepgen the way a C++ user would: a VAE on a toy 2-D data set, a few optimiser steps,
// weights saved as .safetensors and loaded back into a fresh model. Exits non-zero on failure.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include "deepgen/core/rng.h"
#include "deepgen/core/version.h"
#include "deepgen/data/toy.h"
#include "deepgen/train/checkpoint.h"
#include "deepgen/train/optim.h"
#include "deepgen/vi/vae.h"

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "consumer: FAILED: %s\n", what.c_str());
    ++failures;
  }
}

// Every parameter and buffer of `a` equals the one of the same name in `b`.
bool same_state(torch::nn::Module& a, torch::nn::Module& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  auto ba = a.named_buffers(), bb = b.named_buffers();
  if (pa.size() != pb.size() || ba.size() != bb.size()) return false;
  for (const auto& item : pa) {
    const at::Tensor* other = pb.find(item.key());
    if (other == nullptr || !item.value().equal(*other)) return false;
  }
  for (const auto& item : ba) {
    const at::Tensor* other = bb.find(item.key());
    if (other == nullptr || !item.value().equal(*other)) return false;
  }
  return true;
}

deepgen::vi::VaeOptions toy_options() {
  return deepgen::vi::VaeOptions({2}).hidden({32}).latent(2).mean_activation("identity");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    namespace fs = std::filesystem;
    const fs::path dir = argc > 1 ? fs::path(argv[1]) : fs::temp_directory_path();
    fs::create_directories(dir);
    const std::string weights = (dir / "consumer.safetensors").string();

    at::Generator gen = deepgen::make_generator(1);
    const at::Tensor x = deepgen::data::sample_toy("moons", 512, gen);
    check(x.dim() == 2 && x.size(0) == 512 && x.size(1) == 2, "sample_toy gives (512, 2)");

    deepgen::seed_global(0);
    deepgen::vi::VaeModel model(toy_options());
    deepgen::train::OptimizerOptions opt;
    opt.lr = 1e-2;
    auto optimizer = deepgen::train::make_optimizer(opt, model.module());

    double first = 0, last = 0;
    const int steps = 20;
    for (int step = 0; step < steps; ++step) {
      const at::Tensor batch = x.slice(0, (step % 4) * 128, (step % 4 + 1) * 128);
      optimizer->zero_grad();
      deepgen::train::LossOutput out = model.loss(batch);
      const double loss = out.loss.item<double>();
      check(std::isfinite(loss), "finite loss at step " + std::to_string(step));
      out.loss.backward();
      optimizer->step();
      if (step == 0) first = loss;
      last = loss;
    }
    std::printf("deepgen %s: VAE loss %.4f -> %.4f over %d steps\n", deepgen::version().c_str(),
                first, last, steps);

    deepgen::train::save_weights(weights, model.module());
    check(fs::exists(weights) && fs::file_size(weights) > 0, "save_weights writes " + weights);

    deepgen::seed_global(12345);  // a different initialisation
    deepgen::vi::VaeModel reloaded(toy_options());
    check(!same_state(model.module(), reloaded.module()), "a fresh model differs before loading");
    deepgen::train::load_weights(weights, reloaded.module());
    check(same_state(model.module(), reloaded.module()), "load_weights restores every tensor");

    const at::Tensor samples = reloaded.sample(8);
    check(samples.size(0) == 8 && samples.size(1) == 2, "sample(8) gives (8, 2)");
    fs::remove(weights);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: FAILED: exception: %s\n", e.what());
    return 1;
  }
  if (failures > 0) return 1;
  std::printf("consumer: OK\n");
  return 0;
}
