#pragma once
// Writers of IDX files (raw and gzip) for the data tests.
#include <zlib.h>

#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace deepgen::testing {

// Header (magic 0 0 type ndim, big-endian dims) followed by the payload.
inline std::string idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data,
                             uint8_t type = 0x08) {
  std::string out = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (const uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(d >> shift));
  }
  out.append(data.begin(), data.end());
  return out;
}

inline void write_raw(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

inline void write_gzip(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("gzopen failed: " + path);
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

inline std::string read_raw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A fake MNIST split: n images of 28x28 whose pixel i of image k is (k + i) % 256, labels k % 10.
inline void write_fake_mnist(const std::string& dir, const std::string& prefix, uint32_t n,
                             bool gzip = false) {
  std::vector<uint8_t> pixels(n * 28 * 28), labels(n);
  for (uint32_t k = 0; k < n; ++k) {
    for (uint32_t i = 0; i < 28 * 28; ++i) pixels[k * 28 * 28 + i] = (k + i) % 256;
    labels[k] = k % 10;
  }
  const std::string ext = gzip ? ".gz" : "";
  const auto write = gzip ? write_gzip : write_raw;
  write(dir + "/" + prefix + "-images-idx3-ubyte" + ext, idx_bytes({n, 28, 28}, pixels));
  write(dir + "/" + prefix + "-labels-idx1-ubyte" + ext, idx_bytes({n}, labels));
}

}  // namespace deepgen::testing
