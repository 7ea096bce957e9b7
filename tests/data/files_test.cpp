#include "deepgen/data/files.h"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <string>

#include "deepgen/core/error.h"
#include "deepgen/data/dataset.h"
#include "deepgen/io/image.h"
#include "support/temp_dir.h"

namespace deepgen::data {
namespace {

using deepgen::testing::TempDir;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no deepgen::Error thrown";
  return "";
}

void write_csv(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(Files, LoadsSameSizeImages) {
  TempDir dir;
  for (int i = 0; i < 3; ++i) {
    const at::Tensor im = at::full({3, 4, 5}, 0.0).index_put_({i}, 1.0);  // channel i lit
    io::write_png(dir.file("im" + std::to_string(i) + ".png"), im);
  }
  std::ofstream(dir.file("notes.txt")) << "not an image";
  const at::Tensor stored = load_image_folder(dir.str(), 0);
  EXPECT_EQ(stored.scalar_type(), at::kByte);  // 8-bit pixels kept as bytes at their own size
  const at::Tensor x = as_values(stored);
  EXPECT_EQ(x.sizes(), (at::IntArrayRef{3, 3, 4, 5}));
  for (int i = 0; i < 3; ++i) {  // sorted by name, channel order kept
    EXPECT_FLOAT_EQ(x[i][i].mean().item<float>(), 1.0f);
    EXPECT_FLOAT_EQ(x[i].sum().item<float>(), 20.0f);
  }
}

TEST(Files, GreyImagesStayOneChannel) {
  TempDir dir;
  io::write_png(dir.file("a.png"), at::full({1, 4, 4}, 0.5));
  io::write_png(dir.file("b.png"), at::full({4, 4}, 1.0));
  const at::Tensor x = as_values(load_image_folder(dir.str(), 0));
  EXPECT_EQ(x.sizes(), (at::IntArrayRef{2, 1, 4, 4}));
  EXPECT_NEAR(x[0].mean().item<float>(), 0.5, 1.0 / 255);
}

TEST(Files, MixedSizesNeedImageSize) {
  TempDir dir;
  io::write_png(dir.file("a.png"), at::full({3, 8, 8}, 0.25));
  io::write_png(dir.file("b.png"), at::full({1, 6, 10}, 0.75));
  const std::string msg = error_of([&] { load_image_folder(dir.str(), 0); });
  EXPECT_NE(msg.find("b.png"), std::string::npos) << msg;
  const at::Tensor x = load_image_folder(dir.str(), 4);
  EXPECT_EQ(x.scalar_type(), at::kFloat);                    // resized: between the 8-bit levels
  EXPECT_EQ(x.sizes(), (at::IntArrayRef{2, 3, 4, 4}));       // grey repeated to RGB
  EXPECT_NEAR(x[0].mean().item<float>(), 64.0 / 255, 1e-4);  // constant stays constant
  EXPECT_NEAR(x[1].mean().item<float>(), 191.0 / 255, 1e-4);
  EXPECT_GE(x.min().item<float>(), 0.0f);
  EXPECT_LE(x.max().item<float>(), 1.0f);
}

TEST(Files, UpscalesToImageSize) {
  TempDir dir;
  io::write_png(dir.file("a.png"), at::full({1, 2, 3}, 0.5));
  EXPECT_EQ(load_image_folder(dir.str(), 8).sizes(), (at::IntArrayRef{1, 1, 8, 8}));
}

TEST(Files, FolderErrors) {
  TempDir dir;
  EXPECT_NE(error_of([&] { load_image_folder(dir.file("nope"), 0); }).find("not found"),
            std::string::npos);
  EXPECT_NE(error_of([&] { load_image_folder(dir.str(), 0); }).find("no PNG"), std::string::npos);
  std::ofstream(dir.file("bad.png")) << "garbage";
  EXPECT_NE(error_of([&] { load_image_folder(dir.str(), 0); }).find("bad.png"), std::string::npos);
}

TEST(Files, CsvWithHeader) {
  TempDir dir;
  write_csv(dir.file("p.csv"), "x, y\n1.5, -2\n3,4e1\r\n\n");
  const at::Tensor x = read_csv_points(dir.file("p.csv"));
  EXPECT_TRUE(x.equal(at::tensor({1.5f, -2.0f, 3.0f, 40.0f}).view({2, 2})));
}

TEST(Files, CsvWithoutHeader) {
  TempDir dir;
  write_csv(dir.file("p.csv"), "1,2,3\n4,5,6");
  EXPECT_EQ(read_csv_points(dir.file("p.csv")).sizes(), (at::IntArrayRef{2, 3}));
}

TEST(Files, CsvRaggedRowNamesLine) {
  TempDir dir;
  write_csv(dir.file("p.csv"), "x,y\n1,2\n3\n");
  const std::string msg = error_of([&] { read_csv_points(dir.file("p.csv")); });
  EXPECT_NE(msg.find("line 3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ragged"), std::string::npos) << msg;
  EXPECT_NE(msg.find(dir.file("p.csv")), std::string::npos) << msg;
}

TEST(Files, CsvNonNumberNamesLine) {
  TempDir dir;
  write_csv(dir.file("p.csv"), "1,2\n3,abc\n");
  const std::string msg = error_of([&] { read_csv_points(dir.file("p.csv")); });
  EXPECT_NE(msg.find("line 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("abc"), std::string::npos) << msg;
}

TEST(Files, CsvEmptyAndMissing) {
  TempDir dir;
  write_csv(dir.file("e.csv"), "x,y\n");
  EXPECT_NE(error_of([&] { read_csv_points(dir.file("e.csv")); }).find("empty"), std::string::npos);
  EXPECT_NE(error_of([&] { read_csv_points(dir.file("none.csv")); }).find("none.csv"),
            std::string::npos);
}

}  // namespace
}  // namespace deepgen::data
