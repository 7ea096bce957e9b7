#include "deepgen/io/image.h"

#include <stb_image.h>
#include <stb_image_write.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <filesystem>
#include <fstream>

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

// ---- JPEG checks before stb_image sees the bytes ----
//
// Debian 12's stb_image (2.27) trusts a DHT segment's code counts: more than 256 codes in one
// Huffman table write past its arrays (in stbi_info too), which stb fixed in 2.28. The segments
// are checked here first, found as stb finds them: markers between segments (stray bytes
// skipped), and after each scan's entropy-coded data the next 0xFF that is neither a stuffed
// 0x00 nor a restart marker.
class JpegWalker {
 public:
  explicit JpegWalker(const std::string& bytes) : b_(bytes) {}

  // The first defect stb_image would not survive, or "" (also for what is not a JPEG at all:
  // stb then reports it).
  std::string defect() {
    size_t pos = 0;  // SOI, after any 0xFF fill bytes as stb allows
    while (pos < b_.size() && byte(pos) == 0xff) ++pos;
    if (pos == 0 || pos >= b_.size() || byte(pos++) != 0xd8) return "";
    while (pos < b_.size()) {
      while (pos < b_.size() && byte(pos) != 0xff) ++pos;  // stray bytes
      while (pos < b_.size() && byte(pos) == 0xff) ++pos;  // fill bytes
      if (pos >= b_.size()) return "";
      const uint8_t marker = byte(pos++);
      if (marker == 0xd9) return "";  // EOI
      if (marker == 0x00 || marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;
      if (pos + 2 > b_.size()) return "";
      const size_t length = size_t{byte(pos)} << 8 | byte(pos + 1);
      if (marker == 0xc4) {
        const std::string d = huffman_defect(pos + 2, length);
        if (!d.empty()) return d;
      }
      pos += std::max<size_t>(length, 2);
      if (marker == 0xda) pos = after_entropy_data(pos);
    }
    return "";
  }

 private:
  uint8_t byte(size_t i) const { return i < b_.size() ? static_cast<uint8_t>(b_[i]) : 0; }

  // stb reads a DHT segment's tables one after another while its length is not used up (reading
  // zeros past the end of the file), each table 1 + 16 count bytes and then as many symbols.
  std::string huffman_defect(size_t pos, size_t length) const {
    for (long left = static_cast<long>(length) - 2; left > 0 && pos < b_.size();) {
      size_t codes = 0;
      for (size_t i = 1; i <= 16; ++i) codes += byte(pos + i);
      if (codes > 256)
        return "corrupt JPEG: a Huffman table (DHT segment) declares " + std::to_string(codes) +
               " codes, at most 256 are possible";
      pos += 17 + codes;
      left -= static_cast<long>(17 + codes);
    }
    return "";
  }

  // The position of the marker that ends a scan's entropy-coded data.
  size_t after_entropy_data(size_t pos) const {
    for (; pos + 1 < b_.size(); ++pos) {
      if (byte(pos) != 0xff) continue;
      size_t next = pos + 1;
      while (next < b_.size() && byte(next) == 0xff) ++next;
      const uint8_t m = byte(next);
      if (next < b_.size() && m != 0x00 && !(m >= 0xd0 && m <= 0xd7)) return pos;
      pos = next;
    }
    return b_.size();
  }

  const std::string& b_;
};

// Debian's stb_image reserves a PNG's IDAT data at the length a chunk declares, before reading
// it: a few bytes claiming gigabytes would allocate them. A chunk longer than the rest of the
// file is refused first (stb reads chunks up to IEND, so only those are walked).
std::string png_defect(const std::string& b) {
  static const char kSignature[] = "\x89PNG\r\n\x1a\n";
  if (b.compare(0, 8, kSignature, 8) != 0) return "";
  const auto be32 = [&](size_t i) {
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) v = v << 8 | static_cast<uint8_t>(b[i + k]);
    return v;
  };
  for (size_t pos = 8; pos + 8 <= b.size();) {
    const uint32_t length = be32(pos);
    const std::string type = b.substr(pos + 4, 4);
    const size_t left = b.size() - pos - 8;
    if (length > left) {
      std::string name;
      for (const char c : type) name += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
      return "corrupt PNG: chunk '" + name + "' declares " + std::to_string(length) +
             " bytes but only " + std::to_string(left) + " follow (truncated file?)";
    }
    if (type == "IEND") break;
    pos += 12 + size_t{length};  // length, type, data, CRC
  }
  return "";
}

// Larger images are refused before decoding: stb sizes its buffers from the header (a 16-bit RGBA
// PNG needs 8 bytes a pixel while decoding), so a tiny corrupt file could ask for gigabytes.
constexpr int64_t kMaxPixels = int64_t{1} << 26;  // 8192 x 8192

}  // namespace

at::Tensor read_image(const std::string& path) {
  const std::string bytes = read_file(path);
  if (bytes.size() > INT_MAX) throw Error("cannot decode image " + path + ": file too large");
  for (const std::string& defect : {JpegWalker(bytes).defect(), png_defect(bytes)})
    if (!defect.empty()) throw Error("cannot decode image " + path + ": " + defect);
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int len = static_cast<int>(bytes.size());
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(data, len, &w, &h, &comp))
    throw Error("cannot decode image " + path + ": " + stb_reason());
  if (w < 1 || h < 1)  // stb's PNM reader accepts a header of 0 x 0 pixels
    throw Error("image " + path + " is " + std::to_string(w) + "x" + std::to_string(h) +
                " pixels: not an image");
  if (int64_t{w} * h > kMaxPixels)
    throw Error("image " + path + " is " + std::to_string(w) + "x" + std::to_string(h) +
                " pixels, more than the " + std::to_string(kMaxPixels) +
                " (8192x8192) deepgen reads: shrink it first");
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

namespace {

const float kScatterColours[][3] = {{0.55f, 0.55f, 0.55f},
                                    {0.12f, 0.47f, 0.71f},
                                    {0.84f, 0.15f, 0.16f},
                                    {0.17f, 0.63f, 0.17f},
                                    {0.58f, 0.40f, 0.74f}};

// Centre and half-width of a square view holding every finite point, with a 5% margin.
std::pair<at::Tensor, double> scatter_view(const std::vector<at::Tensor>& sets) {
  std::vector<at::Tensor> finite;
  for (const auto& s : sets) finite.push_back(s.index({torch::isfinite(s).all(1)}));
  const at::Tensor all = at::cat(finite);
  if (all.size(0) == 0) return {at::zeros({2}, at::kDouble), 1.0};
  const at::Tensor lo = std::get<0>(all.min(0)), hi = std::get<0>(all.max(0));
  const double half = std::max(1e-9, 0.5 * (hi - lo).max().item<double>()) * 1.05;
  return {(lo + hi) / 2, half};
}

}  // namespace

at::Tensor scatter_image(const std::vector<at::Tensor>& point_sets, int64_t size, int64_t dot) {
  if (size < 8 || dot < 1 || dot > size)
    throw Error("scatter_image: needs size >= 8 and 1 <= dot <= size");
  std::vector<at::Tensor> sets;
  for (const auto& s : point_sets) {
    if (!s.defined() || s.dim() != 2 || s.size(1) != 2)
      throw Error("scatter_image expects point sets (N, 2), got " + shape_text(s));
    sets.push_back(s.detach().to(at::kCPU, at::kDouble));
  }
  at::Tensor image = at::ones({3, size, size}, at::kFloat);
  if (sets.empty()) return image;
  auto [centre, half] = scatter_view(sets);
  const int64_t colours = sizeof(kScatterColours) / sizeof(kScatterColours[0]);
  for (size_t k = 0; k < sets.size(); ++k) {
    at::Tensor p = sets[k].index({torch::isfinite(sets[k]).all(1)});
    // Pixel coordinates; y grows upwards on screen.
    at::Tensor uv = ((p - centre) / (2 * half) + 0.5) * (size - 1);
    const at::Tensor col = uv.select(1, 0).round().to(at::kLong);
    const at::Tensor row = (size - 1 - uv.select(1, 1)).round().to(at::kLong);
    for (int64_t dy = 0; dy < dot; ++dy)
      for (int64_t dx = 0; dx < dot; ++dx) {
        const at::Tensor flat =
            (row + dy).clamp_max(size - 1) * size + (col + dx).clamp_max(size - 1);
        for (int64_t c = 0; c < 3; ++c)
          image[c].view({-1}).index_fill_(0, flat, kScatterColours[k % colours][c]);
      }
  }
  return image;
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

namespace {

std::filesystem::path folder_of(const std::string& dir) {
  const std::filesystem::path target = std::filesystem::path(dir).lexically_normal();
  return target.filename().empty() ? target.parent_path() : target;  // "a/b/" -> "a/b"
}

}  // namespace

void check_new_folder(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path folder = folder_of(dir);
  std::error_code ec;
  if (fs::exists(folder, ec) && !(fs::is_directory(folder, ec) && fs::is_empty(folder, ec)))
    throw Error(folder.string() + " exists and is not an empty folder: choose a new one");
}

void write_png_folder(const std::string& dir, const at::Tensor& images) {
  namespace fs = std::filesystem;
  if (images.dim() != 4) throw Error("write_png_folder: images must be (N, C, H, W)");
  check_new_folder(dir);
  const fs::path folder = folder_of(dir);
  std::error_code ec;
  if (folder.has_parent_path()) make_dirs(folder.parent_path().string());
  const fs::path tmp = folder.string() + ".tmp." + std::to_string(::getpid());
  fs::remove_all(tmp, ec);
  try {
    make_dirs(tmp.string());
    const int64_t n = images.size(0);
    const size_t width = std::max<size_t>(6, std::to_string(n - 1).size());
    for (int64_t i = 0; i < n; ++i) {
      std::string name = std::to_string(i);
      name.insert(0, width - name.size(), '0');
      // Plain writes: the whole folder is the temp file, renamed once at the end.
      const std::string png = encode_png(images[i]), file = (tmp / (name + ".png")).string();
      std::ofstream out(file, std::ios::binary);
      out.write(png.data(), static_cast<std::streamsize>(png.size()));
      out.close();
      if (!out) throw Error("cannot write " + file + " (disk full?)");
    }
    fs::remove(folder, ec);  // an empty folder given by the user
    fs::rename(tmp, folder);
  } catch (const std::exception& e) {
    fs::remove_all(tmp, ec);
    if (dynamic_cast<const Error*>(&e)) throw;
    throw Error("cannot write the folder " + folder.string() + ": " + e.what());
  }
}

}  // namespace deepgen::io
