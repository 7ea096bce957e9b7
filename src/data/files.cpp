#include "deepgen/data/files.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "deepgen/core/error.h"
#include "deepgen/data/dataset.h"
#include "deepgen/io/image.h"

namespace deepgen::data {
namespace {

namespace fs = std::filesystem;
namespace F = torch::nn::functional;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_image_file(const fs::path& p) {
  const std::string ext = lower(p.extension().string());
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

void require_folder(const std::string& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) {
    throw Error("image folder '" + folder + "' not found (expected a directory of PNG/JPEG files)");
  }
}

[[noreturn]] void listing_fail(const fs::path& dir, const std::error_code& ec) {
  throw Error("image folder '" + dir.string() + "' cannot be listed: " + ec.message());
}

// Tooling keeps its own folders (.git, .ipynb_checkpoints, often with copies of the images):
// they are neither classes nor part of one.
bool is_hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

// The image files directly in `dir` (sorted by name) and its visible subfolders (sorted by name,
// as ImageFolder sorts its classes).
struct FolderEntries {
  std::vector<std::string> images;
  std::vector<std::string> subfolders;
};

FolderEntries folder_entries(const fs::path& dir) {
  FolderEntries out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code kind_ec;  // an entry that cannot be inspected is skipped, as before
    if (it->is_regular_file(kind_ec) && is_image_file(it->path())) {
      out.images.push_back(it->path().string());
    } else if (it->is_directory(kind_ec) && !is_hidden(it->path())) {
      out.subfolders.push_back(it->path().filename().string());
    }
  }
  if (ec) listing_fail(dir, ec);
  std::sort(out.images.begin(), out.images.end());
  std::sort(out.subfolders.begin(), out.subfolders.end());
  return out;
}

// Every image below `dir`, in the order ImageFolder lists a class: folder by folder as
// sorted(os.walk(dir)) visits them, names sorted within a folder. Directory links are not
// followed, so a link cycle cannot loop.
std::vector<std::string> images_below(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code kind_ec;
    if (it->is_directory(kind_ec) && is_hidden(it->path())) {
      it.disable_recursion_pending();
    } else if (it->is_regular_file(kind_ec) && is_image_file(it->path())) {
      files.push_back(it->path());
    }
  }
  if (ec) listing_fail(dir, ec);
  std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
    return std::make_pair(a.parent_path().string(), a.filename().string()) <
           std::make_pair(b.parent_path().string(), b.filename().string());
  });
  return std::vector<std::string>(files.begin(), files.end());
}

// The image files to read, with their class index and the class names (empty: unlabelled).
struct FolderFiles {
  std::vector<std::string> files;
  std::vector<int64_t> labels;
  std::vector<std::string> classes;
};

// "a, b, c" for at most `shown` names, then how many in all.
std::string name_list(const std::vector<std::string>& names, size_t shown = 5) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < shown; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > shown) out += ", ... (" + std::to_string(names.size()) + " in all)";
  return out;
}

FolderFiles class_files(const std::string& folder, const std::vector<std::string>& subfolders) {
  FolderFiles out;
  for (const std::string& name : subfolders) {
    const std::vector<std::string> files = images_below(fs::path(folder) / name);
    if (files.empty()) continue;  // not a class: no index, as if absent
    out.files.insert(out.files.end(), files.begin(), files.end());
    out.labels.insert(out.labels.end(), files.size(), static_cast<int64_t>(out.classes.size()));
    out.classes.push_back(name);
  }
  return out;
}

FolderFiles list_folder(const std::string& folder) {
  require_folder(folder);
  FolderEntries entries = folder_entries(folder);
  FolderFiles labelled = class_files(folder, entries.subfolders);
  if (!entries.images.empty() && !labelled.classes.empty()) {
    const size_t n = entries.images.size();
    throw Error("image folder '" + folder + "' mixes " + std::to_string(n) +
                (n == 1 ? " image" : " images") + " at its top level (" +
                fs::path(entries.images[0]).filename().string() + (n > 1 ? ", ..." : "") +
                ") with class subfolders (" + name_list(labelled.classes) +
                "): move the top-level images into a subfolder, or keep only one layout");
  }
  if (!labelled.classes.empty()) return labelled;
  if (entries.images.empty()) {
    throw Error("image folder '" + folder +
                "' holds no PNG/JPEG images (neither directly nor in class subfolders)");
  }
  FolderFiles flat;
  flat.files = std::move(entries.images);
  return flat;
}

// uint8 (H, W, C) -> uint8 (1, C, H, W).
at::Tensor to_chw(const at::Tensor& hwc) { return hwc.permute({2, 0, 1}).unsqueeze(0); }

// Area averaging is the exact box filter for shrinking; bilinear with antialias covers
// enlarging (and mixed) cases without the aliasing plain bilinear shows when shrinking.
at::Tensor resize(const at::Tensor& image, int size) {
  const bool shrinking = image.size(2) >= size && image.size(3) >= size;
  auto options = F::InterpolateFuncOptions().size(std::vector<int64_t>{size, size});
  if (shrinking) {
    options.mode(torch::kArea);
  } else {
    options.mode(torch::kBilinear).align_corners(false).antialias(true);
  }
  return F::interpolate(image, options).clamp(0, 1);
}

std::string size_text(const at::Tensor& hwc) {
  return std::to_string(hwc.size(1)) + "x" + std::to_string(hwc.size(0));
}

at::Tensor stack_images(const std::vector<std::string>& files,
                        const std::vector<at::Tensor>& images, int image_size) {
  bool colour = false;
  for (const auto& im : images) colour = colour || im.size(2) == 3;
  std::vector<at::Tensor> out;
  for (size_t i = 0; i < images.size(); ++i) {
    if (image_size <= 0 && !images[i].sizes().slice(0, 2).equals(images[0].sizes().slice(0, 2))) {
      throw Error("image folder: '" + files[i] + "' is " + size_text(images[i]) + " but '" +
                  files[0] + "' is " + size_text(images[0]) + "; set " +
                  option_ref("data", "image_size") + " N to resize them all");
    }
    at::Tensor im = to_chw(images[i]);
    if (colour && im.size(1) == 1) im = im.expand({1, 3, im.size(2), im.size(3)});
    // Kept as bytes at their own size (Dataset::x); resizing makes values between the levels.
    out.push_back(image_size > 0 ? resize(as_values(im), image_size) : im);
  }
  return at::cat(out, 0).contiguous();
}

[[noreturn]] void csv_fail(const std::string& path, size_t line, const std::string& defect) {
  throw Error("CSV file '" + path + "', line " + std::to_string(line) + ": " + defect);
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> fields;
  size_t start = 0;
  while (true) {
    const size_t comma = line.find(',', start);
    fields.push_back(trim(line.substr(start, comma - start)));
    if (comma == std::string::npos) return fields;
    start = comma + 1;
  }
}

bool parse_number(const std::string& field, double& value) {
  if (field.empty()) return false;
  char* end = nullptr;
  errno = 0;
  value = std::strtod(field.c_str(), &end);
  return end == field.c_str() + field.size() && errno != ERANGE && std::isfinite(value);
}

// The points are float32: a finite double beyond its range would become Inf.
bool fits_float(double value) { return std::fabs(value) <= std::numeric_limits<float>::max(); }

constexpr size_t kNoLabel = std::string::npos;

bool all_digits(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

// The header rule: a first line with a field that is not a number names the columns. The label
// column is left out of the test, as its values may be words.
bool has_word(const std::vector<std::string>& fields, size_t skip = kNoLabel) {
  double ignored = 0;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i != skip && !parse_number(fields[i], ignored)) return true;
  }
  return false;
}

// Where the label column is and whether the first line is a header.
struct CsvLayout {
  size_t label = kNoLabel;
  bool header = false;
};

// The fix for a label column that names nothing: what the file offers instead.
std::string column_choices(const std::vector<std::string>& first, bool header) {
  const std::string indices = "a 0-based column index 0.." + std::to_string(first.size() - 1);
  if (!header) return "the file has no header line (its first line is numbers); give " + indices;
  return "give a header name (" + name_list(first, 20) + ") or " + indices;
}

// The first line is a header when a field outside the label column is a word, so an index's
// column may hold words in every line. Then a header name wins (a header may name a column "0");
// else all digits are a 0-based index.
CsvLayout label_layout(const std::string& path, const std::vector<std::string>& first,
                       const std::string& label_column) {
  const std::string ref = option_ref("data", "label_column") + " '" + label_column + "'";
  const bool digits = all_digits(label_column);
  // strtoull saturates, so an index too large for size_t still reads as beyond the columns.
  const size_t index = digits ? std::strtoull(label_column.c_str(), nullptr, 10) : kNoLabel;
  const bool header = has_word(first, index);
  const auto named = std::find(first.begin(), first.end(), label_column);
  if (header && named != first.end()) return {static_cast<size_t>(named - first.begin()), true};
  if (!digits) {
    throw Error("CSV file '" + path + "' has no column named by " + ref + ": " +
                column_choices(first, header));
  }
  if (index >= first.size()) {
    throw Error("CSV file '" + path + "' has " + std::to_string(first.size()) + " columns, so " +
                ref + " names none: " + column_choices(first, header));
  }
  return {index, header};
}

CsvLayout csv_layout(const std::string& path, const std::vector<std::string>& first,
                     const std::string& label_column) {
  if (label_column.empty()) return {kNoLabel, has_word(first)};
  const CsvLayout layout = label_layout(path, first, label_column);
  if (first.size() == 1) {
    throw Error(
        "CSV file '" + path + "' holds only its label column (" +
        option_ref("data", "label_column") + " '" + label_column +
        "'): no feature column is left; add feature columns, or leave the label column out");
  }
  return layout;
}

bool parse_integer(const std::string& s, long long& value) {
  char* end = nullptr;
  errno = 0;
  value = std::strtoll(s.c_str(), &end, 10);
  return !s.empty() && end == s.c_str() + s.size() && errno != ERANGE;
}

// Integer labels: classes in numeric order ("2" before "10"), each named by its integer, so
// "07" and "7" are one class. Empty when a value is not an integer.
std::optional<LabelledRows> integer_classes(const std::vector<std::string>& values) {
  std::vector<long long> numbers(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (!parse_integer(values[i], numbers[i])) return std::nullopt;
  }
  std::vector<long long> distinct = numbers;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  LabelledRows out;
  std::vector<int64_t> labels;
  for (const long long v : numbers) {
    labels.push_back(std::lower_bound(distinct.begin(), distinct.end(), v) - distinct.begin());
  }
  for (const long long v : distinct) out.classes.push_back(std::to_string(v));
  out.labels = at::tensor(labels, at::kLong);
  return out;
}

// Word labels: the distinct strings sorted, label = index of the row's string.
LabelledRows string_classes(const std::vector<std::string>& values) {
  LabelledRows out;
  out.classes = values;
  std::sort(out.classes.begin(), out.classes.end());
  out.classes.erase(std::unique(out.classes.begin(), out.classes.end()), out.classes.end());
  std::vector<int64_t> labels;
  for (const std::string& v : values) {
    labels.push_back(std::lower_bound(out.classes.begin(), out.classes.end(), v) -
                     out.classes.begin());
  }
  out.labels = at::tensor(labels, at::kLong);
  return out;
}

// One pass over a CSV: the layout from its first line, then every row checked and kept.
class CsvReader {
 public:
  CsvReader(std::string path, std::string label_column)
      : path_(std::move(path)), label_column_(std::move(label_column)) {}

  LabelledRows read() {
    std::ifstream in(path_);
    if (!in) throw Error("CSV file '" + path_ + "' not found or unreadable");
    std::string line;
    size_t line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (trim(line).empty()) continue;
      add_line(split_fields(line), line_no);
    }
    if (rows_ == 0) throw Error("CSV file '" + path_ + "' is empty (no data rows)");
    return finish();
  }

 private:
  void add_line(const std::vector<std::string>& fields, size_t line_no) {
    if (columns_ == 0) {
      columns_ = fields.size();
      const CsvLayout layout = csv_layout(path_, fields, label_column_);
      label_ = layout.label;
      if (layout.header) return;  // it fixes the column count only
    }
    if (fields.size() != columns_) {
      csv_fail(path_, line_no,
               "ragged row: expected " + std::to_string(columns_) + " values, found " +
                   std::to_string(fields.size()));
    }
    for (size_t i = 0; i < fields.size(); ++i) add_field(fields[i], i, line_no);
    ++rows_;
  }

  void add_field(const std::string& field, size_t i, size_t line_no) {
    const std::string value_ref = "value " + std::to_string(i + 1) + " ('" + field + "')";
    if (i == label_) {
      if (field.empty()) {
        csv_fail(
            path_, line_no,
            "empty label (value " + std::to_string(i + 1) + "): fill it in, or remove the line");
      }
      labels_.push_back(field);
      return;
    }
    double v = 0;
    if (!parse_number(field, v)) csv_fail(path_, line_no, value_ref + " is not a finite number");
    if (!fits_float(v)) {
      csv_fail(path_, line_no, value_ref + " is beyond float32's range (|x| <= 3.4e38)");
    }
    values_.push_back(static_cast<float>(v));
  }

  LabelledRows finish() const {
    LabelledRows out;
    if (label_ != kNoLabel) {
      std::optional<LabelledRows> ints = integer_classes(labels_);
      out = ints ? std::move(*ints) : string_classes(labels_);
    }
    const auto features = static_cast<int64_t>(columns_ - (label_ == kNoLabel ? 0 : 1));
    out.x = at::tensor(values_).view({static_cast<int64_t>(rows_), features});
    return out;
  }

  std::string path_;
  std::string label_column_;
  size_t columns_ = 0;  // 0 until the first line is read
  size_t label_ = kNoLabel;
  size_t rows_ = 0;
  std::vector<float> values_;
  std::vector<std::string> labels_;
};

}  // namespace

LabelledRows read_image_folder(const std::string& folder, int image_size) {
  const FolderFiles list = list_folder(folder);
  std::vector<at::Tensor> images;
  images.reserve(list.files.size());
  for (const auto& f : list.files) images.push_back(io::read_image(f));
  LabelledRows out;
  out.x = stack_images(list.files, images, image_size);
  if (!list.classes.empty()) {
    out.labels = at::tensor(list.labels, at::kLong);
    out.classes = list.classes;
  }
  return out;
}

at::Tensor load_image_folder(const std::string& folder, int image_size) {
  return read_image_folder(folder, image_size).x;
}

LabelledRows read_csv(const std::string& path, const std::string& label_column) {
  return CsvReader(path, label_column).read();
}

at::Tensor read_csv_points(const std::string& path) { return read_csv(path, "").x; }

}  // namespace deepgen::data
