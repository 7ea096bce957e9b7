#include "deepgen/data/idx.h"

#include <zlib.h>

#include <cstdio>
#include <limits>
#include <string>

#include "deepgen/core/error.h"

namespace deepgen::data {
namespace {

constexpr uint8_t kUnsignedByteType = 0x08;
constexpr int kMaxDims = 4;

[[noreturn]] void fail(const std::string& path, const std::string& defect) {
  throw Error("IDX file '" + path + "': " + defect);
}

// Reads the first two bytes ourselves: gzopen reads non-gzip files transparently, so only the
// magic tells whether a decode failure means a corrupt gzip stream or a bad raw file.
bool has_gzip_magic(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) fail(path, "missing or unreadable (run scripts/setup.sh, or check the path)");
  unsigned char magic[2] = {0, 0};
  const size_t got = std::fread(magic, 1, 2, f);
  std::fclose(f);
  return got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

std::string gz_error(gzFile file) {
  int code = Z_OK;
  const char* msg = gzerror(file, &code);
  return code == Z_OK ? std::string() : std::string(msg);
}

// Whole file, decompressed when gzip. zlib reports a truncated stream as Z_BUF_ERROR on the
// handle rather than as a negative gzread count, so the handle's error is checked at the end.
std::string read_all(const std::string& path, bool gzip) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) fail(path, "missing or unreadable");
  gzbuffer(file, 1 << 20);
  std::string bytes;
  std::string chunk(1 << 20, '\0');
  int got = 0;
  while ((got = gzread(file, chunk.data(), static_cast<unsigned>(chunk.size()))) > 0) {
    bytes.append(chunk.data(), static_cast<size_t>(got));
  }
  std::string error = gz_error(file);
  const int close_code = gzclose_r(file);
  if (error.empty() && close_code != Z_OK) error = "stream ended early";
  if (!error.empty()) {
    fail(path, gzip ? "corrupt gzip stream (" + error + ")" : "read error (" + error + ")");
  }
  return bytes;
}

uint32_t read_be32(const std::string& bytes, size_t offset) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(bytes[offset + i]);
  return v;
}

// Checks the 4 magic bytes and returns ndim.
int parse_magic(const std::string& path, const std::string& bytes) {
  if (bytes.size() < 4) fail(path, "truncated: no 4-byte magic number");
  const auto b = [&](size_t i) { return static_cast<uint8_t>(bytes[i]); };
  if (b(0) != 0 || b(1) != 0) fail(path, "bad magic number (not an IDX file)");
  if (b(2) != kUnsignedByteType) {
    char hex[8];
    std::snprintf(hex, sizeof(hex), "0x%02x", b(2));
    fail(path, std::string("unsupported element type ") + hex + " (only unsigned byte 0x08)");
  }
  if (b(3) < 1 || b(3) > kMaxDims) {
    fail(path, "bad magic number: unsupported dimension count " + std::to_string(b(3)));
  }
  return b(3);
}

std::vector<int64_t> parse_dims(const std::string& path, const std::string& bytes, int ndim) {
  const size_t header = 4 + 4 * static_cast<size_t>(ndim);
  if (bytes.size() < header) fail(path, "truncated: header ends inside the dimension sizes");
  std::vector<int64_t> dims;
  for (int i = 0; i < ndim; ++i) {
    const uint32_t d = read_be32(bytes, 4 + 4 * static_cast<size_t>(i));
    if (d == 0) fail(path, "bad header: dimension " + std::to_string(i) + " has size 0");
    dims.push_back(d);
  }
  return dims;
}

// prod(dims), or -1 when it cannot be held in memory anyway.
int64_t element_count(const std::vector<int64_t>& dims) {
  int64_t count = 1;
  for (const int64_t d : dims) {
    if (count > std::numeric_limits<int64_t>::max() / d) return -1;
    count *= d;
  }
  return count;
}

}  // namespace

IdxArray read_idx(const std::string& path) {
  const bool gzip = has_gzip_magic(path);
  const std::string bytes = read_all(path, gzip);
  const int ndim = parse_magic(path, bytes);
  IdxArray out;
  out.dims = parse_dims(path, bytes, ndim);
  const size_t header = 4 + 4 * static_cast<size_t>(ndim);
  const auto payload = static_cast<int64_t>(bytes.size() - header);
  const int64_t expected = element_count(out.dims);
  if (expected < 0) fail(path, "bad header: dimension sizes overflow 64 bits");
  if (payload < expected) {
    fail(path, "truncated: expected " + std::to_string(expected) + " bytes of data, found " +
                   std::to_string(payload));
  }
  if (payload > expected) {
    fail(path, "extra data: expected " + std::to_string(expected) + " bytes of data, found " +
                   std::to_string(payload));
  }
  out.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return out;
}

}  // namespace deepgen::data
