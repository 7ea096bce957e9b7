#pragma once
// The IDX targets' shared half: after read_idx accepts a file, the same bytes go through the data
// set loader as one of MNIST's four files (the shapes it then assumes: 3 dims for images, 1 for
// labels, equal counts), beside three valid ones.
#include <filesystem>
#include <string>

#include "data/idx_helpers.h"
#include "deepgen/data/dataset.h"
#include "deepgen/data/idx.h"
#include "fuzz_support.h"

namespace deepgen::fuzz {

inline std::string idx_seed(const std::vector<uint32_t>& dims) {
  size_t n = 1;
  for (const uint32_t d : dims) n *= d;
  std::vector<uint8_t> payload(n);
  for (size_t i = 0; i < n; ++i) payload[i] = static_cast<uint8_t>(i * 37 % 256);
  return deepgen::testing::idx_bytes(dims, payload);
}

// Valid IDX files: images (N, H, W), labels (N), and the other dimension counts the format allows.
inline void write_idx_seeds(const std::string& dir, bool gzip) {
  const std::pair<const char*, std::vector<uint32_t>> seeds[] = {{"images-3x4x5", {3, 4, 5}},
                                                                 {"labels-3", {3}},
                                                                 {"matrix-2x6", {2, 6}},
                                                                 {"tensor-2x2x2x3", {2, 2, 2, 3}},
                                                                 {"images-1x28x28", {1, 28, 28}}};
  for (const auto& [name, dims] : seeds) {
    const std::string path = dir + "/" + name + (gzip ? ".gz" : "");
    if (gzip) {
      deepgen::testing::write_gzip(path, idx_seed(dims));
    } else {
      deepgen::testing::write_raw(path, idx_seed(dims));
    }
  }
}

// read_idx on `path`; when it accepts the file, the MNIST loader with it in place of the images
// (3 dims) or the labels (1 dim) of the training split, beside a valid partner of as many
// examples and a valid test split.
inline void check_idx_file(const std::string& path) {
  namespace fs = std::filesystem;
  const data::IdxArray a = data::read_idx(path);
  int64_t count = 1;
  for (const int64_t d : a.dims) count *= d;
  if (a.dims.empty() || count != static_cast<int64_t>(a.data.size())) {
    std::fprintf(stderr, "fuzz: idx: accepted a file whose data is not prod(dims) bytes\n");
    std::abort();
  }
  if (a.dims.size() != 3 && a.dims.size() != 1) return;
  const std::string root = scratch() + "/root";
  const std::string dir = root + "/mnist";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto n = static_cast<uint32_t>(a.dims[0]);
  const bool images = a.dims.size() == 3;
  deepgen::testing::write_raw(dir + "/t10k-images-idx3-ubyte", idx_seed({2, 3, 3}));
  deepgen::testing::write_raw(dir + "/t10k-labels-idx1-ubyte", idx_seed({2}));
  deepgen::testing::write_raw(
      dir + (images ? "/train-labels-idx1-ubyte" : "/train-images-idx3-ubyte"),
      images ? idx_seed({n}) : idx_seed({n, 1, 1}));
  fs::copy_file(path, dir + (images ? "/train-images-idx3-ubyte" : "/train-labels-idx1-ubyte"));
  data::DataOptions options;
  options.root = root;
  options.spec = "mnist";
  data::load_data(options);
}

}  // namespace deepgen::fuzz
