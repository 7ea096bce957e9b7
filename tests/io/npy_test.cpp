#include "deepgen/io/npy.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace deepgen::io {
namespace {

// The .npy v1.0 layout numpy.load checks: magic and version, a header length that puts the data
// at a multiple of 64 bytes, a dict naming little-endian float32, C order and the shape, then
// the values themselves (numpy reading the file is tests/cli's SampleWritesNpyThatNumpyReads).
TEST(Npy, HeaderAndDataFollowTheFormat) {
  const at::Tensor x = torch::arange(6, torch::kDouble).view({2, 3}) / 4;
  const std::string bytes = encode_npy(x);
  ASSERT_GT(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const size_t header = static_cast<unsigned char>(bytes[8]) |
                        (static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8);
  EXPECT_EQ((10 + header) % 64, 0u);
  const std::string dict = bytes.substr(10, header);
  EXPECT_EQ(dict.back(), '\n');
  EXPECT_NE(dict.find("'descr': '<f4'"), std::string::npos) << dict;
  EXPECT_NE(dict.find("'fortran_order': False"), std::string::npos) << dict;
  EXPECT_NE(dict.find("'shape': (2, 3)"), std::string::npos) << dict;
  ASSERT_EQ(bytes.size(), 10 + header + 6 * sizeof(float));
  for (int i = 0; i < 6; ++i) {
    float v = 0;
    std::memcpy(&v, bytes.data() + 10 + header + i * sizeof(float), sizeof v);
    EXPECT_EQ(v, static_cast<float>(i) / 4) << i;
  }
  const std::string one = encode_npy(torch::zeros({3}));
  EXPECT_NE(one.find("'shape': (3,)"), std::string::npos);  // a 1-tuple keeps its comma
}

}  // namespace
}  // namespace deepgen::io
