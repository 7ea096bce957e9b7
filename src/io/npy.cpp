// .npy v1.0: "\x93NUMPY", version 1.0, a little-endian uint16 header length, then a Python dict
// literal padded with spaces and ended by '\n' so the data start at a multiple of 64 bytes.
#include "deepgen/io/npy.h"

#include <torch/torch.h>

#include "deepgen/io/files.h"

namespace deepgen::io {

std::string encode_npy(const at::Tensor& x) {
  const at::Tensor data = x.detach().to(at::kCPU, at::kFloat).contiguous();
  std::string shape = "(";
  for (const int64_t d : data.sizes()) shape += std::to_string(d) + ", ";
  if (data.dim() > 0) shape.resize(shape.size() - (data.dim() == 1 ? 1 : 2));  // (3,) (3, 4)
  shape += ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  const size_t prefix = 10;  // magic (6) + version (2) + header length (2)
  header.append(63 - (prefix + header.size()) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  static_assert(sizeof(float) == 4, "float32");
  out.append(static_cast<const char*>(data.data_ptr()), data.numel() * sizeof(float));
  return out;  // x86-64 and aarch64 hosts are little-endian, as '<f4' says
}

void write_npy(const std::string& path, const at::Tensor& x) {
  write_file_atomic(path, encode_npy(x));
}

}  // namespace deepgen::io
