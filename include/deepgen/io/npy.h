#pragma once
// NumPy's .npy format (version 1.0), what numpy.load reads: arrays handed to other tools.
#include <ATen/core/Tensor.h>

#include <string>

namespace deepgen::io {

// x as a C-order little-endian float32 array of x's shape (any dtype is converted), written
// atomically.
void write_npy(const std::string& path, const at::Tensor& x);
// The bytes of that file: the magic, the header dict padded to 64 bytes, the data.
std::string encode_npy(const at::Tensor& x);

}  // namespace deepgen::io
