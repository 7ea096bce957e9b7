#pragma once
// IDX files (the MNIST format), raw or gzip-compressed, with validation.
#include <cstdint>
#include <string>
#include <vector>

namespace deepgen::data {

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;  // row-major, prod(dims) bytes
};

// Reads an unsigned-byte IDX file (magic 0x00 0x00 0x08 ndim), gzip detected by its magic bytes.
// Throws deepgen::Error naming the file and the defect: missing, bad magic, unsupported type,
// truncated or over-long payload, corrupt gzip stream.
IdxArray read_idx(const std::string& path);

}  // namespace deepgen::data
