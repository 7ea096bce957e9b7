#include "deepgen/io/files.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "deepgen/core/error.h"
#include "support/temp_dir.h"

namespace deepgen::io {
namespace {

using deepgen::testing::TempDir;

std::vector<std::string> dir_entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(Files, WriteThenReadRoundTripsBinaryBytes) {
  TempDir dir;
  const std::string path = dir.file("blob.bin");
  std::string bytes("a\0b\xff\n\r", 6);
  for (int i = 0; i < 100000; ++i) bytes += static_cast<char>(i * 7);
  write_file_atomic(path, bytes);
  EXPECT_EQ(read_file(path), bytes);
  EXPECT_EQ(dir_entries(dir.str()), std::vector<std::string>{"blob.bin"});
}

TEST(Files, EmptyFileReadsAsEmpty) {
  TempDir dir;
  write_file_atomic(dir.file("empty"), "");
  EXPECT_EQ(read_file(dir.file("empty")), "");
}

TEST(Files, OverwriteReplacesContent) {
  TempDir dir;
  const std::string path = dir.file("f.txt");
  write_file_atomic(path, "first version, longer");
  write_file_atomic(path, "second");
  EXPECT_EQ(read_file(path), "second");
}

TEST(Files, ThrowingWriterLeavesOldFileAndNoTemp) {
  TempDir dir;
  const std::string path = dir.file("state.json");
  write_file_atomic(path, "old");
  std::string seen_tmp;
  EXPECT_THROW(write_atomic(path,
                            [&](const std::string& tmp) {
                              seen_tmp = tmp;
                              std::ofstream(tmp) << "half-written new cont";
                              throw std::runtime_error("writer died");
                            }),
               std::runtime_error);
  EXPECT_EQ(read_file(path), "old");
  EXPECT_NE(seen_tmp, path);
  EXPECT_EQ(std::filesystem::path(seen_tmp).parent_path(),
            std::filesystem::path(path).parent_path());
  EXPECT_FALSE(file_exists(seen_tmp));
  EXPECT_EQ(dir_entries(dir.str()), std::vector<std::string>{"state.json"});
}

TEST(Files, WriterThatCreatesNothingIsAnError) {
  TempDir dir;
  const std::string path = dir.file("x");
  write_file_atomic(path, "old");
  EXPECT_THROW(write_atomic(path, [](const std::string&) {}), Error);
  EXPECT_EQ(read_file(path), "old");
  EXPECT_EQ(dir_entries(dir.str()), std::vector<std::string>{"x"});
}

TEST(Files, WriteIntoMissingDirectoryFailsCleanly) {
  TempDir dir;
  const std::string path = dir.file("no/such/dir/f.txt");
  try {
    write_file_atomic(path, "data");
    FAIL() << "expected deepgen::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  EXPECT_TRUE(dir_entries(dir.str()).empty());
}

TEST(Files, ReadMissingFileNamesThePath) {
  TempDir dir;
  const std::string path = dir.file("missing.txt");
  try {
    read_file(path);
    FAIL() << "expected deepgen::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_file(dir.str()), Error);  // a directory is not a file
}

TEST(Files, FileExists) {
  TempDir dir;
  EXPECT_FALSE(file_exists(dir.file("a")));
  write_file_atomic(dir.file("a"), "1");
  EXPECT_TRUE(file_exists(dir.file("a")));
}

TEST(Files, MakeDirsCreatesNestedAndIsIdempotent) {
  TempDir dir;
  const std::string nested = dir.file("a/b/c");
  make_dirs(nested);
  EXPECT_TRUE(std::filesystem::is_directory(nested));
  make_dirs(nested);
  EXPECT_TRUE(std::filesystem::is_directory(nested));
}

TEST(Files, MakeDirsOverAFileNamesThePath) {
  TempDir dir;
  const std::string file = dir.file("plain");
  write_file_atomic(file, "x");
  for (const std::string& target : {file, file + "/sub"}) {
    try {
      make_dirs(target);
      FAIL() << "expected deepgen::Error for " << target;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(target), std::string::npos) << e.what();
    }
  }
}

TEST(Files, Base64MatchesRfc4648Vectors) {
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foo"), "Zm9v");
  EXPECT_EQ(base64("foob"), "Zm9vYg==");
  EXPECT_EQ(base64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64(std::string("\x00\xff\xfe", 3)), "AP/+");
}

}  // namespace
}  // namespace deepgen::io
