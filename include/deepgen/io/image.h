#pragma once
// Images in and out (stb): PNG/JPEG reading, PNG writing, grids of samples.
#include <ATen/core/Tensor.h>

#include <string>

namespace deepgen::io {

// PNG or JPEG as uint8 (H, W, C), C in {1, 3} (alpha dropped, grey+alpha -> grey).
// Error names the file when it is missing or not a decodable image.
at::Tensor read_image(const std::string& path);
// Images (N, C, H, W) in [0, 1] (values clamped) tiled into one (C, H', W') image, `nrow` per row.
// Like torchvision's make_grid, but the padding is mid grey (0.5): visible on black and on white.
at::Tensor image_grid(const at::Tensor& images, int64_t nrow, int64_t padding = 2);
// (C, H, W) or (H, W) in [0, 1] as PNG bytes, C in 1..4; uint8 input is taken as 0..255 pixels.
std::string encode_png(const at::Tensor& image);
void write_png(const std::string& path, const at::Tensor& image);  // atomic

}  // namespace deepgen::io
