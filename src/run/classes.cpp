// Class names and requested labels of a conditional run.
#include "deepgen/run/classes.h"

#include <torch/torch.h>

#include <algorithm>

#include "deepgen/core/error.h"
#include "deepgen/core/options.h"
#include "deepgen/run/run_dir.h"

namespace deepgen::run {

std::vector<std::string> class_names(const std::string& run_dir) {
  const nlohmann::json names = read_json_if_present(RunDir(run_dir).classes());
  if (!names.is_array()) return {};
  return names.get<std::vector<std::string>>();
}

namespace {

std::string listing(const std::vector<std::string>& names, int64_t classes) {
  if (names.empty()) return "0.." + std::to_string(classes - 1);
  std::string s;
  for (size_t i = 0; i < names.size(); ++i)
    s += (i ? ", " : "") + std::to_string(i) + " '" + names[i] + "'";
  return s;
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() < 10 && std::all_of(s.begin(), s.end(), ::isdigit);
}

}  // namespace

int64_t class_index(const std::string& wanted, const std::vector<std::string>& names,
                    int64_t classes, const std::string& flag) {
  const auto it = std::find(names.begin(), names.end(), wanted);  // a name wins over an index
  if (it != names.end()) return it - names.begin();
  if (all_digits(wanted) && std::stoll(wanted) < classes) return std::stoll(wanted);
  throw Error(flag + " '" + wanted + "' is not a class of this run: its classes are " +
              listing(names, classes) + " (a name or an index)");
}

at::Tensor requested_labels(const std::string& run_dir, int64_t classes, const std::string& wanted,
                            int64_t n, int64_t per_class) {
  if (wanted.empty() && per_class == 0) return {};
  const std::string by_class = option_ref("sample", "class"),
                    by_row = option_ref("sample", "per_class");
  if (classes == 0)
    throw Error("sample: run " + run_dir + " is unconditional: " + by_class + " and " + by_row +
                " need a run trained with --conditional on labelled data");
  if (!wanted.empty() && per_class > 0)
    throw Error("sample: give " + by_class + " (n samples of one class) or " + by_row +
                " (a row of each class), not both");
  if (per_class > 0) return torch::arange(classes).repeat_interleave(per_class);
  return torch::full({n}, class_index(wanted, class_names(run_dir), classes, by_class),
                     torch::kLong);
}

}  // namespace deepgen::run
