#include "deepgen/data/idx.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "data/idx_helpers.h"
#include "deepgen/core/error.h"
#include "support/temp_dir.h"

namespace deepgen::data {
namespace {

using deepgen::testing::idx_bytes;
using deepgen::testing::TempDir;

const std::vector<uint8_t> kPayload = {1, 2, 3, 4, 5, 250};

// The message of the Error thrown by read_idx(path); fails the test when none is thrown.
std::string idx_error(const std::string& path) {
  try {
    read_idx(path);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "read_idx(" << path << ") did not throw";
  return "";
}

void expect_defect(const std::string& path, const std::string& word) {
  const std::string msg = idx_error(path);
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find(word), std::string::npos) << msg;
}

TEST(Idx, ReadsRawFile) {
  TempDir dir;
  testing::write_raw(dir.file("a"), idx_bytes({2, 3}, kPayload));
  const IdxArray a = read_idx(dir.file("a"));
  EXPECT_EQ(a.dims, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.data, kPayload);
}

TEST(Idx, ReadsGzipFile) {
  TempDir dir;
  testing::write_gzip(dir.file("a.gz"), idx_bytes({3, 1, 2}, kPayload));
  const IdxArray a = read_idx(dir.file("a.gz"));
  EXPECT_EQ(a.dims, (std::vector<int64_t>{3, 1, 2}));
  EXPECT_EQ(a.data, kPayload);
}

TEST(Idx, RejectsBadMagic) {
  TempDir dir;
  std::string bytes = idx_bytes({6}, kPayload);
  bytes[0] = 7;
  testing::write_raw(dir.file("a"), bytes);
  expect_defect(dir.file("a"), "magic");
}

TEST(Idx, RejectsBadDimensionCount) {
  TempDir dir;
  std::string bytes = idx_bytes({6}, kPayload);
  bytes[3] = 0;
  testing::write_raw(dir.file("a"), bytes);
  expect_defect(dir.file("a"), "dimension");
}

TEST(Idx, RejectsNonByteType) {
  TempDir dir;
  testing::write_raw(dir.file("a"), idx_bytes({6}, kPayload, 0x0D));
  expect_defect(dir.file("a"), "type");
}

TEST(Idx, RejectsZeroDimension) {
  TempDir dir;
  testing::write_raw(dir.file("a"), idx_bytes({0, 6}, kPayload));
  expect_defect(dir.file("a"), "size 0");
}

TEST(Idx, RejectsTruncatedPayload) {
  TempDir dir;
  const std::string bytes = idx_bytes({2, 3}, kPayload);
  testing::write_raw(dir.file("a"), bytes.substr(0, bytes.size() - 2));
  expect_defect(dir.file("a"), "truncated: expected 6 bytes of data, found 4");
}

TEST(Idx, RejectsTruncatedHeader) {
  TempDir dir;
  testing::write_raw(dir.file("a"), idx_bytes({2, 3}, {}).substr(0, 9));
  expect_defect(dir.file("a"), "truncated");
}

TEST(Idx, RejectsExtraBytes) {
  TempDir dir;
  testing::write_raw(dir.file("a"), idx_bytes({2, 3}, kPayload) + "xy");
  expect_defect(dir.file("a"), "extra");
}

TEST(Idx, RejectsTruncatedGzipStream) {
  TempDir dir;
  std::vector<uint8_t> big(5000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7919 % 251);
  testing::write_gzip(dir.file("full.gz"), idx_bytes({5000}, big));
  const std::string gz = testing::read_raw(dir.file("full.gz"));
  testing::write_raw(dir.file("a.gz"), gz.substr(0, gz.size() / 2));
  expect_defect(dir.file("a.gz"), "corrupt gzip");
}

TEST(Idx, RejectsGzipWithBadChecksum) {
  TempDir dir;
  testing::write_gzip(dir.file("full.gz"), idx_bytes({2, 3}, kPayload));
  std::string gz = testing::read_raw(dir.file("full.gz"));
  gz[gz.size() - 6] ^= 0x5a;  // inside the CRC-32 trailer
  testing::write_raw(dir.file("a.gz"), gz);
  expect_defect(dir.file("a.gz"), "corrupt gzip");
}

TEST(Idx, RejectsMissingFile) {
  TempDir dir;
  expect_defect(dir.file("nope"), "missing");
}

TEST(Idx, RejectsEmptyFile) {
  TempDir dir;
  testing::write_raw(dir.file("a"), "");
  expect_defect(dir.file("a"), "truncated");
}

}  // namespace
}  // namespace deepgen::data
