// One label style for the spec's formulas: "MATH <id>" (MATH 2f, MATH 3.2a, MATH Part 2), so that
// `grep -rn "MATH 2f"` finds the function that implements the formula, its test and its doc line.
// The spec (MATH.md) lives outside the repository, so the implemented ids are listed here.
#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

// Every id of MATH.md that the code implements. 3.2b (the weakness of explicit score matching
// against a kernel density) is a benchmark, bench/bench_score.cpp; its cost is also stated at
// kde_score, and its nearest-neighbour collapse is checked in tests/score/kde_test.cpp.
const std::vector<std::string> kImplementedIds = {
    "1.1",  "1.2",  "1.3a", "1.3b", "1.4",  "1.5",                // Part 1
    "2a",   "2b",   "2c",   "2d",   "2e",   "2f",   "2g",  "2h",  // Part 2
    "3.1a", "3.1b", "3.2",  "3.2a", "3.2b", "3.2c", "3.2d"};      // Part 3

// The ids that cannot be read as numbers: a comment that starts with one of them is an
// unlabelled id ("// 2f  the same KL", "(2g; ...)").
bool has_letter(const std::string& id) {
  return std::isalpha(static_cast<unsigned char>(id.back()));
}

struct File {
  std::string path;  // relative to the source directory
  std::string text;
};

bool has_extension(const fs::path& p, const std::vector<std::string>& extensions) {
  for (const auto& e : extensions)
    if (p.extension() == e) return true;
  return false;
}

// Every file under `dir` (relative to the source directory) with one of the extensions, read once.
std::vector<File> read_tree(const std::string& dir, const std::vector<std::string>& extensions) {
  std::vector<File> files;
  const fs::path root = fs::path(DEEPGEN_SOURCE_DIR) / dir;
  if (!fs::exists(root)) return files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file() || !has_extension(entry.path(), extensions)) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    files.push_back({fs::relative(entry.path(), DEEPGEN_SOURCE_DIR).generic_string(), text.str()});
  }
  return files;
}

bool alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// `label` occurs in `text` followed by a character that is not alphanumeric (or by the end), so
// "MATH 3.2" is not found in "MATH 3.2a".
bool contains_label(const std::string& text, const std::string& label) {
  for (size_t at = text.find(label); at != std::string::npos; at = text.find(label, at + 1)) {
    const size_t end = at + label.size();
    if (end == text.size() || !alnum(text[end])) return true;
  }
  return false;
}

// The paths among `files` that contain `label` as above.
std::vector<std::string> files_with(const std::vector<File>& files, const std::string& label) {
  std::vector<std::string> paths;
  for (const auto& f : files)
    if (contains_label(f.text, label)) paths.push_back(f.path);
  return paths;
}

class MathLabels : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::vector<std::string> code = {".h", ".hpp", ".cpp", ".cc", ".cu"};
    for (const char* dir : {"include", "src"})
      for (auto& f : read_tree(dir, code)) library_.push_back(std::move(f));
    for (auto& f : read_tree("tests", {".h", ".hpp", ".cpp", ".cc", ".cu", ".py"}))
      if (fs::path(f.path).filename() != "math_labels_test.cpp") tests_.push_back(std::move(f));
    for (auto& f : read_tree("docs", {".md"}))
      if (f.path != "docs/options.md") docs_.push_back(std::move(f));  // generated from --help
  }
  static std::vector<File> library_, tests_, docs_;
};
std::vector<File> MathLabels::library_, MathLabels::tests_, MathLabels::docs_;

TEST_F(MathLabels, TheTreesAreThere) {
  // An empty tree would make every check below pass vacuously.
  EXPECT_GT(library_.size(), 20u);
  EXPECT_GT(tests_.size(), 20u);
  EXPECT_GE(docs_.size(), 3u);
}

TEST_F(MathLabels, EveryImplementedIdIsLabelledAtItsCodeItsTestAndItsDoc) {
  for (const auto& id : kImplementedIds) {
    const std::string label = "MATH " + id;
    EXPECT_FALSE(files_with(library_, label).empty()) << label << " in no file of include/, src/";
    EXPECT_FALSE(files_with(tests_, label).empty()) << label << " in no file of tests/";
    EXPECT_FALSE(files_with(docs_, label).empty()) << label << " in no file of docs/";
  }
}

TEST_F(MathLabels, TheMatcherNeedsTheWholeId) {
  EXPECT_TRUE(contains_label("see MATH 3.2a.", "MATH 3.2a"));
  EXPECT_TRUE(contains_label("MATH 2a–2h", "MATH 2a"));  // a range names its first id
  EXPECT_FALSE(contains_label("MATH 3.2a", "MATH 3.2"));
  EXPECT_FALSE(contains_label("MATH 1.3b", "MATH 1.3"));
  EXPECT_TRUE(contains_label("MATH 3.2", "MATH 3.2"));
}

// The old styles: "MATH.md 2a" / "MATH.md Part 2", and comments that start with a bare id
// ("// 2f  the same KL ...") or put one first in parentheses ("(2g; ...").
TEST_F(MathLabels, NoOldStyleLabels) {
  const std::string old_prefix = std::string("MATH") + ".md ";
  std::vector<const File*> all;
  for (const auto* tree : {&library_, &tests_, &docs_})
    for (const auto& f : *tree) all.push_back(&f);
  for (const File* f : all) {
    const std::string& t = f->text;
    for (size_t at = t.find(old_prefix); at != std::string::npos; at = t.find(old_prefix, at + 1)) {
      const std::string rest = t.substr(at + old_prefix.size(), 4);
      EXPECT_FALSE(!rest.empty() && (std::isdigit(static_cast<unsigned char>(rest[0])) ||
                                     rest.rfind("Part", 0) == 0))
          << f->path << ": \"" << t.substr(at, old_prefix.size() + 10) << "\" (write MATH <id>)";
    }
  }
  for (const auto* tree : {&library_, &tests_}) {
    for (const auto& f : *tree) {
      std::istringstream lines(f.text);
      std::string line;
      for (int n = 1; std::getline(lines, line); ++n) {
        const size_t slash = line.find("//");
        if (slash == std::string::npos) continue;
        const std::string comment = line.substr(slash + 2);
        for (const auto& id : kImplementedIds) {
          if (!has_letter(id)) continue;
          const size_t lead = comment.find_first_not_of(' ');
          const bool leading =
              lead != std::string::npos && comment.compare(lead, id.size(), id) == 0 &&
              (lead + id.size() == comment.size() ||
               std::string(" :/,;").find(comment[lead + id.size()]) != std::string::npos);
          const bool parenthesised = comment.find("(" + id + ";") != std::string::npos ||
                                     comment.find("(" + id + ")") != std::string::npos;
          EXPECT_FALSE(leading || parenthesised)
              << f.path << ":" << n << ": bare id " << id << " (write MATH " << id << ")";
        }
      }
    }
  }
}

}  // namespace
