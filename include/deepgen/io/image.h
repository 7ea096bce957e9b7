#pragma once
// Images in and out (stb): PNG/JPEG reading, PNG writing, grids of samples.
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace deepgen::io {

// PNG or JPEG as uint8 (H, W, C), C in {1, 3} (alpha dropped, grey+alpha -> grey).
// Error names the file when it is missing or not a decodable image.
at::Tensor read_image(const std::string& path);
// Images (N, C, H, W) in [0, 1] (values clamped) tiled into one (C, H', W') image, `nrow` per row.
// Like torchvision's make_grid, but the padding is mid grey (0.5): visible on black and on white.
at::Tensor image_grid(const at::Tensor& images, int64_t nrow, int64_t padding = 2);
// (C, H, W) or (H, W) in [0, 1] as PNG bytes, C in 1..4; uint8 input is taken as 0..255 pixels.
std::string encode_png(const at::Tensor& image);
// 2-D point sets drawn as a (3, size, size) scatter image in [0, 1] on white, each set in its own
// colour (first: grey, then blue, red, green, ...), later sets on top. The view is the bounding
// box of every finite point with a 5% margin, the same scale on both axes. Points must be (N, 2)
// and are drawn as dot x dot squares.
at::Tensor scatter_image(const std::vector<at::Tensor>& point_sets, int64_t size = 512,
                         int64_t dot = 2);
void write_png(const std::string& path, const at::Tensor& image);  // atomic
// Images (N, C, H, W) in [0, 1] as one PNG each, DIR/000000.png, 000001.png, ... (zero-padded to
// the same width: sorted by name is sorted by index), the layout pytorch-fid and clean-fid read.
// The folder appears whole or not at all: written beside it, then renamed. An existing DIR must
// be empty (an error names it otherwise: nothing of an earlier sampling is mixed in).
void write_png_folder(const std::string& dir, const at::Tensor& images);
// The check write_png_folder makes first, for callers that want it before the work: an error
// unless `dir` is a new or empty folder.
void check_new_folder(const std::string& dir);

}  // namespace deepgen::io
