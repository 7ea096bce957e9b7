// The trained classifier is cached beside the data: FID values are only comparable when computed
// with the same feature net, so every run of a data root reuses one set of weights.
#include <cstdio>
#include <filesystem>

#include "deepgen/core/error.h"
#include "deepgen/core/runtime.h"
#include "deepgen/data/dataset.h"
#include "deepgen/eval/fid.h"
#include "deepgen/io/files.h"
#include "deepgen/io/safetensors.h"

namespace deepgen::eval {

namespace {

namespace fs = std::filesystem;

// The safetensors metadata is the source of truth; the .json beside it is a readable copy.
constexpr const char* kVersionKey = "deepgen_classifier_version";

std::string percent(double accuracy) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100.0 * accuracy);
  return buf;
}

std::string json_path(const std::string& weights_path) {
  return fs::path(weights_path).replace_extension(".json").string();
}

// Written by hand: four fields of known form, and deepgen_eval does not link nlohmann_json.
std::string summary_json(const TrainedClassifier& c, const std::string& weights_path) {
  char accuracy[32];
  std::snprintf(accuracy, sizeof accuracy, "%.6f", c.test_accuracy);
  return "{\n  \"dataset\": \"" + c.dataset +
         "\",\n  \"architecture_version\": " + std::to_string(kClassifierVersion) +
         ",\n  \"feature_dim\": " + std::to_string(kFeatureDim) +
         ",\n  \"steps\": " + std::to_string(c.steps) + ",\n  \"test_accuracy\": " + accuracy +
         ",\n  \"weights\": \"" + fs::path(weights_path).filename().string() + "\"\n}\n";
}

io::NamedTensors module_tensors(torch::nn::Module& module) {
  io::NamedTensors out;
  for (const auto& p : module.named_parameters()) out.emplace_back(p.key(), p.value());
  for (const auto& b : module.named_buffers()) out.emplace_back(b.key(), b.value());
  return out;
}

void save_classifier(const std::string& path, TrainedClassifier& c) {
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) io::make_dirs(parent.string());
  char accuracy[32];
  std::snprintf(accuracy, sizeof accuracy, "%.6f", c.test_accuracy);
  io::save_safetensors(path, module_tensors(*c.model),
                       {{"format", "pt"},
                        {kVersionKey, std::to_string(kClassifierVersion)},
                        {"dataset", c.dataset},
                        {"steps", std::to_string(c.steps)},
                        {"test_accuracy", accuracy}});
  io::write_file_atomic(json_path(path), summary_json(c, path));
}

std::string require(const std::map<std::string, std::string>& meta, const std::string& key) {
  auto it = meta.find(key);
  if (it == meta.end()) throw Error("no '" + key + "' in its metadata");
  return it->second;
}

double parse_number(const std::string& text, const std::string& key) {
  try {
    size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  throw Error("metadata '" + key + "' is not a number: '" + text + "'");
}

// Name for name, shape for shape, nothing missing or extra: anything else means other weights.
void copy_weights(const io::NamedTensors& file, FidClassifier& model) {
  std::map<std::string, at::Tensor> by_name(file.begin(), file.end());
  const io::NamedTensors targets = module_tensors(*model);
  if (by_name.size() != targets.size())
    throw Error("it holds " + std::to_string(by_name.size()) + " tensors, the classifier has " +
                std::to_string(targets.size()));
  torch::NoGradGuard no_grad;
  for (const auto& [name, target] : targets) {
    auto it = by_name.find(name);
    if (it == by_name.end()) throw Error("tensor '" + name + "' is missing");
    if (it->second.sizes() != target.sizes())
      throw Error("tensor '" + name + "' has shape " + c10::str(it->second.sizes()) +
                  ", the classifier expects " + c10::str(target.sizes()));
    if (!torch::isfinite(it->second).all().item<bool>())
      throw Error("tensor '" + name + "' holds NaN or infinite values");
    target.copy_(it->second);
  }
}

// Throws Error (or whatever the reader throws) when the file is not a usable classifier.
TrainedClassifier load_classifier(const std::string& path, const std::string& name) {
  std::map<std::string, std::string> meta;
  const io::NamedTensors file = io::load_safetensors(path, &meta);
  const std::string version = require(meta, kVersionKey);
  if (version != std::to_string(kClassifierVersion))
    throw Error("architecture version " + version + ", this build uses " +
                std::to_string(kClassifierVersion));
  const std::string dataset = require(meta, "dataset");
  if (dataset != name) throw Error("it was trained on '" + dataset + "', not '" + name + "'");
  TrainedClassifier c;
  c.dataset = dataset;
  c.test_accuracy = parse_number(require(meta, "test_accuracy"), "test_accuracy");
  c.steps = static_cast<int64_t>(parse_number(require(meta, "steps"), "steps"));
  c.model = FidClassifier();
  copy_weights(file, c.model);
  c.loaded_from_cache = true;
  return c;
}

}  // namespace

std::string classifier_cache_path(const std::string& name, const std::string& data_root) {
  if (name != "mnist" && name != "fashion-mnist")
    throw Error("classifier-FID has a classifier for mnist and fashion-mnist only, not '" + name +
                "'");
  const std::string root = data_root.empty() ? data::data_root() : data_root;
  return (fs::path(root) / "classifiers" / (name + "-classifier.safetensors")).string();
}

TrainedClassifier load_or_train_classifier_file(const std::string& path, const std::string& name,
                                                const std::function<data::Splits()>& load,
                                                const ClassifierOptions& options,
                                                const MessageFn& message,
                                                const ClassifierProgressFn& progress) {
  const auto say = [&](const std::string& text) {
    if (message) message("classifier-FID: " + text);
  };
  const c10::Device device = resolve_device(options.device);
  if (io::file_exists(path)) {
    try {
      TrainedClassifier c = load_classifier(path, name);
      c.model->to(device);
      say("loaded the " + name + " classifier from " + path + " (test accuracy " +
          percent(c.test_accuracy) + ")");
      if (!io::file_exists(json_path(path)))
        io::write_file_atomic(json_path(path), summary_json(c, path));
      return c;
    } catch (const std::exception& e) {
      say("the cached classifier " + path + " is unusable (" + e.what() + "); retraining it");
    }
  } else {
    say("no cached " + name + " classifier at " + path + "; training one");
  }
  const data::Splits splits = load();
  TrainedClassifier c = train_classifier(splits.train, splits.test, options, progress);
  c.dataset = name;
  save_classifier(path, c);
  say("trained the " + name + " classifier for " + std::to_string(c.steps) +
      " steps (test accuracy " + percent(c.test_accuracy) + "), saved to " + path);
  return c;
}

TrainedClassifier load_or_train_classifier(const std::string& name, const std::string& data_root,
                                           const ClassifierOptions& options,
                                           const MessageFn& message,
                                           const ClassifierProgressFn& progress) {
  const std::string path = classifier_cache_path(name, data_root);
  const auto load = [&] {
    data::DataOptions d;
    d.spec = name;
    d.root = data_root;
    return data::load_data(d);
  };
  return load_or_train_classifier_file(path, name, load, options, message, progress);
}

}  // namespace deepgen::eval
