#include "deepgen/data/dataset.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "data/idx_helpers.h"
#include "deepgen/core/error.h"
#include "deepgen/io/image.h"
#include "support/temp_dir.h"

namespace deepgen::data {
namespace {

using deepgen::testing::TempDir;
namespace fs = std::filesystem;

std::string load_error(const DataOptions& options) {
  try {
    load_data(options);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "load_data(" << options.spec << ") did not throw";
  return "";
}

DataOptions options_for(const std::string& spec, const std::string& root = "") {
  DataOptions o;
  o.spec = spec;
  o.root = root;
  return o;
}

TEST(Dataset, LoadsFakeMnist) {
  TempDir root;
  fs::create_directories(root.file("mnist"));
  testing::write_fake_mnist(root.file("mnist"), "train", 10);
  testing::write_fake_mnist(root.file("mnist"), "t10k", 4);
  const Splits s = load_data(options_for("mnist", root.str()));
  EXPECT_EQ(s.train.name, "mnist/train");
  EXPECT_EQ(s.train.kind, Kind::image);
  EXPECT_EQ(s.train.x.sizes(), (at::IntArrayRef{10, 1, 28, 28}));
  EXPECT_EQ(s.test.x.sizes(), (at::IntArrayRef{4, 1, 28, 28}));
  EXPECT_EQ(s.train.x.scalar_type(), at::kByte);  // the file's bytes, a quarter of float32
  EXPECT_EQ(s.train.labels.scalar_type(), at::kLong);
  EXPECT_EQ(s.train.sample_shape(), (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(s.train.dim(), 784);
  const at::Tensor x = s.train.values();
  EXPECT_EQ(x.scalar_type(), at::kFloat);
  EXPECT_GE(x.min().item<float>(), 0.0f);
  EXPECT_LE(x.max().item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(x[3][0][0][5].item<float>(), 8.0f / 255);    // pixel (3 + 5) % 256
  EXPECT_FLOAT_EQ(x[0][0][9][3].item<float>(), 255.0f / 255);  // pixel 255
  EXPECT_TRUE(s.train.rows(2, 5).equal(x.slice(0, 2, 5)));
  EXPECT_TRUE(s.train.labels.equal(at::arange(10, at::kLong) % 10));
}

TEST(Dataset, LoadsGzipVariant) {
  TempDir root;
  fs::create_directories(root.file("mnist"));
  testing::write_fake_mnist(root.file("mnist"), "train", 6, /*gzip=*/true);
  testing::write_fake_mnist(root.file("mnist"), "t10k", 3, /*gzip=*/true);
  const Splits s = load_data(options_for("mnist", root.str()));
  EXPECT_EQ(s.train.size(), 6);
  EXPECT_EQ(s.test.size(), 3);
}

TEST(Dataset, CountMismatchIsError) {
  TempDir root;
  fs::create_directories(root.file("mnist"));
  testing::write_fake_mnist(root.file("mnist"), "train", 10);
  testing::write_fake_mnist(root.file("mnist"), "t10k", 4);
  testing::write_raw(root.file("mnist/t10k-labels-idx1-ubyte"), testing::idx_bytes({3}, {1, 2, 3}));
  const std::string msg = load_error(options_for("mnist", root.str()));
  EXPECT_NE(msg.find("labels"), std::string::npos) << msg;
}

TEST(Dataset, MissingDataNamesSetupScript) {
  TempDir root;
  const std::string msg = load_error(options_for("mnist", root.str()));
  EXPECT_NE(msg.find("scripts/setup.sh"), std::string::npos) << msg;
  EXPECT_NE(msg.find(root.file("mnist")), std::string::npos) << msg;
  EXPECT_NE(msg.find("train-images-idx3-ubyte"), std::string::npos) << msg;
}

TEST(Dataset, UnknownSpecListsValidForms) {
  const std::string msg = load_error(options_for("cifar"));
  EXPECT_NE(msg.find("cifar"), std::string::npos) << msg;
  EXPECT_NE(msg.find("toy:NAME"), std::string::npos) << msg;
  EXPECT_NE(msg.find("folder:PATH"), std::string::npos) << msg;
  EXPECT_FALSE(load_error(options_for("toy:spiral")).empty());
  EXPECT_FALSE(load_error(options_for("csv:")).empty());
}

TEST(Dataset, ToySplitsAreSeededAndDistinct) {
  DataOptions o = options_for("toy:moons");
  o.toy_train = 100;
  o.toy_test = 100;
  o.seed = 3;
  const Splits a = load_data(o);
  const Splits b = load_data(o);
  EXPECT_EQ(a.train.kind, Kind::points);
  EXPECT_EQ(a.train.x.sizes(), (at::IntArrayRef{100, 2}));
  EXPECT_FALSE(a.train.labels.defined());
  EXPECT_TRUE(a.train.x.equal(b.train.x));
  EXPECT_FALSE(a.train.x.equal(a.test.x));
  o.seed = 4;
  EXPECT_FALSE(load_data(o).train.x.equal(a.train.x));
}

TEST(Dataset, CsvSplitIsSeededPartition) {
  TempDir dir;
  std::ofstream(dir.file("p.csv")) << "x,y\n"
                                   << "0,0\n1,10\n2,20\n3,30\n4,40\n5,50\n6,60\n7,70\n8,80\n9,90\n";
  DataOptions o = options_for("csv:" + dir.file("p.csv"));
  o.test_fraction = 0.2;
  const Splits s = load_data(o);
  EXPECT_EQ(s.train.size(), 8);
  EXPECT_EQ(s.test.size(), 2);
  const at::Tensor all = at::cat({s.train.x.select(1, 0), s.test.x.select(1, 0)});
  EXPECT_TRUE(std::get<0>(all.sort()).equal(at::arange(10, at::kFloat)));
  EXPECT_TRUE(load_data(o).test.x.equal(s.test.x));
}

TEST(Dataset, TinySplitKeepsOneTestItem) {
  TempDir dir;
  std::ofstream(dir.file("p.csv")) << "1,2\n3,4\n";
  DataOptions o = options_for("csv:" + dir.file("p.csv"));
  o.test_fraction = 0.01;
  const Splits s = load_data(o);
  EXPECT_EQ(s.train.size(), 1);
  EXPECT_EQ(s.test.size(), 1);
}

TEST(Dataset, FolderSpecLoadsImages) {
  TempDir dir;
  for (int i = 0; i < 4; ++i) {
    io::write_png(dir.file("im" + std::to_string(i) + ".png"), at::full({1, 5, 6}, i / 4.0));
  }
  DataOptions o = options_for("folder:" + dir.str());
  o.test_fraction = 0.25;
  const Splits s = load_data(o);
  EXPECT_EQ(s.train.kind, Kind::image);
  EXPECT_EQ(s.train.x.sizes(), (at::IntArrayRef{3, 1, 5, 6}));
  EXPECT_EQ(s.test.x.sizes(), (at::IntArrayRef{1, 1, 5, 6}));
}

TEST(Dataset, AvailableListsPresentSetsAndToys) {
  TempDir root;
  fs::create_directories(root.file("mnist"));
  testing::write_fake_mnist(root.file("mnist"), "train", 2);
  testing::write_fake_mnist(root.file("mnist"), "t10k", 2);
  const std::vector<std::string> names = available_datasets(root.str());
  const auto has = [&](const std::string& n) {
    return std::find(names.begin(), names.end(), n) != names.end();
  };
  EXPECT_TRUE(has("mnist"));
  EXPECT_TRUE(has("toy:ncsn-gmm"));
  EXPECT_TRUE(has("toy:8gaussians"));
}

TEST(Dataset, DataRootFollowsEnvironment) {
  const char* old = std::getenv("DEEPGEN_DATA");
  const std::string saved = old ? old : "";
  setenv("DEEPGEN_DATA", "/some/where", 1);
  EXPECT_EQ(data_root(), "/some/where");
  unsetenv("DEEPGEN_DATA");
  EXPECT_FALSE(data_root().empty());
  if (old) setenv("DEEPGEN_DATA", saved.c_str(), 1);
}

TEST(Dataset, RealMnistStatistics) {
  if (!fs::exists(fs::path(data_root()) / "mnist")) {
    GTEST_SKIP() << "MNIST not installed under " << data_root() << " (run scripts/setup.sh)";
  }
  const Splits s = load_data(options_for("mnist"));
  EXPECT_EQ(s.train.x.sizes(), (at::IntArrayRef{60000, 1, 28, 28}));
  EXPECT_EQ(s.test.x.sizes(), (at::IntArrayRef{10000, 1, 28, 28}));
  EXPECT_EQ(s.train.labels.size(0), 60000);
  // The widely quoted MNIST normalisation constant.
  EXPECT_NEAR(s.train.values().mean().item<double>(), 0.1307, 1e-3);
  EXPECT_EQ(s.train.x.nbytes(), 60000 * 784);  // 47 MB of bytes, not 188 MB of float32
  EXPECT_EQ(s.train.labels.min().item<int64_t>(), 0);
  EXPECT_EQ(s.train.labels.max().item<int64_t>(), 9);
}

TEST(Dataset, RealFashionMnistShapes) {
  const std::vector<std::string> names = available_datasets(data_root());
  if (std::find(names.begin(), names.end(), "fashion-mnist") == names.end()) {
    GTEST_SKIP() << "Fashion-MNIST not installed (run scripts/setup.sh)";
  }
  const Splits s = load_data(options_for("fashion-mnist"));
  EXPECT_EQ(s.train.x.sizes(), (at::IntArrayRef{60000, 1, 28, 28}));
  EXPECT_EQ(s.test.x.sizes(), (at::IntArrayRef{10000, 1, 28, 28}));
}

}  // namespace
}  // namespace deepgen::data
