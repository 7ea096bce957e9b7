// Inputs the fuzz targets (tests/fuzz) found to be accepted wrongly or to crash, each now one
// deepgen::Error naming the file and the defect.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "deepgen/core/error.h"
#include "deepgen/data/files.h"
#include "support/error_message.h"
#include "support/temp_dir.h"

namespace deepgen::data {
namespace {

using deepgen::testing::error_message;
using deepgen::testing::TempDir;

// Found by fuzz_csv: a number that is finite as a double but beyond float32's range became Inf
// in the points (and from there a NaN loss), though the reader refuses non-finite values.
TEST(FuzzFindings, CsvNumberBeyondFloat32IsAnError) {
  TempDir dir;
  const std::string path = dir.file("big.csv");
  std::ofstream(path) << "x,y\n1,2\n3,-1e39\n";
  const std::string e = error_message([&] { read_csv_points(path); });
  EXPECT_NE(e.find(path), std::string::npos) << e;
  EXPECT_NE(e.find("line 3: value 2 ('-1e39') is beyond float32's range"), std::string::npos) << e;
}

TEST(FuzzFindings, CsvFloat32ExtremesStillLoad) {
  TempDir dir;
  const std::string path = dir.file("edge.csv");
  std::ofstream(path) << "3.4028234e38,-3.4028234e38\n1e-50,0\n";
  const at::Tensor x = read_csv_points(path);
  ASSERT_EQ(x.sizes(), (at::IntArrayRef{2, 2}));
  EXPECT_TRUE(torch::isfinite(x).all().item<bool>());
  EXPECT_EQ(x[1][0].item<float>(), 0.0f);  // below float32's smallest: rounds to 0, still finite
}

}  // namespace
}  // namespace deepgen::data
