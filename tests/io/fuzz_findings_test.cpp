// Inputs the fuzz targets (tests/fuzz) found to crash or corrupt memory, each now one
// deepgen::Error naming the file and the defect.
#include <gtest/gtest.h>
#include <stb/stb_image_write.h>

#include <string>
#include <vector>

#include "deepgen/core/error.h"
#include "deepgen/io/files.h"
#include "deepgen/io/image.h"
#include "deepgen/io/safetensors.h"
#include "support/error_message.h"
#include "support/temp_dir.h"

namespace deepgen::io {
namespace {

using deepgen::testing::error_message;
using deepgen::testing::TempDir;

void append(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), size);
}

std::string jpeg(int w, int h, int channels) {
  std::vector<unsigned char> pixels(static_cast<size_t>(w * h * channels));
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<unsigned char>(i * 29 % 256);
  std::string out;
  stbi_write_jpg_to_func(append, &out, w, h, channels, pixels.data(), 90);
  return out;
}

// A DHT segment holding one table of `counts` (codes per length 1..16) and as many symbols.
std::string dht(const std::vector<int>& counts) {
  std::string table(1, '\x00');  // DC table 0
  int codes = 0;
  for (const int c : counts) {
    table += static_cast<char>(c);
    codes += c;
  }
  table += std::string(static_cast<size_t>(codes), '\x01');
  const size_t length = table.size() + 2;
  return std::string("\xff\xc4") + static_cast<char>(length >> 8) +
         static_cast<char>(length & 255) + table;
}

TEST(FuzzFindings, ValidJpegsStillDecode) {
  TempDir dir;
  for (const int channels : {1, 3}) {
    const std::string path = dir.file("ok" + std::to_string(channels) + ".jpg");
    write_file_atomic(path, jpeg(17, 9, channels));
    const at::Tensor image = read_image(path);  // (stb's writer stores grey as YCbCr too)
    EXPECT_EQ(image.size(0), 9);
    EXPECT_EQ(image.size(1), 17);
  }
}

// stb_image 2.27 writes past its Huffman tables for a table of more than 256 codes (found by
// fuzz_image: UBSan index out of bounds in stbi__build_huffman, already in stbi_info).
TEST(FuzzFindings, JpegHuffmanTableOfMoreThan256CodesIsAnError) {
  TempDir dir;
  const std::string path = dir.file("huffman.jpg");
  write_file_atomic(path, "\xff\xd8" + dht(std::vector<int>(16, 17)) + "\xff\xd9");
  const std::string e = error_message([&] { read_image(path); });
  EXPECT_NE(e.find(path), std::string::npos) << e;
  EXPECT_NE(e.find("Huffman table (DHT segment) declares 272 codes"), std::string::npos) << e;
}

// stb takes 0xFF fill bytes before the start-of-image marker too.
TEST(FuzzFindings, JpegHuffmanTableBehindFillBytesIsAnError) {
  TempDir dir;
  const std::string path = dir.file("fill.jpg");
  write_file_atomic(path,
                    std::string(5, '\xff') + "\xd8" + dht(std::vector<int>(16, 17)) + "\xff\xd9");
  const std::string e = error_message([&] { read_image(path); });
  EXPECT_NE(e.find("declares 272 codes"), std::string::npos) << e;
}

// The same table between the scans of a JPEG (where a progressive file has its later tables):
// found behind the entropy-coded data, as stb reads it.
TEST(FuzzFindings, JpegHuffmanTableAfterAScanIsAnError) {
  TempDir dir;
  std::string bytes = jpeg(16, 16, 3);
  ASSERT_EQ(bytes.substr(bytes.size() - 2), "\xff\xd9");
  bytes.insert(bytes.size() - 2, dht(std::vector<int>(16, 255)));
  const std::string path = dir.file("late.jpg");
  write_file_atomic(path, bytes);
  const std::string e = error_message([&] { read_image(path); });
  EXPECT_NE(e.find("declares 4080 codes"), std::string::npos) << e;
}

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

uint32_t crc32_of(const std::string& bytes) {
  uint32_t crc = 0xffffffffu;
  for (const char c : bytes) {
    crc ^= static_cast<uint8_t>(c);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

// A PNG chunk: length, type, data, CRC (of type and data).
std::string png_chunk(const std::string& type, const std::string& data, uint32_t length) {
  return be32(length) + type + data + be32(crc32_of(type + data));
}

std::string png_header(uint32_t w, uint32_t h, char colour_type, char depth) {
  return "\x89PNG\r\n\x1a\n" +
         png_chunk("IHDR", be32(w) + be32(h) + depth + colour_type + std::string(3, '\0'), 13);
}

// stb_image reserves an IDAT chunk's declared length before reading it (found by fuzz_image: a
// 125-byte file asked for 2 GiB).
TEST(FuzzFindings, PngChunkLongerThanTheFileIsAnError) {
  TempDir dir;
  const std::string path = dir.file("idat.png");
  write_file_atomic(path, png_header(2, 2, 0, 8) + png_chunk("IDAT", "x", 0x7fffffff));
  const std::string e = error_message([&] { read_image(path); });
  EXPECT_NE(e.find(path), std::string::npos) << e;
  EXPECT_NE(e.find("chunk 'IDAT' declares 2147483647 bytes but only 5 follow"), std::string::npos)
      << e;
}

// "P5\x01(": stb's PNM reader reports a 0 x 0 image, which then failed deep in the resize with
// a c10 error. Refused where it is read.
TEST(FuzzFindings, ImageOfZeroPixelsIsAnError) {
  TempDir dir;
  const std::string path = dir.file("zero.pgm");
  write_file_atomic(path, std::string("P5\x01(", 4));
  const std::string e = error_message([&] { read_image(path); });
  EXPECT_NE(e.find(path + " is 0x0 pixels"), std::string::npos) << e;
}

// A header alone decides stb's buffer sizes: 20000x20000 reserves 0.4 GB twice over from a
// file of a few bytes. Refused before decoding.
TEST(FuzzFindings, ImageOfMoreThan8192x8192PixelsIsAnError) {
  TempDir dir;
  const std::string path = dir.file("huge.png");
  const std::string pixels = "x\x9c\x03\x00\x00\x00\x00\x01";  // an empty zlib stream
  write_file_atomic(path, png_header(20000, 20000, 0, 8) + png_chunk("IDAT", pixels, 8) +
                              png_chunk("IEND", "", 0));
  const std::string e = error_message([&] { read_image(path); });
  EXPECT_NE(e.find("is 20000x20000 pixels, more than"), std::string::npos) << e;
}

// A safetensors header as bytes: 8-byte little-endian length, then the text.
std::string safetensors_file(const std::string& header) {
  std::string out;
  for (int i = 0; i < 8; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header;
}

// nlohmann copies an ordered object's values recursively when the object grows, so a shape
// nested a million deep in an entry of three keys overflowed the stack while the header was
// parsed (found by reading the fuzz targets' JSON paths; fuzz_safetensors then reproduced it).
TEST(FuzzFindings, SafetensorsHeaderNestedAMillionDeepIsAnError) {
  TempDir dir;
  const std::string path = dir.file("deep.safetensors");
  const size_t n = 1000000;
  write_file_atomic(path,
                    safetensors_file(R"({"t": {"dtype": "F32", "shape": )" + std::string(n, '[') +
                                     std::string(n, ']') + R"(, "data_offsets": [0, 0]}})"));
  const std::string e = error_message([&] { load_safetensors(path); });
  EXPECT_NE(e.find(path), std::string::npos) << e;
  EXPECT_NE(e.find("header nests arrays or objects more than 16 levels deep"), std::string::npos)
      << e;
}

TEST(FuzzFindings, SafetensorsBracketsInsideNamesAreNotNesting) {
  TempDir dir;
  const std::string path = dir.file("names.safetensors");
  const std::string name = std::string(40, '[') + "\\\"{";  // brackets, a backslash, a quote
  save_safetensors(path, {{name, torch::ones({2})}}, {{"note", std::string(40, '{')}});
  std::map<std::string, std::string> metadata;
  const NamedTensors t = load_safetensors(path, &metadata);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].first, name);
  EXPECT_EQ(metadata.at("note"), std::string(40, '{'));
}

}  // namespace
}  // namespace deepgen::io
