#pragma once
// Checkpoints: everything a run needs to continue bit-for-bit (model, EMA, optimiser, step,
// random state). Written atomically, so a crash mid-write leaves the previous one intact.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <map>
#include <string>

namespace deepgen::train {

class Ema;

struct CheckpointState {
  int64_t step = 0;
  at::Tensor rng;        // global CPU generator state (rank 0's when data-parallel)
  at::Tensor rng_ranks;  // (world, n): every rank's state, for data-parallel runs; else undefined
};

void save_checkpoint(const std::string& path, torch::nn::Module& module, const Ema* ema,
                     const torch::optim::Optimizer& optimizer, const CheckpointState& state);
// Restores into already-constructed objects of the same shapes; errors name the file.
CheckpointState load_checkpoint(const std::string& path, torch::nn::Module& module, Ema* ema,
                                torch::optim::Optimizer& optimizer);

// Model weights (parameters and buffers by their dotted names) as .safetensors, and back;
// `metadata` goes into the file's __metadata__ (strings only, as the format requires).
void save_weights(const std::string& path, torch::nn::Module& module,
                  std::map<std::string, std::string> metadata = {});
// Every name and shape must match the module; errors name the file and the tensor. Returns the
// file's metadata (empty for files written before deepgen stored it).
std::map<std::string, std::string> load_weights(const std::string& path, torch::nn::Module& module);

}  // namespace deepgen::train
