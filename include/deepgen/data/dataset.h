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
  // On CPU, as stored. Images: (N, C, H, W); 8-bit sources (IDX, PNG/JPEG folders kept at their
  // size) hold their bytes as uint8 0..255, a quarter of float32's memory, and read as k / 255;
  // resized images are float32 in [0, 1]. Points: float32 (N, D), raw units. Read it through
  // values(), rows() or gather() (loader.h), which give float32 in data units.
  at::Tensor x;
  at::Tensor labels;  // int64 (N), or undefined when the data have none
  // The class names, classes[k] naming label k (MNIST "0".."9", a folder's class subfolders, a
  // CSV's label values); empty when the data have no labels. Both splits hold the same list, so
  // a class missing from one split keeps its index.
  std::vector<std::string> classes;

  int64_t size() const { return x.defined() ? x.size(0) : 0; }
  std::vector<int64_t> sample_shape() const;          // shape of one sample, e.g. {1, 28, 28}
  int64_t dim() const;                                // numbers per sample (D)
  at::Tensor rows(int64_t begin, int64_t end) const;  // rows [begin, end) as float32 data units
  at::Tensor values() const;                          // every row as float32 (a copy for bytes)
};

// A stored tensor in data units: uint8 bytes k as float32 k / 255 (the 8-bit pixel scale),
// anything else as float32. Elementwise, so a batch converts exactly as the whole set would.
at::Tensor as_values(const at::Tensor& stored);

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
  std::string label_column;    // csv: the label column, a header name or a 0-based index ("": none)
};

// $DEEPGEN_DATA when set, else the repository's data/ (fixed at build time).
std::string data_root();
// Loads the data set named by options.spec; throws deepgen::Error naming the spec / file and the
// fix (e.g. "run scripts/setup.sh") when it is missing, unknown or corrupt.
Splits load_data(const DataOptions& options);
// Data set names whose files are present under root (for `deepgen info`), plus toy:* names.
std::vector<std::string> available_datasets(const std::string& root);

}  // namespace deepgen::data
