#include "deepgen/io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "deepgen/core/error.h"
#include "deepgen/core/json_text.h"
#include "deepgen/io/files.h"

// Tensor bytes are written and read as they lie in memory; the format is little-endian.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes little-endian");

namespace deepgen::io {
namespace {

using Json = nlohmann::ordered_json;

struct DtypeInfo {
  const char* name;
  at::ScalarType type;
  uint64_t itemsize;
};

constexpr DtypeInfo kDtypes[] = {
    {"F32", at::kFloat, 4}, {"F64", at::kDouble, 8}, {"I64", at::kLong, 8},
    {"I32", at::kInt, 4},   {"U8", at::kByte, 1},    {"BOOL", at::kBool, 1},
};

const DtypeInfo* find_dtype(at::ScalarType type) {
  for (const auto& d : kDtypes)
    if (d.type == type) return &d;
  return nullptr;
}

const DtypeInfo* find_dtype(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

// The official reader refuses headers above 100 MB; a corrupt length would otherwise make us
// allocate whatever the first 8 bytes happen to say.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr const char* kMetadataKey = "__metadata__";
// A header nests 3 deep (the object, a tensor's entry, its shape). nlohmann copies values
// recursively when an ordered object grows, so a deeply nested header would overflow the stack
// while it is parsed: the nesting is measured first, and anything beyond this is refused.
constexpr int kMaxHeaderDepth = 16;

// ---- saving ----

std::vector<at::Tensor> cpu_contiguous(const std::string& path, const NamedTensors& tensors) {
  std::set<std::string> seen;
  std::vector<at::Tensor> out;
  for (const auto& [name, tensor] : tensors) {
    if (name == kMetadataKey) throw Error(path + ": tensor name '" + name + "' is reserved");
    if (!seen.insert(name).second) throw Error(path + ": duplicate tensor name '" + name + "'");
    if (!tensor.defined()) throw Error(path + ": tensor '" + name + "' is undefined");
    if (!find_dtype(tensor.scalar_type()))
      throw Error(path + ": tensor '" + name + "' has unsupported dtype " +
                  std::string(c10::toString(tensor.scalar_type())) +
                  " (supported: F32, F64, I64, I32, U8, BOOL)");
    out.push_back(tensor.detach().to(at::kCPU).contiguous());
  }
  return out;
}

// Header padded with spaces so the data section starts 8-byte aligned, as the format asks.
std::string make_header(const NamedTensors& tensors, const std::vector<at::Tensor>& cpu,
                        const std::map<std::string, std::string>& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) header[kMetadataKey] = Json(metadata);
  uint64_t offset = 0;
  for (size_t i = 0; i < cpu.size(); ++i) {
    const uint64_t bytes = cpu[i].nbytes();
    header[tensors[i].first] = {{"dtype", find_dtype(cpu[i].scalar_type())->name},
                                {"shape", cpu[i].sizes().vec()},
                                {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

void write_le_u64(std::ostream& out, uint64_t value) {
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((value >> (8 * i)) & 0xff);
  out.write(bytes, 8);
}

// ---- loading ----

struct Entry {
  std::string name;
  const DtypeInfo* dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

class Loader {
 public:
  Loader(std::string path, std::string bytes) : path_(std::move(path)), bytes_(std::move(bytes)) {}

  NamedTensors load(std::map<std::string, std::string>* metadata) {
    const Json header = parse_header();
    std::vector<Entry> entries;
    for (const auto& [key, value] : header.items()) {
      if (key == kMetadataKey) {
        read_metadata(value, metadata);
      } else {
        entries.push_back(parse_entry(key, value));
      }
    }
    check_layout(entries);
    NamedTensors out;
    for (const auto& e : entries) out.emplace_back(e.name, make_tensor(e));
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& defect) const {
    throw Error(path_ + ": invalid safetensors file: " + defect);
  }

  Json parse_header() {
    if (bytes_.size() < 8)
      fail("truncated: " + std::to_string(bytes_.size()) +
           " bytes, fewer than the 8-byte header length");
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = n << 8 | static_cast<uint8_t>(bytes_[i]);
    if (n > bytes_.size() - 8)
      fail("header length " + std::to_string(n) + " exceeds the file size " +
           std::to_string(bytes_.size()) + " (truncated or not a safetensors file)");
    if (n > kMaxHeaderBytes) fail("header length " + std::to_string(n) + " is too large");
    data_begin_ = 8 + n;
    if (json_nesting(bytes_.data() + 8, bytes_.data() + 8 + n) > kMaxHeaderDepth)
      fail("header nests arrays or objects more than " + std::to_string(kMaxHeaderDepth) +
           " levels deep (a safetensors header has 3)");
    Json header = Json::parse(bytes_.begin() + 8, bytes_.begin() + 8 + n, nullptr, false);
    if (header.is_discarded()) fail("header is not valid JSON");
    if (!header.is_object()) fail("header is not a JSON object");
    return header;
  }

  void read_metadata(const Json& value, std::map<std::string, std::string>* metadata) const {
    if (!value.is_object()) fail("__metadata__ is not an object");
    for (const auto& [k, v] : value.items()) {
      if (!v.is_string()) fail("__metadata__ value for '" + k + "' is not a string");
      if (metadata) (*metadata)[k] = v.get<std::string>();
    }
  }

  Entry parse_entry(const std::string& name, const Json& value) const {
    const std::string where = "tensor '" + name + "': ";
    if (!value.is_object()) fail(where + "entry is not an object");
    Entry e{name, nullptr, {}, 0, 0};
    const auto dtype = value.find("dtype");
    if (dtype == value.end() || !dtype->is_string()) fail(where + "missing dtype");
    e.dtype = find_dtype(dtype->get<std::string>());
    if (!e.dtype) fail(where + "unsupported dtype " + dtype->dump());
    e.shape = parse_shape(where, value);
    const auto offsets = value.find("data_offsets");
    if (offsets == value.end() || !offsets->is_array() || offsets->size() != 2 ||
        !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned())
      fail(where + "data_offsets is not a pair of non-negative integers");
    e.begin = (*offsets)[0].get<uint64_t>();
    e.end = (*offsets)[1].get<uint64_t>();
    if (e.begin > e.end) fail(where + "data_offsets end before they begin");
    check_size(where, e);
    return e;
  }

  std::vector<int64_t> parse_shape(const std::string& where, const Json& value) const {
    const auto shape = value.find("shape");
    if (shape == value.end() || !shape->is_array()) fail(where + "missing shape");
    std::vector<int64_t> dims;
    for (const auto& d : *shape) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > uint64_t{1} << 62)
        fail(where + "shape " + shape->dump() + " has a dimension that is not a size");
      dims.push_back(d.get<int64_t>());
    }
    return dims;
  }

  void check_size(const std::string& where, const Entry& e) const {
    uint64_t bytes = e.dtype->itemsize;
    for (int64_t d : e.shape)
      if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes))
        fail(where + "shape is too large");
    if (bytes != e.end - e.begin)
      fail(where + "shape and dtype need " + std::to_string(bytes) +
           " bytes but data_offsets span " + std::to_string(e.end - e.begin));
  }

  // The data section must be tiled exactly: no tensor outside it, no two sharing bytes, and no
  // stray bytes (a sign of a corrupt or foreign file).
  void check_layout(std::vector<Entry>& entries) const {
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    const uint64_t data_size = bytes_.size() - data_begin_;
    uint64_t covered = 0;
    for (const auto& e : entries) {
      if (e.end > data_size)
        fail("tensor '" + e.name + "': data_offsets end at " + std::to_string(e.end) +
             " beyond the data section of " + std::to_string(data_size) + " bytes (truncated?)");
      if (e.begin < covered) fail("tensor '" + e.name + "': data_offsets overlap another tensor");
      if (e.begin > covered)
        fail("data bytes " + std::to_string(covered) + ".." + std::to_string(e.begin) +
             " belong to no tensor");
      covered = e.end;
    }
    if (covered != data_size)
      fail(std::to_string(data_size - covered) + " trailing data bytes belong to no tensor");
  }

  at::Tensor make_tensor(const Entry& e) const {
    at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(e.dtype->type));
    if (e.end > e.begin)
      std::memcpy(t.data_ptr(), bytes_.data() + data_begin_ + e.begin, e.end - e.begin);
    return t;
  }

  std::string path_, bytes_;
  uint64_t data_begin_ = 0;
};

}  // namespace

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const std::vector<at::Tensor> cpu = cpu_contiguous(path, tensors);
  const std::string header = make_header(tensors, cpu, metadata);
  write_atomic(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot write " + path);
    write_le_u64(out, header.size());
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    for (const auto& t : cpu)
      if (t.nbytes() > 0)
        out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
    out.close();
    if (!out) throw Error("cannot write " + path + " (disk full?)");
  });
}

NamedTensors load_safetensors(const std::string& path,
                              std::map<std::string, std::string>* metadata) {
  if (metadata) metadata->clear();
  return Loader(path, read_file(path)).load(metadata);
}

}  // namespace deepgen::io
