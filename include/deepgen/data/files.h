#pragma once
// User data on disk: a folder of images, or a CSV of points.
#include <ATen/core/Tensor.h>

#include <string>

namespace deepgen::data {

// Every PNG/JPEG in `folder` (sorted by name) as (N, C, H, W): their bytes (uint8, read through
// as_values), or with image_size > 0 resized to a square as float32 in [0, 1]. C is 1 when all
// images are grey, else 3 (grey images are repeated).
// Errors: missing folder, no images, unreadable file, mixed sizes without image_size.
at::Tensor load_image_folder(const std::string& folder, int image_size);

// Numeric CSV (comma separated, optional header line) as float32 (N, D). Errors name the file,
// the line and the defect (ragged row, non-number, empty file).
at::Tensor read_csv_points(const std::string& path);

}  // namespace deepgen::data
