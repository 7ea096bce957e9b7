#include "deepgen/data/files.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
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

std::vector<std::string> list_images(const std::string& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) {
    throw Error("image folder '" + folder + "' not found (expected a directory of PNG/JPEG files)");
  }
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    if (entry.is_regular_file(ec) && is_image_file(entry.path())) files.push_back(entry.path());
  }
  if (ec) throw Error("image folder '" + folder + "' cannot be listed: " + ec.message());
  if (files.empty()) throw Error("image folder '" + folder + "' holds no PNG/JPEG images");
  std::sort(files.begin(), files.end());
  return files;
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

// Fills row with every field; returns the index of the first non-number, if any.
std::optional<size_t> parse_row(const std::vector<std::string>& fields, std::vector<double>& row) {
  row.resize(fields.size());
  for (size_t i = 0; i < fields.size(); ++i) {
    if (!parse_number(fields[i], row[i])) return i;
  }
  return std::nullopt;
}

}  // namespace

at::Tensor load_image_folder(const std::string& folder, int image_size) {
  const std::vector<std::string> files = list_images(folder);
  std::vector<at::Tensor> images;
  images.reserve(files.size());
  for (const auto& f : files) images.push_back(io::read_image(f));
  return stack_images(files, images, image_size);
}

at::Tensor read_csv_points(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("CSV file '" + path + "' not found or unreadable");
  std::vector<float> values;
  std::vector<double> row;
  size_t dim = 0, rows = 0, line_no = 0;
  std::string line;
  while (std::getline(in, line)) {
    ++line_no;
    if (trim(line).empty()) continue;
    const std::vector<std::string> fields = split_fields(line);
    const std::optional<size_t> bad = parse_row(fields, row);
    if (bad && rows == 0 && dim == 0) {
      dim = fields.size();  // a header line: it fixes the column count only
      continue;
    }
    if (dim != 0 && fields.size() != dim) {
      csv_fail(path, line_no,
               "ragged row: expected " + std::to_string(dim) + " values, found " +
                   std::to_string(fields.size()));
    }
    if (bad) {
      csv_fail(
          path, line_no,
          "value " + std::to_string(*bad + 1) + " ('" + fields[*bad] + "') is not a finite number");
    }
    for (size_t i = 0; i < row.size(); ++i) {
      if (!fits_float(row[i]))
        csv_fail(path, line_no,
                 "value " + std::to_string(i + 1) + " ('" + fields[i] +
                     "') is beyond float32's range (|x| <= 3.4e38)");
    }
    values.insert(values.end(), row.begin(), row.end());
    dim = fields.size();
    ++rows;
  }
  if (rows == 0) throw Error("CSV file '" + path + "' is empty (no data rows)");
  return at::tensor(values).view({static_cast<int64_t>(rows), static_cast<int64_t>(dim)});
}

}  // namespace deepgen::data
