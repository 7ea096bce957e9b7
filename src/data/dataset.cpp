#include "deepgen/data/dataset.h"

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "deepgen/core/config.h"
#include "deepgen/core/error.h"
#include "deepgen/core/rng.h"
#include "deepgen/data/files.h"
#include "deepgen/data/idx.h"
#include "deepgen/data/toy.h"

namespace deepgen::data {
namespace {

namespace fs = std::filesystem;

// Debian's dataset-fashion-mnist package; scripts/setup.sh links it into the data root, and it is
// used directly when that link is missing.
constexpr const char* kSystemFashionDir = "/usr/share/datasets/fashion-mnist";

const char* const kIdxFiles[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};

// The class names of the IDX sets, label k naming classes[k] (Fashion-MNIST's from its README).
std::vector<std::string> idx_classes(const std::string& name) {
  if (name == "fashion-mnist") {
    return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  }
  return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
}

std::string valid_specs() { return "mnist, fashion-mnist, toy:NAME, folder:PATH, csv:PATH"; }

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// The file as named, or its .gz sibling; empty when neither exists.
std::string find_idx(const std::string& dir, const std::string& base) {
  std::error_code ec;
  for (const std::string& name : {base, base + ".gz"}) {
    const fs::path p = fs::path(dir) / name;
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  return "";
}

// The first of the four IDX files missing from dir, or empty when all are there.
std::string first_missing(const std::string& dir) {
  for (const char* base : kIdxFiles) {
    if (find_idx(dir, base).empty()) return base;
  }
  return "";
}

std::vector<std::string> idx_dirs(const std::string& name, const std::string& root) {
  std::vector<std::string> dirs = {(fs::path(root) / name).string()};
  if (name == "fashion-mnist") dirs.push_back(kSystemFashionDir);
  return dirs;
}

std::string locate_idx_set(const std::string& name, const std::string& root) {
  const std::vector<std::string> dirs = idx_dirs(name, root);
  for (const auto& dir : dirs) {
    if (first_missing(dir).empty()) return dir;
  }
  throw Error("data set '" + name + "' not found in " + dirs[0] + " (missing " +
              first_missing(dirs[0]) + "): run scripts/setup.sh, or set DEEPGEN_DATA");
}

at::Tensor idx_images(const std::string& path) {
  IdxArray a = read_idx(path);
  if (a.dims.size() != 3) throw Error("IDX file '" + path + "': expected 3 dimensions (N, H, W)");
  return at::from_blob(a.data.data(), {a.dims[0], 1, a.dims[1], a.dims[2]},
                       at::TensorOptions().dtype(at::kByte))
      .clone();  // the bytes themselves: as_values converts each batch
}

at::Tensor idx_labels(const std::string& path) {
  IdxArray a = read_idx(path);
  if (a.dims.size() != 1) throw Error("IDX file '" + path + "': expected 1 dimension (N)");
  const at::Tensor bytes =
      at::from_blob(a.data.data(), {a.dims[0]}, at::TensorOptions().dtype(at::kByte));
  return bytes.to(at::kLong);
}

Dataset idx_split(const std::string& name, const std::string& dir, const std::string& prefix) {
  const std::string images = find_idx(dir, prefix + "-images-idx3-ubyte");
  const std::string labels = find_idx(dir, prefix + "-labels-idx1-ubyte");
  Dataset d;
  d.name = name + (prefix == "train" ? "/train" : "/test");
  d.kind = Kind::image;
  d.x = idx_images(images);
  d.labels = idx_labels(labels);
  d.classes = idx_classes(name);
  if (d.labels.numel() > 0 &&
      d.labels.max().item<int64_t>() >= static_cast<int64_t>(d.classes.size())) {
    throw Error("data set '" + name + "': " + labels + " holds labels beyond 0.." +
                std::to_string(d.classes.size() - 1) +
                " (corrupt download? rerun scripts/setup.sh)");
  }
  if (d.x.size(0) != d.labels.size(0)) {
    throw Error("data set '" + name + "': " + images + " holds " + std::to_string(d.x.size(0)) +
                " images but " + labels + " holds " + std::to_string(d.labels.size(0)) +
                " labels (corrupt download? rerun scripts/setup.sh)");
  }
  return d;
}

Splits load_idx_set(const std::string& name, const std::string& root) {
  const std::string dir = locate_idx_set(name, root);
  return {idx_split(name, dir, "train"), idx_split(name, dir, "t10k")};
}

Splits load_toy(const std::string& name, const DataOptions& options) {
  Splits s;
  const std::pair<Dataset*, int64_t> parts[] = {{&s.train, options.toy_train},
                                                {&s.test, options.toy_test}};
  uint64_t split = 0;
  for (const auto& [d, n] : parts) {
    at::Generator gen = make_generator(mix_seed(options.seed, split++));
    d->x = sample_toy(name, n, gen);
    d->kind = Kind::points;
  }
  s.train.name = "toy:" + name + "/train";
  s.test.name = "toy:" + name + "/test";
  return s;
}

// Held-out count: round(N · fraction), but at least one item each side once N >= 2 and a
// fraction is asked for; none for a fraction of 0 (fit gmm fits every row).
int64_t test_count(int64_t n, double fraction) {
  if (!(fraction >= 0 && fraction < 1)) {
    throw Error(option_ref("data", "test_fraction") + " must be in [0, 1), got " +
                std::to_string(fraction));
  }
  if (n < 2 || fraction == 0) return 0;
  const auto k = static_cast<int64_t>(std::llround(static_cast<double>(n) * fraction));
  return std::clamp<int64_t>(k, 1, n - 1);
}

Dataset take_rows(const std::string& name, Kind kind, const LabelledRows& rows,
                  const at::Tensor& index) {
  Dataset d;
  d.name = name;
  d.kind = kind;
  d.x = rows.x.index_select(0, index).contiguous();
  // The same rows of the labels, so every item keeps its own; the class list stays whole.
  if (rows.labels.defined()) d.labels = rows.labels.index_select(0, index).contiguous();
  d.classes = rows.classes;
  return d;
}

Splits split_rows(const std::string& name, Kind kind, const LabelledRows& rows,
                  const DataOptions& options) {
  const int64_t n = rows.x.size(0);
  const int64_t k = test_count(n, options.test_fraction);
  at::Generator gen = make_generator(mix_seed(options.seed, 2));
  const at::Tensor perm = at::randperm(n, gen, at::kLong);
  // Sorted so each split keeps the on-disk order (file names, CSV lines).
  const at::Tensor test_idx = std::get<0>(perm.slice(0, 0, k).sort());
  const at::Tensor train_idx = std::get<0>(perm.slice(0, k).sort());
  return {take_rows(name + "/train", kind, rows, train_idx),
          take_rows(name + "/test", kind, rows, test_idx)};
}

std::string spec_argument(const std::string& spec, const std::string& prefix) {
  const std::string arg = spec.substr(prefix.size());
  if (arg.empty()) throw Error("data spec '" + spec + "' needs a value after '" + prefix + "'");
  return arg;
}

// Only a CSV has a column to name; elsewhere the option would be silently ignored.
void check_label_column(const DataOptions& options) {
  if (options.label_column.empty() || starts_with(options.spec, "csv:")) return;
  throw Error(option_ref("data", "label_column") + " applies to csv:PATH data only, not '" +
              options.spec + "': leave it out (a folder's labels are its class subfolders)");
}

}  // namespace

std::vector<int64_t> Dataset::sample_shape() const {
  if (!x.defined()) return {};
  const auto sizes = x.sizes();
  return std::vector<int64_t>(sizes.begin() + 1, sizes.end());
}

int64_t Dataset::dim() const {
  if (!x.defined()) return 0;
  int64_t d = 1;
  for (const int64_t s : sample_shape()) d *= s;
  return d;
}

at::Tensor Dataset::rows(int64_t begin, int64_t end) const {
  return as_values(x.slice(0, begin, end));
}

at::Tensor Dataset::values() const { return as_values(x); }

at::Tensor as_values(const at::Tensor& stored) {
  if (!stored.defined()) return stored;
  if (stored.scalar_type() == at::kByte) return stored.to(at::kFloat).div_(255);
  return stored.to(at::kFloat);
}

std::string data_root() {
  const char* env = std::getenv("DEEPGEN_DATA");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string(DEEPGEN_DEFAULT_DATA_ROOT);
}

Splits load_data(const DataOptions& options) {
  const std::string& spec = options.spec;
  const std::string root = options.root.empty() ? data_root() : options.root;
  check_label_column(options);
  if (spec == "mnist" || spec == "fashion-mnist") return load_idx_set(spec, root);
  if (starts_with(spec, "toy:")) return load_toy(spec_argument(spec, "toy:"), options);
  if (starts_with(spec, "folder:")) {
    const std::string path = spec_argument(spec, "folder:");
    return split_rows(spec, Kind::image, read_image_folder(path, options.image_size), options);
  }
  if (starts_with(spec, "csv:")) {
    const std::string path = spec_argument(spec, "csv:");
    return split_rows(spec, Kind::points, read_csv(path, options.label_column), options);
  }
  throw Error("unknown data set '" + spec + "' (valid: " + valid_specs() + ")");
}

std::vector<std::string> available_datasets(const std::string& root) {
  std::vector<std::string> names;
  for (const std::string name : {"mnist", "fashion-mnist"}) {
    for (const auto& dir : idx_dirs(name, root)) {
      if (first_missing(dir).empty()) {
        names.push_back(name);
        break;
      }
    }
  }
  for (const auto& toy : toy_names()) names.push_back("toy:" + toy);
  return names;
}

}  // namespace deepgen::data
