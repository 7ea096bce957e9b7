#pragma once
// The safetensors format (8-byte little-endian header length, JSON header, raw little-endian
// data), readable from Python with no PyTorch. Supports F32, F64, I64, I32, U8, BOOL.
#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace deepgen::io {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// Written atomically; tensors are copied to contiguous CPU memory. Throws Error on duplicate
// names or unsupported dtypes.
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});
// Validates header length, JSON, dtypes, shapes and offsets against the file size; errors name
// the file and the defect. Tensors come back in file order of their offsets, on CPU.
NamedTensors load_safetensors(const std::string& path,
                              std::map<std::string, std::string>* metadata = nullptr);

}  // namespace deepgen::io
