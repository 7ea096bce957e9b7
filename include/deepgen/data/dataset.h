#pragma once
// Data sets by spec string, held in memory as one tensor and split into train / test.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace deepgen::data {

enum class Kind { image, points };

struct Dataset {
  std::string name;  // e.g. "mnist/train"
  Kind kind = Kind::points;
  // float32 on CPU. Images: (N, C, H, W) with values in [0, 1]. Points: (N, D), raw units.
  at::Tensor x;
  at::Tensor labels;  // int64 (N), or undefined when the data have none

  int64_t size() const { return x.defined() ? x.size(0) : 0; }
  std::vector<int64_t> sample_shape() const;  // shape of one sample, e.g. {1, 28, 28}
  int64_t dim() const;                        // numbers per sample (D)
};

struct Splits {
  Dataset train;
  Dataset test;
};

struct DataOptions {
  // mnist | fashion-mnist | folder:PATH | toy:NAME | csv:PATH
  std::string spec = "mnist";
  std::string root;    // empty: data_root()
  int image_size = 0;  // folder: resize every image to image_size² (0: keep; sizes must match)
  int64_t toy_train = 50000;  // toy: points generated for each split
  int64_t toy_test = 10000;
  double test_fraction = 0.1;  // folder / csv: share held out for test
  uint64_t seed = 0;           // toy generation and folder / csv split
};

// $DEEPGEN_DATA when set, else the repository's data/ (fixed at build time).
std::string data_root();
// Loads the data set named by options.spec; throws deepgen::Error naming the spec / file and the
// fix (e.g. "run scripts/setup.sh") when it is missing, unknown or corrupt.
Splits load_data(const DataOptions& options);
// Data set names whose files are present under root (for `deepgen info`), plus toy:* names.
std::vector<std::string> available_datasets(const std::string& root);

}  // namespace deepgen::data
