#include "deepgen/train/checkpoint.h"

#include <map>
#include <set>

#include "archive_file.h"
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

// Module::load would silently replace tensors of another shape, so every shape is checked on
// load. Tensors are stored under their dotted names as nested archives (decoder / layers / 0 /
// weight), so the file says what it holds (torch.jit.load(path).model.decoder.layers...).
struct NameTree {
  at::Tensor tensor;
  std::map<std::string, NameTree> children;
};

// The archive is TorchScript, whose printer writes a Python keyword as a bare attribute name
// (a module named "in" makes the file unreadable): such a name part is stored with a "_" after
// it; a name part that is a keyword plus "_" is refused, so no two names share a key.
const std::set<std::string>& python_keywords() {
  static const std::set<std::string> keywords{
      "False", "None",     "True",  "and",    "as",   "assert", "async",  "await",    "break",
      "class", "continue", "def",   "del",    "elif", "else",   "except", "finally",  "for",
      "from",  "global",   "if",    "import", "in",   "is",     "lambda", "nonlocal", "not",
      "or",    "pass",     "raise", "return", "try",  "while",  "with",   "yield"};
  return keywords;
}

std::string archive_key(const std::string& part) {
  return python_keywords().count(part) ? part + "_" : part;
}

NameTree name_tree(const io::NamedTensors& tensors) {
  NameTree root;
  for (const auto& [name, tensor] : tensors) {
    NameTree* node = &root;
    for (size_t begin = 0, dot;; begin = dot + 1) {
      dot = name.find('.', begin);
      const std::string part = name.substr(begin, dot - begin);
      if (!part.empty() && part.back() == '_' &&
          python_keywords().count(part.substr(0, part.size() - 1)))
        throw Error("cannot store tensor '" + name + "': the name part '" + part +
                    "' is where the checkpoint stores '" + part.substr(0, part.size() - 1) + "'");
      node = &node->children[archive_key(part)];
      if (dot == std::string::npos) break;
    }
    node->tensor = tensor;
  }
  return root;
}

void write_tree(torch::serialize::OutputArchive& archive, const NameTree& tree) {
  for (const auto& [key, child] : tree.children) {
    if (child.tensor.defined()) {
      archive.write(key, child.tensor);
      continue;
    }
    torch::serialize::OutputArchive nested;
    write_tree(nested, child);
    archive.write(key, nested);
  }
}

void write_tensors(torch::serialize::OutputArchive& archive, const io::NamedTensors& tensors) {
  write_tree(archive, name_tree(tensors));
}

// Training never saves NaN or Inf (the NaN guard stops first), so one on load is damage.
void require_finite(const at::Tensor& t, const std::string& name) {
  if (t.is_floating_point() && !at::isfinite(t).all().item<bool>())
    throw Error("tensor '" + name + "' holds NaN or Inf values (a damaged or diverged file)");
}

// The tensor stored under a dotted name, or undefined when the archive lacks it.
at::Tensor read_named(torch::serialize::InputArchive& archive, const std::string& name) {
  const size_t dot = name.find('.');
  if (dot == std::string::npos) {
    at::Tensor t;
    return archive.try_read(archive_key(name), t) ? t : at::Tensor();
  }
  torch::serialize::InputArchive nested;
  if (!archive.try_read(archive_key(name.substr(0, dot)), nested)) return {};
  return read_named(nested, name.substr(dot + 1));
}

// Checkpoints before named storage held t0, t1, ... in module order, with a count.
std::vector<at::Tensor> read_indexed(torch::serialize::InputArchive& archive, int64_t count,
                                     size_t expected) {
  if (count != static_cast<int64_t>(expected))
    throw Error("it holds " + std::to_string(count) + " model tensors, the model has " +
                std::to_string(expected) + " (different model configuration?)");
  std::vector<at::Tensor> out(expected);
  for (size_t i = 0; i < expected; ++i) archive.read("t" + std::to_string(i), out[i]);
  return out;
}

void read_tensors(torch::serialize::InputArchive& archive, const io::NamedTensors& targets) {
  std::vector<at::Tensor> stored;
  if (c10::IValue count; archive.try_read("count", count)) {
    stored = read_indexed(archive, count.toInt(), targets.size());
  } else {
    for (const auto& [name, target] : targets) {
      stored.push_back(read_named(archive, name));
      if (!stored.back().defined())
        throw Error("it lacks tensor '" + name + "' (different model configuration?)");
    }
  }
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < targets.size(); ++i) {
    const auto& [name, target] = targets[i];
    if (stored[i].sizes() != target.sizes())
      throw Error("tensor '" + name + "' has shape " + c10::str(stored[i].sizes()) +
                  ", the model expects " + c10::str(target.sizes()) +
                  " (different model configuration?)");
    require_finite(stored[i], name);
    target.copy_(stored[i]);
  }
}

// The averages under the names of the parameters they average (Ema keeps parameter order).
io::NamedTensors ema_tensors(const Ema& ema, torch::nn::Module& module) {
  const auto names = module.named_parameters();
  if (names.size() != ema.shadow().size())
    throw Error("the EMA holds " + std::to_string(ema.shadow().size()) + " tensors, the model " +
                std::to_string(names.size()) + " parameters");
  io::NamedTensors out;
  for (size_t i = 0; i < ema.shadow().size(); ++i)
    out.emplace_back(names[i].key(), ema.shadow()[i]);
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
    write_tensors(ema_archive, ema_tensors(*ema, module));
    archive.write("ema", ema_archive);
  }
  archive.write("step", torch::tensor(state.step, torch::kInt64));
  archive.write("rng", state.rng);
  if (state.rng_ranks.defined()) archive.write("rng_ranks", state.rng_ranks);
  save_archive_file(archive, path);
}

CheckpointState load_checkpoint(const std::string& path, torch::nn::Module& module, Ema* ema,
                                torch::optim::Optimizer& optimizer) {
  if (!io::file_exists(path))
    throw Error("no checkpoint at " + path + ": nothing to resume (start a new run instead)");
  CheckpointState state;
  try {
    torch::serialize::InputArchive archive, model_archive, optim_archive;
    load_archive_file(archive, path);
    archive.read("model", model_archive);
    read_tensors(model_archive, module_tensors(module));
    archive.read("optimizer", optim_archive);
    optimizer.load(optim_archive);
    if (ema) {
      torch::serialize::InputArchive ema_archive;
      if (!archive.try_read("ema", ema_archive))
        throw Error("checkpoint has no EMA weights but the run uses EMA");
      read_tensors(ema_archive, ema_tensors(*ema, module));
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
                " is unreadable or belongs to a different model configuration: " + brief(e));
  }
  return state;
}

void save_weights(const std::string& path, torch::nn::Module& module,
                  std::map<std::string, std::string> metadata) {
  metadata["format"] = "pt";  // what safetensors' PyTorch loader expects
  io::save_safetensors(path, module_tensors(module), metadata);
}

std::map<std::string, std::string> load_weights(const std::string& path,
                                                torch::nn::Module& module) {
  std::map<std::string, std::string> metadata;
  io::NamedTensors file = io::load_safetensors(path, &metadata);
  std::map<std::string, at::Tensor> by_name(file.begin(), file.end());
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : module_tensors(module)) {
    auto it = by_name.find(name);
    if (it == by_name.end())
      throw Error("weights file " + path + " lacks tensor '" + name + "' (different model?)");
    if (it->second.sizes() != target.sizes())
      throw Error("weights file " + path + ": tensor '" + name + "' has shape " +
                  c10::str(it->second.sizes()) + ", model expects " + c10::str(target.sizes()));
    try {
      require_finite(it->second, name);
    } catch (const Error& e) {
      throw Error("weights file " + path + ": " + e.what());
    }
    target.copy_(it->second);
  }
  return metadata;
}

}  // namespace deepgen::train
