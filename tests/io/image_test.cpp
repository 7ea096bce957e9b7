#include "deepgen/io/image.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "deepgen/core/error.h"
#include "deepgen/io/files.h"
#include "support/temp_dir.h"

namespace deepgen::io {
namespace {

using deepgen::testing::TempDir;

at::Tensor random_pixels(at::IntArrayRef chw) {
  return torch::randint(0, 256, chw, torch::TensorOptions().dtype(torch::kByte));
}

void expect_error_naming(const std::string& path) {
  try {
    read_image(path);
    FAIL() << "expected deepgen::Error for " << path;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(Image, PngRoundTripIsLosslessForRgb) {
  TempDir dir;
  const at::Tensor pixels = random_pixels({3, 9, 13});
  const std::string path = dir.file("rgb.png");
  write_png(path, pixels.to(torch::kFloat).div(255));  // exact k/255 values must come back as k
  const at::Tensor read = read_image(path);
  EXPECT_EQ(read.scalar_type(), torch::kByte);
  EXPECT_EQ(read.sizes(), (std::vector<int64_t>{9, 13, 3}));
  EXPECT_TRUE(read.equal(pixels.permute({1, 2, 0})));
}

TEST(Image, PngRoundTripForGreyHw) {
  TempDir dir;
  const at::Tensor pixels = random_pixels({7, 5});
  write_png(dir.file("g.png"), pixels.to(torch::kFloat).div(255));
  const at::Tensor read = read_image(dir.file("g.png"));
  EXPECT_EQ(read.sizes(), (std::vector<int64_t>{7, 5, 1}));
  EXPECT_TRUE(read.squeeze(2).equal(pixels));
}

TEST(Image, Uint8InputIsTakenAsPixelValues) {
  TempDir dir;
  const at::Tensor pixels = random_pixels({1, 4, 6});
  write_png(dir.file("u8.png"), pixels);
  EXPECT_TRUE(read_image(dir.file("u8.png")).permute({2, 0, 1}).equal(pixels));
}

TEST(Image, FloatValuesAreClampedAndRounded) {
  const at::Tensor img = torch::tensor({-0.5f, 0.0f, 0.5f, 1.0f, 7.0f}).reshape({1, 5});
  TempDir dir;
  write_png(dir.file("c.png"), img);
  const at::Tensor read = read_image(dir.file("c.png")).view(-1);
  EXPECT_TRUE(read.equal(torch::tensor({0, 0, 128, 255, 255}, torch::kByte)));
}

TEST(Image, AlphaIsDroppedOnRead) {
  TempDir dir;
  const at::Tensor rgba = random_pixels({4, 3, 3});
  write_png(dir.file("rgba.png"), rgba);
  const at::Tensor rgb = read_image(dir.file("rgba.png"));
  EXPECT_EQ(rgb.size(2), 3);
  EXPECT_TRUE(rgb.equal(rgba.narrow(0, 0, 3).permute({1, 2, 0})));
  const at::Tensor grey_alpha = random_pixels({2, 3, 3});
  write_png(dir.file("ga.png"), grey_alpha);
  EXPECT_TRUE(read_image(dir.file("ga.png")).squeeze(2).equal(grey_alpha[0]));
}

TEST(Image, EncodePngProducesPngSignature) {
  const std::string png = encode_png(torch::zeros({1, 2, 2}));
  ASSERT_GE(png.size(), 8u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
}

TEST(Image, EncodeRejectsBadShapes) {
  EXPECT_THROW(encode_png(torch::zeros({5})), Error);
  EXPECT_THROW(encode_png(torch::zeros({5, 2, 2})), Error);  // 5 channels
  EXPECT_THROW(encode_png(torch::zeros({1, 0, 2})), Error);
  EXPECT_THROW(encode_png(at::Tensor()), Error);
}

TEST(Image, ReadErrorsNameTheFile) {
  TempDir dir;
  expect_error_naming(dir.file("missing.png"));
  const std::string junk = dir.file("junk.png");
  write_file_atomic(junk, "this is not an image at all");
  expect_error_naming(junk);
  const std::string truncated = dir.file("truncated.png");
  write_file_atomic(truncated, encode_png(torch::rand({3, 16, 16})).substr(0, 40));
  expect_error_naming(truncated);
}

TEST(Image, GridGeometryAndPlacement) {
  const int64_t n = 5, c = 3, h = 4, w = 6, nrow = 3, pad = 2;
  const at::Tensor images = torch::rand({n, c, h, w}) * 1.4 - 0.2;  // some values need clamping
  const at::Tensor grid = image_grid(images, nrow, pad);
  // 3 columns, 2 rows: (H + pad) per row plus one leading pad, same for columns.
  EXPECT_EQ(grid.sizes(), (std::vector<int64_t>{c, 2 * (h + pad) + pad, 3 * (w + pad) + pad}));
  EXPECT_EQ(grid.scalar_type(), torch::kFloat);
  for (int64_t k = 0; k < n; ++k) {
    const int64_t top = (k / nrow) * (h + pad) + pad, left = (k % nrow) * (w + pad) + pad;
    EXPECT_TRUE(grid.narrow(1, top, h).narrow(2, left, w).equal(images[k].clamp(0, 1))) << k;
  }
  EXPECT_EQ(grid[0][0][0].item<float>(), 0.5f);  // padding is mid grey
  EXPECT_EQ(grid[1][(h + pad) + pad + 1][2 * (w + pad) + pad + 1].item<float>(),
            0.5f);  // empty slot
  EXPECT_GE(grid.min().item<float>(), 0.0f);
  EXPECT_LE(grid.max().item<float>(), 1.0f);
}

TEST(Image, GridWithFewerImagesThanNrowIsOneRow) {
  const at::Tensor grid = image_grid(torch::ones({2, 1, 3, 3}), 8, 0);
  EXPECT_EQ(grid.sizes(), (std::vector<int64_t>{1, 3, 6}));
  EXPECT_TRUE(grid.equal(torch::ones({1, 3, 6})));
}

TEST(Image, GridRejectsBadInput) {
  EXPECT_THROW(image_grid(torch::ones({1, 3, 3}), 2), Error);
  EXPECT_THROW(image_grid(torch::ones({0, 1, 3, 3}), 2), Error);
  EXPECT_THROW(image_grid(torch::ones({2, 1, 3, 3}), 0), Error);
}

}  // namespace
}  // namespace deepgen::io

namespace deepgen::io {
namespace {

TEST(Scatter, PointsLandWhereTheyShouldInTheirColour) {
  // Two points at opposite corners of the view and one in the middle, in the second colour.
  at::Tensor a = torch::tensor({{0.0, 0.0}, {1.0, 1.0}}, at::kDouble);
  at::Tensor b = torch::tensor({{0.5, 0.5}}, at::kDouble);
  at::Tensor img = scatter_image({a, b}, 101, /*dot=*/1);
  ASSERT_EQ(img.sizes(), (std::vector<int64_t>{3, 101, 101}));
  // (0, 0) is bottom-left, (1, 1) top-right, each 5% inside the border; (0.5, 0.5) the centre.
  auto is_white = [&](int64_t r, int64_t c) {
    return img.index({at::indexing::Slice(), r, c}).min().item<float>() == 1.0f;
  };
  EXPECT_FALSE(is_white(50, 50));
  EXPECT_NEAR(img[0][50][50].item<float>(), 0.12f, 1e-6);  // blue: the second set
  const int64_t inset = static_cast<int64_t>(std::lround(100 * (0.5 - 0.5 / 1.05)));
  EXPECT_FALSE(is_white(100 - inset, inset));  // (0, 0)
  EXPECT_FALSE(is_white(inset, 100 - inset));  // (1, 1)
  EXPECT_TRUE(is_white(inset, inset));         // (0, 1): no point there
  EXPECT_EQ(static_cast<int64_t>((img[0] < 1.0f).sum().item<int64_t>()), 3);
}

TEST(Scatter, NonFinitePointsAreSkippedAndBadShapesRejected) {
  at::Tensor a = torch::tensor({{0.0, 0.0}, {std::nan(""), 1.0}, {2.0, 2.0}}, at::kDouble);
  at::Tensor img = scatter_image({a}, 64, /*dot=*/1);
  EXPECT_EQ((img[0] < 1.0f).sum().item<int64_t>(), 2);
  // Default dots are 2 x 2: four pixels per isolated point.
  EXPECT_EQ((scatter_image({a}, 64)[0] < 1.0f).sum().item<int64_t>(), 8);
  EXPECT_THROW(scatter_image({torch::zeros({4, 3})}, 64), Error);
}

// sample --out DIR/: one PNG per image, names sorted by index, pixels exact; the folder appears
// whole (no temp left), and an existing non-empty folder is refused, not mixed into.
TEST(Image, PngFolderHoldsOneExactImageEach) {
  TempDir dir;
  const at::Tensor pixels =
      torch::stack({random_pixels({1, 5, 4}), random_pixels({1, 5, 4}), random_pixels({1, 5, 4})});
  const std::string out = dir.file("samples") + "/";
  write_png_folder(out, pixels.to(torch::kFloat) / 255);
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir.file("samples")))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  ASSERT_EQ(names, (std::vector<std::string>{"000000.png", "000001.png", "000002.png"}));
  for (int i = 0; i < 3; ++i) {
    const at::Tensor back = read_image(dir.file("samples/" + names[i])).permute({2, 0, 1});
    EXPECT_TRUE(back.equal(pixels[i])) << names[i];
  }
  size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.str())) entries += e.exists();
  EXPECT_EQ(entries, 1u) << "a temp folder was left beside the output";
  EXPECT_THROW(write_png_folder(out, pixels.to(torch::kFloat) / 255), Error);
  std::filesystem::create_directories(dir.file("empty"));
  EXPECT_NO_THROW(write_png_folder(dir.file("empty"), pixels.to(torch::kFloat) / 255));
  EXPECT_TRUE(std::filesystem::exists(dir.file("empty/000002.png")));
}

}  // namespace
}  // namespace deepgen::io
