#include "deepgen/io/image.h"

#include <stb_image.h>
#include <stb_image_write.h>

#include <climits>

#include "deepgen/core/error.h"
#include "deepgen/io/files.h"

namespace deepgen::io {
namespace {

// Mid grey separates tiles on both black-background samples (MNIST) and white-background ones,
// where torchvision's black or a white padding would merge with one of them.
constexpr float kGridPadValue = 0.5f;

std::string shape_text(const at::Tensor& t) {
  if (!t.defined()) return "an undefined tensor";
  std::string s = "(";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + ")";
}

std::string stb_reason() {
  const char* reason = stbi_failure_reason();
  return reason ? reason : "unknown format";
}

// (C, H, W) or (H, W) -> contiguous uint8 (H, W, C), the layout stb writes.
at::Tensor to_hwc_bytes(const at::Tensor& image) {
  if (!image.defined() || (image.dim() != 2 && image.dim() != 3))
    throw Error("encode_png expects an image (C, H, W) or (H, W), got " + shape_text(image));
  at::Tensor chw = image.dim() == 2 ? image.unsqueeze(0) : image;
  const int64_t c = chw.size(0), h = chw.size(1), w = chw.size(2);
  if (c < 1 || c > 4 || h < 1 || w < 1 || h > INT_MAX / 4 || w > INT_MAX / 4 / c)
    throw Error("encode_png expects 1 to 4 channels and a non-empty image, got " +
                shape_text(image));
  chw = chw.detach().to(at::kCPU);
  if (chw.scalar_type() != at::kByte)
    chw = chw.to(at::kFloat).clamp(0, 1).mul(255).round().to(at::kByte);
  return chw.permute({1, 2, 0}).contiguous();
}

void append_to_string(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), size);
}

}  // namespace

at::Tensor read_image(const std::string& path) {
  const std::string bytes = read_file(path);
  if (bytes.size() > INT_MAX) throw Error("cannot decode image " + path + ": file too large");
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int len = static_cast<int>(bytes.size());
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(data, len, &w, &h, &comp))
    throw Error("cannot decode image " + path + ": " + stb_reason());
  const int channels = comp <= 2 ? 1 : 3;  // grey(+alpha) -> grey, RGB(A) -> RGB
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load_from_memory(data, len, &w, &h, &comp, channels), stbi_image_free);
  if (!pixels) throw Error("cannot decode image " + path + ": " + stb_reason());
  return at::from_blob(pixels.get(), {h, w, channels}, at::kByte).clone();
}

at::Tensor image_grid(const at::Tensor& images, int64_t nrow, int64_t padding) {
  if (!images.defined() || images.dim() != 4 || images.size(0) == 0)
    throw Error("image_grid expects images (N, C, H, W) with N > 0, got " + shape_text(images));
  if (nrow < 1 || padding < 0)
    throw Error("image_grid needs nrow >= 1 and padding >= 0, got nrow " + std::to_string(nrow) +
                ", padding " + std::to_string(padding));
  const at::Tensor x = images.detach().to(at::kCPU, at::kFloat).clamp(0, 1);
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t cols = std::min(nrow, n), rows = (n + cols - 1) / cols;
  const int64_t cell_h = h + padding, cell_w = w + padding;
  at::Tensor grid = at::full({c, rows * cell_h + padding, cols * cell_w + padding}, kGridPadValue,
                             at::TensorOptions().dtype(at::kFloat));
  for (int64_t k = 0; k < n; ++k) {
    const int64_t top = (k / cols) * cell_h + padding, left = (k % cols) * cell_w + padding;
    grid.narrow(1, top, h).narrow(2, left, w).copy_(x[k]);
  }
  return grid;
}

std::string encode_png(const at::Tensor& image) {
  const at::Tensor hwc = to_hwc_bytes(image);
  const int h = static_cast<int>(hwc.size(0)), w = static_cast<int>(hwc.size(1));
  const int c = static_cast<int>(hwc.size(2));
  std::string png;
  if (!stbi_write_png_to_func(append_to_string, &png, w, h, c, hwc.data_ptr(), w * c))
    throw Error("PNG encoding failed for an image " + shape_text(image));
  return png;
}

void write_png(const std::string& path, const at::Tensor& image) {
  write_file_atomic(path, encode_png(image));
}

}  // namespace deepgen::io
