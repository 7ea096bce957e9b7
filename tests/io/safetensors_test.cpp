#include "deepgen/io/safetensors.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "deepgen/core/error.h"
#include "deepgen/io/files.h"
#include "support/temp_dir.h"

namespace deepgen::io {
namespace {

using deepgen::testing::TempDir;

// A file as another writer might produce it: 8-byte length, header text, then raw data.
std::string raw_file(const std::string& header, const std::string& data) {
  std::string out;
  for (int i = 0; i < 8; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

uint64_t header_length(const std::string& bytes) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | static_cast<uint8_t>(bytes[i]);
  return n;
}

at::Tensor sample(at::ScalarType dtype, at::IntArrayRef shape) {
  at::Tensor values = torch::arange(1, 1 + c10::multiply_integers(shape), torch::kDouble);
  if (dtype == at::kBool) return values.remainder(3).eq(0).reshape(shape);
  if (dtype == at::kByte) return values.remainder(256).to(dtype).reshape(shape);
  if (dtype == at::kLong)
    return values.mul(int64_t{1} << 40).to(dtype).reshape(shape);  // > 32 bits
  if (dtype == at::kInt) return values.mul(-1000).to(dtype).reshape(shape);
  return values.mul(0.1).sub(3).to(dtype).reshape(shape);
}

TEST(Safetensors, RoundTripsEveryDtypeAndShape) {
  TempDir dir;
  const std::vector<at::ScalarType> dtypes = {at::kFloat, at::kDouble, at::kLong,
                                              at::kInt,   at::kByte,   at::kBool};
  const std::vector<std::vector<int64_t>> shapes = {{}, {0}, {2, 0, 3}, {5}, {3, 4}, {2, 3, 4}};
  NamedTensors tensors;
  for (auto dtype : dtypes)
    for (size_t s = 0; s < shapes.size(); ++s)
      tensors.emplace_back(std::string(c10::toString(dtype)) + "_" + std::to_string(s),
                           sample(dtype, shapes[s]));
  const std::string path = dir.file("all.safetensors");
  save_safetensors(path, tensors);
  const NamedTensors loaded = load_safetensors(path);
  ASSERT_EQ(loaded.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    SCOPED_TRACE(tensors[i].first);
    EXPECT_EQ(loaded[i].first, tensors[i].first);  // file order is the save order
    EXPECT_EQ(loaded[i].second.scalar_type(), tensors[i].second.scalar_type());
    EXPECT_EQ(loaded[i].second.sizes(), tensors[i].second.sizes());
    EXPECT_TRUE(loaded[i].second.equal(tensors[i].second));
  }
}

TEST(Safetensors, ScalarKeepsZeroDimensions) {
  TempDir dir;
  const std::string path = dir.file("s.safetensors");
  save_safetensors(path, {{"pi", torch::tensor(3.25)}});
  const auto loaded = load_safetensors(path);
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].second.dim(), 0);
  EXPECT_EQ(loaded[0].second.item<double>(), 3.25);
}

TEST(Safetensors, MetadataRoundTrips) {
  TempDir dir;
  const std::string path = dir.file("m.safetensors");
  const std::map<std::string, std::string> meta = {
      {"format", "pt"}, {"step", "1200"}, {"quote\"key", "line\nbreak"}};
  save_safetensors(path, {{"w", torch::ones({2})}}, meta);
  std::map<std::string, std::string> loaded = {{"stale", "entry"}};
  load_safetensors(path, &loaded);
  EXPECT_EQ(loaded, meta);
}

TEST(Safetensors, WritesTheStandardLayout) {
  TempDir dir;
  const std::string path = dir.file("layout.safetensors");
  save_safetensors(
      path, {{"a", torch::zeros({3}, torch::kFloat)}, {"b", torch::ones({2, 2}, torch::kLong)}},
      {{"k", "v"}});
  const std::string bytes = read_file(path);
  const uint64_t n = header_length(bytes);
  EXPECT_EQ((8 + n) % 8, 0u) << "data section must start 8-byte aligned";
  ASSERT_EQ(bytes.size(), 8 + n + 3 * 4 + 4 * 8);
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_EQ(header["a"]["dtype"], "F32");
  EXPECT_EQ(header["a"]["shape"], nlohmann::json::array({3}));
  EXPECT_EQ(header["a"]["data_offsets"], nlohmann::json::array({0, 12}));
  EXPECT_EQ(header["b"]["dtype"], "I64");
  EXPECT_EQ(header["b"]["data_offsets"], nlohmann::json::array({12, 44}));
  EXPECT_EQ(header["__metadata__"]["k"], "v");
  // 1 as a little-endian int64: low byte first.
  EXPECT_EQ(bytes[8 + n + 12], 1);
  EXPECT_EQ(bytes[8 + n + 13], 0);
}

TEST(Safetensors, SavesNonContiguousTensorsByValue) {
  TempDir dir;
  const std::string path = dir.file("t.safetensors");
  const at::Tensor t = torch::arange(12, torch::kFloat).reshape({3, 4}).t();
  save_safetensors(path, {{"t", t}});
  EXPECT_TRUE(load_safetensors(path)[0].second.equal(t));
}

TEST(Safetensors, LoadsInOffsetOrderFromForeignWriters) {
  TempDir dir;
  const std::string path = dir.file("foreign.safetensors");
  // Keys out of offset order, extra whitespace, padding: all allowed by the format.
  const std::string header = R"({ "z": {"dtype":"U8","shape":[2],"data_offsets":[4,6]},)"
                             R"( "a": {"dtype":"I32","shape":[1],"data_offsets":[0,4]}}    )";
  write_file_atomic(path, raw_file(header, std::string("\x07\x00\x00\x00\x09\x0a", 6)));
  const auto loaded = load_safetensors(path);
  ASSERT_EQ(loaded.size(), 2u);
  EXPECT_EQ(loaded[0].first, "a");
  EXPECT_EQ(loaded[0].second.item<int32_t>(), 7);
  EXPECT_EQ(loaded[1].first, "z");
  EXPECT_TRUE(loaded[1].second.equal(torch::tensor({9, 10}, torch::kByte)));
}

void expect_save_error(const NamedTensors& tensors, const std::string& fragment) {
  TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  try {
    save_safetensors(path, tensors);
    FAIL() << "expected deepgen::Error containing '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
  EXPECT_FALSE(file_exists(path));
}

TEST(Safetensors, SaveRejectsDuplicatesUnsupportedDtypesAndReservedNames) {
  expect_save_error({{"w", torch::ones({1})}, {"w", torch::zeros({1})}}, "duplicate");
  expect_save_error({{"h", torch::ones({1}, torch::kHalf)}}, "unsupported dtype");
  expect_save_error({{"__metadata__", torch::ones({1})}}, "reserved");
  expect_save_error({{"u", at::Tensor()}}, "undefined");
}

struct Corruption {
  const char* label;
  std::string bytes;
  const char* defect;  // fragment the error must contain
};

std::vector<Corruption> corruptions(const std::string& good) {
  const std::string f32 = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string data8(8, '\0');
  std::string huge_length = good;
  huge_length[6] = 0x7f;  // header length now far beyond the file
  return {
      {"empty file", "", "truncated"},
      {"shorter than the length field", good.substr(0, 5), "truncated"},
      {"cut inside the header", good.substr(0, 20), "exceeds the file size"},
      {"cut inside the data", good.substr(0, good.size() - 3), "beyond the data section"},
      {"length field too large", huge_length, "exceeds the file size"},
      {"header not JSON", raw_file("{not json!", data8), "not valid JSON"},
      {"header an array", raw_file("[1,2]", ""), "not a JSON object"},
      {"unknown dtype", raw_file(R"({"x":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", data8),
       "unsupported dtype"},
      {"missing dtype", raw_file(R"({"x":{"shape":[2],"data_offsets":[0,8]}})", data8),
       "missing dtype"},
      {"negative dim",
       raw_file(R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data8), "not a size"},
      {"shape/offsets mismatch",
       raw_file(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data8),
       "need 12 bytes"},
      {"offsets reversed",
       raw_file(R"({"x":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}})", data8), "end before"},
      {"missing offsets", raw_file(R"({"x":{"dtype":"F32","shape":[2]}})", data8), "data_offsets"},
      {"overlap",
       raw_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                R"("y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                data8),
       "overlap"},
      {"hole between tensors",
       raw_file(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data8),
       "belong to no tensor"},
      {"trailing garbage", raw_file(f32, data8 + "junk"), "trailing"},
      {"metadata not strings",
       raw_file(
           R"({"__metadata__":{"step":12},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
           data8),
       "not a string"},
      {"entry not an object", raw_file(R"({"x":5})", ""), "not an object"},
  };
}

TEST(Safetensors, EveryCorruptionIsAnErrorNamingFileAndDefect) {
  TempDir dir;
  const std::string good_path = dir.file("good.safetensors");
  save_safetensors(good_path, {{"w", torch::randn({4, 4})}, {"b", torch::ones({4}, torch::kLong)}});
  const std::string good = read_file(good_path);
  ASSERT_NO_THROW(load_safetensors(good_path));
  for (const auto& c : corruptions(good)) {
    SCOPED_TRACE(c.label);
    const std::string path = dir.file("corrupt_case.safetensors");
    write_file_atomic(path, c.bytes);
    try {
      load_safetensors(path);
      ADD_FAILURE() << "loaded without error";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("corrupt_case.safetensors"), std::string::npos) << message;
      EXPECT_NE(message.find(c.defect), std::string::npos) << message;
    }
  }
}

TEST(Safetensors, MissingFileNamesThePath) {
  TempDir dir;
  const std::string path = dir.file("nowhere.safetensors");
  try {
    load_safetensors(path);
    FAIL() << "expected deepgen::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace deepgen::io
