#pragma once
// User data on disk: a folder of images, or a CSV of points.
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace deepgen::data {

// Rows read from disk with their labels: labels is int64 (N) and classes[k] names label k, or
// labels is undefined and classes empty when the data have none.
struct LabelledRows {
  at::Tensor x;
  at::Tensor labels;
  std::vector<std::string> classes;
};

// The PNG/JPEG images under `folder` as (N, C, H, W): their bytes (uint8, read through
// as_values), or with image_size > 0 resized to a square as float32 in [0, 1]. C is 1 when all
// images are grey, else 3 (grey images are repeated). Two layouts, as torchvision reads them:
// - flat: the images directly in `folder`, sorted by name, unlabelled;
// - ImageFolder: one subfolder per class, classes sorted by name (std::sort), each class's images
//   found recursively in its subfolder (sorted as os.walk visits them), label = class index.
//   Subfolders without images and hidden ones (".name", e.g. .ipynb_checkpoints) are not classes.
// Errors: missing folder, no images, both layouts at once, unreadable file, mixed sizes without
// image_size.
LabelledRows read_image_folder(const std::string& folder, int image_size);
// read_image_folder's images alone.
at::Tensor load_image_folder(const std::string& folder, int image_size);

// Numeric CSV (comma separated, optional header line) as float32 (N, D). The first line is a
// header when one of its feature fields is not a number. With a label_column (see
// DataOptions::label_column: a header name, else an all-digits value is a 0-based index) that
// column is taken out of the features and its values become the classes: sorted numerically when
// every value is an integer (named by the integer, "2" before "10"), else the distinct strings
// sorted. Errors name the file, the line and the defect (ragged row, non-number, empty file,
// empty label, unknown label column, no feature column left).
LabelledRows read_csv(const std::string& path, const std::string& label_column);
// read_csv without a label column: the points alone.
at::Tensor read_csv_points(const std::string& path);

}  // namespace deepgen::data
