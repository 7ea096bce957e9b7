// Labelled data: class names for the IDX sets, the ImageFolder layout and a CSV label column,
// and splits that keep every item with its label.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/idx_helpers.h"
#include "deepgen/core/error.h"
#include "deepgen/core/options.h"
#include "deepgen/data/dataset.h"
#include "deepgen/data/files.h"
#include "deepgen/data/options.h"
#include "deepgen/io/image.h"
#include "support/error_message.h"
#include "support/temp_dir.h"

namespace deepgen::data {
namespace {

using deepgen::testing::error_message;
using deepgen::testing::TempDir;
namespace fs = std::filesystem;
using Names = std::vector<std::string>;

// The grey byte every image of class k carries, so a label can be checked against its pixels.
int64_t level_of(int64_t label) { return 40 * (label + 1); }

// A 3x4 grey PNG of byte `level` at dir/name (folders made as needed); pixel (0, 0) carries
// `tag` so images of one class differ.
void write_grey(const fs::path& path, int64_t level, int64_t tag = 0) {
  fs::create_directories(path.parent_path());
  at::Tensor im = at::full({1, 3, 4}, level, at::kByte);
  im[0][0][0] = tag;
  io::write_png(path.string(), im);
}

// Classes written out of order; "mango" keeps its images one folder down, as ImageFolder allows.
// Sorted: apple (2 images), mango (4), zebra (3). Plus folders that are no class.
void write_class_folder(const TempDir& dir) {
  for (int i = 0; i < 3; ++i) write_grey(dir.file("zebra/z" + std::to_string(i) + ".png"), 120, i);
  for (int i = 0; i < 2; ++i) write_grey(dir.file("apple/a" + std::to_string(i) + ".png"), 40, i);
  for (int i = 0; i < 4; ++i) {
    write_grey(dir.file("mango/deep/m" + std::to_string(i) + ".png"), 80, i);
  }
  fs::create_directories(dir.file("empty"));                 // no images: not a class
  write_grey(dir.file(".ipynb_checkpoints/copy.png"), 200);  // tooling: not a class
  std::ofstream(dir.file("apple/notes.txt")) << "not an image";
}

// Each item's pixels against its label's level; false on the first mismatch.
bool pixels_match_labels(const Dataset& d) {
  for (int64_t i = 0; i < d.size(); ++i) {
    const int64_t level = d.x[i][0][1][1].item<int64_t>();
    if (level != level_of(d.labels[i].item<int64_t>())) return false;
  }
  return true;
}

DataOptions options_for(const std::string& spec) {
  DataOptions o;
  o.spec = spec;
  return o;
}

TEST(Labels, ImageFolderClassesAreSortedSubfolders) {
  TempDir dir;
  write_class_folder(dir);
  const LabelledRows r = read_image_folder(dir.str(), 0);
  EXPECT_EQ(r.classes, (Names{"apple", "mango", "zebra"}));
  ASSERT_TRUE(r.labels.defined());
  EXPECT_EQ(r.labels.scalar_type(), at::kLong);
  EXPECT_TRUE(r.labels.equal(at::tensor({0, 0, 1, 1, 1, 1, 2, 2, 2}, at::kLong)));
  EXPECT_EQ(r.x.sizes(), (at::IntArrayRef{9, 1, 3, 4}));
  EXPECT_EQ(r.x.scalar_type(), at::kByte);
  for (int64_t i = 0; i < 9; ++i) {  // each class's images in name order: tags 0, 1, ...
    EXPECT_EQ(r.x[i][0][1][1].item<int64_t>(), level_of(r.labels[i].item<int64_t>())) << i;
  }
  EXPECT_TRUE(r.x.select(1, 0).select(1, 0).select(1, 0).equal(
      at::tensor({0, 1, 0, 1, 2, 3, 0, 1, 2}, at::kByte)));
}

TEST(Labels, FolderSplitKeepsEachImageWithItsLabel) {
  TempDir dir;
  write_class_folder(dir);
  DataOptions o = options_for("folder:" + dir.str());
  o.test_fraction = 0.34;
  o.seed = 7;
  const Splits s = load_data(o);
  EXPECT_EQ(s.train.size(), 6);
  EXPECT_EQ(s.test.size(), 3);
  for (const Dataset* d : {&s.train, &s.test}) {
    EXPECT_EQ(d->classes, (Names{"apple", "mango", "zebra"})) << d->name;
    ASSERT_TRUE(d->labels.defined()) << d->name;
    EXPECT_EQ(d->labels.size(0), d->size()) << d->name;
    EXPECT_TRUE(pixels_match_labels(*d)) << d->name;
  }
  const at::Tensor all = at::cat({s.train.labels, s.test.labels});
  EXPECT_TRUE(at::bincount(all).equal(at::tensor({2, 4, 3}, at::kLong)));
  EXPECT_TRUE(load_data(o).test.labels.equal(s.test.labels));  // the seed fixes the split
}

TEST(Labels, ResizedClassFolderKeepsLabels) {
  TempDir dir;
  write_class_folder(dir);
  const LabelledRows r = read_image_folder(dir.str(), 8);
  EXPECT_EQ(r.x.sizes(), (at::IntArrayRef{9, 1, 8, 8}));
  EXPECT_EQ(r.labels.size(0), 9);
}

TEST(Labels, FlatFolderStaysUnlabelled) {
  TempDir dir;
  for (int i = 0; i < 3; ++i) write_grey(dir.file("im" + std::to_string(i) + ".png"), 40 * i);
  fs::create_directories(dir.file("empty"));  // a subfolder without images changes nothing
  const LabelledRows r = read_image_folder(dir.str(), 0);
  EXPECT_FALSE(r.labels.defined());
  EXPECT_TRUE(r.classes.empty());
  DataOptions o = options_for("folder:" + dir.str());
  o.test_fraction = 0.34;
  const Splits s = load_data(o);
  EXPECT_FALSE(s.train.labels.defined());
  EXPECT_FALSE(s.test.labels.defined());
  EXPECT_TRUE(s.train.classes.empty());
  EXPECT_EQ(s.train.size() + s.test.size(), 3);
}

TEST(Labels, MixedFolderLayoutIsOneError) {
  TempDir dir;
  write_grey(dir.file("loose.png"), 40);
  write_grey(dir.file("cat/c.png"), 80);
  write_grey(dir.file("dog/d.png"), 120);
  const std::string e = error_message([&] { read_image_folder(dir.str(), 0); });
  EXPECT_NE(e.find(dir.str()), std::string::npos) << e;
  EXPECT_NE(e.find("mixes 1 image at its top level (loose.png)"), std::string::npos) << e;
  EXPECT_NE(e.find("class subfolders (cat, dog)"), std::string::npos) << e;
  EXPECT_NE(e.find("move the top-level images into a subfolder"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
}

TEST(Labels, FolderOfEmptySubfoldersHoldsNoImages) {
  TempDir dir;
  fs::create_directories(dir.file("a/b"));
  fs::create_directories(dir.file("c"));
  const std::string e = error_message([&] { read_image_folder(dir.str(), 0); });
  EXPECT_NE(e.find("holds no PNG/JPEG images"), std::string::npos) << e;
}

TEST(Labels, CsvLabelColumnByNameSortsIntegersNumerically) {
  TempDir dir;
  std::ofstream(dir.file("p.csv")) << "x,label,y\n1,2,10\n3,10,30\n5,2,50\n7,-1,70\n";
  const LabelledRows r = read_csv(dir.file("p.csv"), "label");
  EXPECT_TRUE(r.x.equal(at::tensor({1.f, 10.f, 3.f, 30.f, 5.f, 50.f, 7.f, 70.f}).view({4, 2})));
  EXPECT_EQ(r.classes, (Names{"-1", "2", "10"}));  // numbers, not strings: "2" before "10"
  EXPECT_TRUE(r.labels.equal(at::tensor({1, 2, 1, 0}, at::kLong)));
}

TEST(Labels, CsvLabelColumnByIndexWithoutHeader) {
  TempDir dir;
  std::ofstream(dir.file("p.csv")) << "1,2,cat\n3,4,ant\n5,6,cat\n";
  const LabelledRows r = read_csv(dir.file("p.csv"), "2");
  EXPECT_TRUE(r.x.equal(at::tensor({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}).view({3, 2})));
  EXPECT_EQ(r.classes, (Names{"ant", "cat"}));
  EXPECT_TRUE(r.labels.equal(at::tensor({1, 0, 1}, at::kLong)));
}

TEST(Labels, CsvIndexSkipsHeaderAndNameWinsOverIndex) {
  TempDir dir;
  std::ofstream(dir.file("h.csv")) << "kind,a,b\n07,1,2\n7,3,4\n3,5,6\n";
  const LabelledRows by_index = read_csv(dir.file("h.csv"), "0");
  EXPECT_EQ(by_index.x.sizes(), (at::IntArrayRef{3, 2}));
  EXPECT_EQ(by_index.classes, (Names{"3", "7"}));  // "07" and "7" are one integer
  EXPECT_TRUE(by_index.labels.equal(at::tensor({1, 1, 0}, at::kLong)));
  // A header naming a column "0" (pandas' default names): the name wins over index 0.
  std::ofstream(dir.file("n.csv")) << "1,0,w\n0.5,4,8\n1.5,9,7\n";
  const LabelledRows named = read_csv(dir.file("n.csv"), "0");
  EXPECT_TRUE(named.x.equal(at::tensor({0.5f, 8.f, 1.5f, 7.f}).view({2, 2})));
  EXPECT_EQ(named.classes, (Names{"4", "9"}));
  std::ofstream(dir.file("w.csv")) << "0,1,label\n0.5,4,dog\n1.5,9,cat\n";
  const LabelledRows words = read_csv(dir.file("w.csv"), "label");
  EXPECT_EQ(words.classes, (Names{"cat", "dog"}));
  EXPECT_TRUE(words.labels.equal(at::tensor({1, 0}, at::kLong)));
  EXPECT_TRUE(words.x.equal(at::tensor({0.5f, 4.f, 1.5f, 9.f}).view({2, 2})));
}

TEST(Labels, CsvLabelColumnErrors) {
  TempDir dir;
  const std::string h = dir.file("h.csv"), n = dir.file("n.csv");
  std::ofstream(h) << "x,y,label\n1,2,a\n3,4,\n";
  std::ofstream(n) << "1,2,3\n4,5,6\n";
  const std::string missing = error_message([&] { read_csv(h, "class"); });
  EXPECT_NE(missing.find(h), std::string::npos) << missing;
  EXPECT_NE(missing.find("'class'"), std::string::npos) << missing;
  EXPECT_NE(missing.find("(x, y, label)"), std::string::npos) << missing;
  const std::string no_header = error_message([&] { read_csv(n, "label"); });
  EXPECT_NE(no_header.find("no header line"), std::string::npos) << no_header;
  EXPECT_NE(no_header.find("0..2"), std::string::npos) << no_header;
  const std::string beyond = error_message([&] { read_csv(n, "3"); });
  EXPECT_NE(beyond.find("has 3 columns"), std::string::npos) << beyond;
  const std::string empty = error_message([&] { read_csv(h, "label"); });
  EXPECT_NE(empty.find("line 3: empty label"), std::string::npos) << empty;
  std::ofstream(dir.file("only.csv")) << "label\na\nb\n";
  const std::string only = error_message([&] { read_csv(dir.file("only.csv"), "label"); });
  EXPECT_NE(only.find("no feature column"), std::string::npos) << only;
  for (const std::string& e : {missing, no_header, beyond, empty, only}) {
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
}

TEST(Labels, CsvWithoutLabelColumnIsUnlabelled) {
  TempDir dir;
  std::ofstream(dir.file("p.csv")) << "x,y\n1,2\n3,4\n";
  const LabelledRows r = read_csv(dir.file("p.csv"), "");
  EXPECT_FALSE(r.labels.defined());
  EXPECT_TRUE(r.classes.empty());
  // Without a label column, a word in a data row stays an error.
  std::ofstream(dir.file("w.csv")) << "1,2,cat\n3,4,ant\n";
  EXPECT_NE(error_message([&] { read_csv(dir.file("w.csv"), ""); }).find("not a finite number"),
            std::string::npos);
}

TEST(Labels, CsvSplitKeepsEachRowWithItsLabel) {
  TempDir dir;
  std::ofstream out(dir.file("p.csv"));
  out << "v,class\n";
  for (int i = 0; i < 20; ++i) out << (i % 4) * 10 << "," << (i % 4) * 10 << "\n";  // v == class
  out.close();
  DataOptions o = options_for("csv:" + dir.file("p.csv"));
  o.label_column = "class";
  o.test_fraction = 0.25;
  const Splits s = load_data(o);
  EXPECT_EQ(s.train.size(), 15);
  EXPECT_EQ(s.test.size(), 5);
  for (const Dataset* d : {&s.train, &s.test}) {
    EXPECT_EQ(d->classes, (Names{"0", "10", "20", "30"})) << d->name;
    EXPECT_EQ(d->x.size(1), 1) << d->name;
    EXPECT_TRUE(d->x.select(1, 0).equal(d->labels.to(at::kFloat) * 10)) << d->name;
  }
}

TEST(Labels, LabelColumnOnlyForCsv) {
  DataOptions o = options_for("toy:moons");
  o.label_column = "label";
  const std::string e = error_message([&] { load_data(o); });
  EXPECT_NE(e.find("csv:PATH"), std::string::npos) << e;
}

TEST(Labels, LabelColumnIsAFlag) {
  const std::vector<OptionSpec> specs = data_option_table().specs();
  const auto it = std::find_if(specs.begin(), specs.end(),
                               [](const OptionSpec& s) { return s.key == "label_column"; });
  ASSERT_NE(it, specs.end());
  EXPECT_EQ(it->flag, "label-column");
  DataOptions o = data_option_table().parse({}, R"({"label_column": "kind"})");
  EXPECT_EQ(o.label_column, "kind");
  EXPECT_EQ(data_option_table().to_json(DataOptions{})["label_column"], "");
}

TEST(Labels, IdxSetsNameTheirClasses) {
  TempDir root;
  for (const std::string name : {"mnist", "fashion-mnist"}) {
    fs::create_directories(root.file(name));
    testing::write_fake_mnist(root.file(name), "train", 10);
    testing::write_fake_mnist(root.file(name), "t10k", 4);
  }
  DataOptions o = options_for("mnist");
  o.root = root.str();
  const Splits digits = load_data(o);
  EXPECT_EQ(digits.train.classes, (Names{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
  EXPECT_EQ(digits.test.classes, digits.train.classes);
  o.spec = "fashion-mnist";
  const Splits fashion = load_data(o);
  EXPECT_EQ(fashion.train.classes, (Names{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}));
  EXPECT_EQ(fashion.test.classes, fashion.train.classes);
}

TEST(Labels, IdxLabelBeyondClassesIsError) {
  TempDir root;
  fs::create_directories(root.file("mnist"));
  testing::write_fake_mnist(root.file("mnist"), "train", 3);
  testing::write_fake_mnist(root.file("mnist"), "t10k", 3);
  testing::write_raw(root.file("mnist/t10k-labels-idx1-ubyte"),
                     testing::idx_bytes({3}, {1, 12, 3}));
  DataOptions o = options_for("mnist");
  o.root = root.str();
  const std::string e = error_message([&] { load_data(o); });
  EXPECT_NE(e.find("beyond 0..9"), std::string::npos) << e;
}

TEST(Labels, RealMnistClasses) {
  if (!fs::exists(fs::path(data_root()) / "mnist")) {
    GTEST_SKIP() << "MNIST not installed under " << data_root() << " (run scripts/setup.sh)";
  }
  const Splits s = load_data(options_for("mnist"));
  ASSERT_EQ(s.train.classes.size(), 10u);
  EXPECT_EQ(s.train.classes[7], "7");
  EXPECT_EQ(s.test.classes, s.train.classes);
  EXPECT_EQ(s.test.labels.max().item<int64_t>(), 9);
}

}  // namespace
}  // namespace deepgen::data
