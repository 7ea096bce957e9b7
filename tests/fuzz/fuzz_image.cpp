// Images as a folder: data set holds them (src/data/files.cpp load_image_folder, through
// src/io/image.cpp read_image and stb_image): the input is one file of the folder, read at its own
// size and, when that works, resized. This target compiles stb_image itself (stb_image_impl.cpp)
// so that the decoder is instrumented too; its definitions take the place of libstb's.
#include <stb_image_write.h>
#include <zlib.h>

#include <filesystem>

#include "deepgen/data/files.h"
#include "fuzz_support.h"

namespace {

using deepgen::fuzz::write_bytes;

void fuzz_folder(const std::string& name, const uint8_t* data, size_t size) {
  const std::string dir = deepgen::fuzz::scratch() + "/images";
  std::filesystem::create_directories(dir);
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    std::filesystem::remove(entry.path());
  write_bytes(dir + "/" + name, data, size);
  const at::Tensor bytes = deepgen::data::load_image_folder(dir, 0);
  const at::Tensor resized = deepgen::data::load_image_folder(dir, 7);
  // As promised: one image (1, C, H, W), C 1 or 3, bytes at its size, [0, 1] floats resized.
  const bool ok = bytes.scalar_type() == at::kByte && bytes.dim() == 4 && bytes.size(0) == 1 &&
                  (bytes.size(1) == 1 || bytes.size(1) == 3) &&
                  resized.scalar_type() == at::kFloat &&
                  resized.sizes() == at::IntArrayRef{1, bytes.size(1), 7, 7} &&
                  resized.min().item<float>() >= 0 && resized.max().item<float>() <= 1;
  if (!ok) {
    std::fprintf(stderr, "fuzz: image: the folder loaded as %s / %s\n",
                 c10::str(bytes.sizes()).c_str(), c10::str(resized.sizes()).c_str());
    std::abort();
  }
}

// ---- seeds: a minimal PNG writer (every colour type and bit depth stb reads, and Adam7) ----

void put_be32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

void chunk(std::string& png, const char* type, const std::string& body) {
  put_be32(png, static_cast<uint32_t>(body.size()));
  const std::string typed = std::string(type, 4) + body;
  png += typed;
  put_be32(png, static_cast<uint32_t>(
                    crc32(0, reinterpret_cast<const Bytef*>(typed.data()), typed.size())));
}

// Samples per pixel of each PNG colour type.
int samples_of(int colour_type) {
  switch (colour_type) {
    case 0:
      return 1;  // grey
    case 2:
      return 3;  // RGB
    case 3:
      return 1;  // palette index
    case 4:
      return 2;  // grey + alpha
    default:
      return 4;  // RGBA
  }
}

// One scanline of `w` pixels, each sample `depth` bits, the value a pattern of (x, y, sample).
std::string scanline(int w, int y, int depth, int colour_type, int xs, int xstep) {
  const int samples = samples_of(colour_type);
  const int max = depth == 16 ? 65535 : (1 << depth) - 1;
  std::string bits;
  uint32_t acc = 0;
  int nbits = 0;
  for (int x = xs; x < w; x += xstep) {
    for (int s = 0; s < samples; ++s) {
      const int v = (x * 53 + y * 31 + s * 97) % (colour_type == 3 ? 4 : max + 1);
      if (depth == 16) {
        bits.push_back(static_cast<char>(v >> 8));
        bits.push_back(static_cast<char>(v & 255));
        continue;
      }
      acc = acc << depth | static_cast<uint32_t>(v);
      nbits += depth;
      while (nbits >= 8) {
        bits.push_back(static_cast<char>(acc >> (nbits - 8)));
        nbits -= 8;
        acc &= (1u << nbits) - 1;
      }
    }
  }
  if (nbits > 0) bits.push_back(static_cast<char>(acc << (8 - nbits)));
  return bits;
}

std::string png(int w, int h, int depth, int colour_type, bool interlaced) {
  std::string raw;
  if (!interlaced) {
    for (int y = 0; y < h; ++y) raw += '\0' + scanline(w, y, depth, colour_type, 0, 1);
  } else {
    const int xs[] = {0, 4, 0, 2, 0, 1, 0}, ys[] = {0, 0, 4, 0, 2, 0, 1};
    const int dx[] = {8, 8, 4, 4, 2, 2, 1}, dy[] = {8, 8, 8, 4, 4, 2, 2};
    for (int p = 0; p < 7; ++p) {
      if (xs[p] >= w) continue;
      for (int y = ys[p]; y < h; y += dy[p])
        raw += '\0' + scanline(w, y, depth, colour_type, xs[p], dx[p]);
    }
  }
  uLongf packed_size = compressBound(raw.size());
  std::string packed(packed_size, '\0');
  compress(reinterpret_cast<Bytef*>(packed.data()), &packed_size,
           reinterpret_cast<const Bytef*>(raw.data()), raw.size());
  packed.resize(packed_size);
  std::string out = "\x89PNG\r\n\x1a\n";
  std::string ihdr;
  put_be32(ihdr, static_cast<uint32_t>(w));
  put_be32(ihdr, static_cast<uint32_t>(h));
  ihdr += {static_cast<char>(depth), static_cast<char>(colour_type), 0, 0,
           static_cast<char>(interlaced ? 1 : 0)};
  chunk(out, "IHDR", ihdr);
  if (colour_type == 3) {
    chunk(out, "PLTE", std::string("\x00\x00\x00\xff\x00\x00\x00\xff\x00\x00\x00\xff", 12));
    chunk(out, "tRNS", std::string("\xff\x80", 2));
  }
  chunk(out, "IDAT", packed);
  chunk(out, "IEND", "");
  return out;
}

void append(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), size);
}

std::string jpeg(int w, int h, int channels, int quality) {
  std::vector<uint8_t> pixels(static_cast<size_t>(w * h * channels));
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 29 % 256);
  std::string out;
  stbi_write_jpg_to_func(append, &out, w, h, channels, pixels.data(), quality);
  return out;
}

}  // namespace

void fuzz_one(const uint8_t* data, size_t size) { fuzz_folder("input.png", data, size); }

void write_seeds(const std::string& dir) {
  struct Seed {
    const char* name;
    int w, h, depth, colour_type;
    bool interlaced;
  };
  const Seed seeds[] = {
      {"grey8-5x4.png", 5, 4, 8, 0, false},       {"grey1-9x3.png", 9, 3, 1, 0, false},
      {"grey16-3x3.png", 3, 3, 16, 0, false},     {"grey-alpha-4x4.png", 4, 4, 8, 4, false},
      {"rgb8-6x5.png", 6, 5, 8, 2, false},        {"rgba8-4x3.png", 4, 3, 8, 6, false},
      {"rgb16-2x2.png", 2, 2, 16, 2, false},      {"palette2-7x3.png", 7, 3, 2, 3, false},
      {"rgb8-adam7-10x9.png", 10, 9, 8, 2, true}, {"grey4-adam7-9x9.png", 9, 9, 4, 0, true},
  };
  for (const auto& s : seeds)
    write_bytes(dir + "/" + s.name, png(s.w, s.h, s.depth, s.colour_type, s.interlaced));
  write_bytes(dir + "/grey-8x8.jpg", jpeg(8, 8, 1, 90));
  write_bytes(dir + "/rgb-17x9.jpg", jpeg(17, 9, 3, 75));
  write_bytes(dir + "/rgb-16x16-q100.jpg", jpeg(16, 16, 3, 100));
}
