#include "deepgen/train/checkpoint.h"

#include <set>

#include "deepgen/core/error.h"
#include "deepgen/io/files.h"
#include "deepgen/io/safetensors.h"
#include "deepgen/train/ema.h"

namespace deepgen::train {

namespace {

io::NamedTensors module_tensors(torch::nn::Module& module) {
  io::NamedTensors out;
  for (const auto& p : module.named_parameters()) out.emplace_back(p.key(), p.value());
  for (const auto& b : module.named_buffers()) out.emplace_back(b.key(), b.value());
  return out;
}

// Module::load would silently replace tensors of another shape, so the model is stored flat,
// by index with its names, and every shape is checked on load.
void write_tensors(torch::serialize::OutputArchive& archive, const io::NamedTensors& tensors) {
  for (size_t i = 0; i < tensors.size(); ++i) {
    archive.write("t" + std::to_string(i), tensors[i].second);
    archive.write("name" + std::to_string(i), c10::IValue(tensors[i].first));
  }
  archive.write("count", c10::IValue(static_cast<int64_t>(tensors.size())));
}

void read_tensors(torch::serialize::InputArchive& archive, const io::NamedTensors& targets) {
  c10::IValue count;
  archive.read("count", count);
  if (count.toInt() != static_cast<int64_t>(targets.size()))
    throw Error("it holds " + std::to_string(count.toInt()) + " model tensors, the model has " +
                std::to_string(targets.size()) + " (different model configuration?)");
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < targets.size(); ++i) {
    at::Tensor t;
    archive.read("t" + std::to_string(i), t);
    const auto& [name, target] = targets[i];
    if (t.sizes() != target.sizes())
      throw Error("tensor '" + name + "' has shape " + c10::str(t.sizes()) +
                  ", the model expects " + c10::str(target.sizes()) +
                  " (different model configuration?)");
    target.copy_(t);
  }
}

io::NamedTensors ema_tensors(const Ema& ema) {
  io::NamedTensors out;
  for (size_t i = 0; i < ema.shadow().size(); ++i)
    out.emplace_back("ema." + std::to_string(i), ema.shadow()[i]);
  return out;
}

}  // namespace

void save_checkpoint(const std::string& path, torch::nn::Module& module, const Ema* ema,
                     const torch::optim::Optimizer& optimizer, const CheckpointState& state) {
  torch::serialize::OutputArchive archive;
  torch::serialize::OutputArchive model_archive, optim_archive, ema_archive;
  write_tensors(model_archive, module_tensors(module));
  optimizer.save(optim_archive);
  archive.write("model", model_archive);
  archive.write("optimizer", optim_archive);
  if (ema) {
    write_tensors(ema_archive, ema_tensors(*ema));
    archive.write("ema", ema_archive);
  }
  archive.write("step", torch::tensor(state.step, torch::kInt64));
  archive.write("rng", state.rng);
  if (state.rng_ranks.defined()) archive.write("rng_ranks", state.rng_ranks);
  io::write_atomic(path, [&](const std::string& tmp) { archive.save_to(tmp); });
}

CheckpointState load_checkpoint(const std::string& path, torch::nn::Module& module, Ema* ema,
                                torch::optim::Optimizer& optimizer) {
  if (!io::file_exists(path))
    throw Error("no checkpoint at " + path + ": nothing to resume (start a new run instead)");
  CheckpointState state;
  try {
    torch::serialize::InputArchive archive, model_archive, optim_archive;
    archive.load_from(path);
    archive.read("model", model_archive);
    read_tensors(model_archive, module_tensors(module));
    archive.read("optimizer", optim_archive);
    optimizer.load(optim_archive);
    if (ema) {
      torch::serialize::InputArchive ema_archive;
      if (!archive.try_read("ema", ema_archive))
        throw Error("checkpoint has no EMA weights but the run uses EMA");
      read_tensors(ema_archive, ema_tensors(*ema));
    }
    at::Tensor step;
    archive.read("step", step);
    state.step = step.item<int64_t>();
    archive.read("rng", state.rng);
    at::Tensor ranks;
    if (archive.try_read("rng_ranks", ranks)) state.rng_ranks = ranks;
  } catch (const Error& e) {
    throw Error("checkpoint " + path + ": " + e.what());
  } catch (const std::exception& e) {
    throw Error("checkpoint " + path +
                " is unreadable or belongs to a different model configuration: " +
                std::string(e.what()).substr(0, 200));
  }
  return state;
}

void save_weights(const std::string& path, torch::nn::Module& module) {
  io::save_safetensors(path, module_tensors(module), {{"format", "pt"}});
}

void load_weights(const std::string& path, torch::nn::Module& module) {
  io::NamedTensors file = io::load_safetensors(path);
  std::map<std::string, at::Tensor> by_name(file.begin(), file.end());
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : module_tensors(module)) {
    auto it = by_name.find(name);
    if (it == by_name.end())
      throw Error("weights file " + path + " lacks tensor '" + name + "' (different model?)");
    if (it->second.sizes() != target.sizes())
      throw Error("weights file " + path + ": tensor '" + name + "' has shape " +
                  c10::str(it->second.sizes()) + ", model expects " + c10::str(target.sizes()));
    target.copy_(it->second);
  }
}

}  // namespace deepgen::train
