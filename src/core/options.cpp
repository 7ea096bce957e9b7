// The type-independent half of OptionTable: names, messages and the declared checks.
#include "deepgen/core/options.h"

#include <cmath>
#include <sstream>

namespace deepgen {

const char* type_name(OptionType type) {
  switch (type) {
    case OptionType::integer:
      return "INT";
    case OptionType::number:
      return "FLOAT";
    case OptionType::boolean:
      return "BOOL";
    case OptionType::text:
      return "TEXT";
    case OptionType::integers:
      return "INTS";
    case OptionType::numbers:
      return "FLOATS";
  }
  return "TEXT";
}

std::string option_ref(const std::string& section, const std::string& key) {
  return "`" + section + "." + key + "`";
}

void option_error(const std::string& section, const std::string& key, const std::string& what) {
  throw Error(section + ": " + option_ref(section, key) + " " + what);
}

std::string format_value(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float()) {  // 5 and 2e-05, not 5.0 and 2.0000000000000002e-05
    std::ostringstream s;
    s.precision(10);
    s << value.get<double>();
    return s.str();
  }
  if (value.is_array()) {
    std::string out;
    for (const auto& v : value) out += (out.empty() ? "" : ",") + format_value(v);
    return out.empty() ? "none" : out;
  }
  return value.dump();
}

namespace detail {

bool json_matches(const nlohmann::json& v, OptionType type) {
  auto all = [&](auto pred) {
    if (!v.is_array()) return false;
    for (const auto& x : v)
      if (!pred(x)) return false;
    return true;
  };
  switch (type) {
    case OptionType::integer:
      return v.is_number_integer();
    case OptionType::number:
      return v.is_number();
    case OptionType::boolean:
      return v.is_boolean();
    case OptionType::text:
      return v.is_string();
    case OptionType::integers:
      return all([](const nlohmann::json& x) { return x.is_number_integer(); });
    case OptionType::numbers:
      return all([](const nlohmann::json& x) { return x.is_number(); });
  }
  return false;
}

void check_range(const OptionSpec& spec, const nlohmann::json& value, double bound, bool strict,
                 bool upper) {
  auto check = [&](const nlohmann::json& v) {
    const double x = v.get<double>();
    const bool inside =
        upper ? (strict ? x < bound : x <= bound) : (strict ? x > bound : x >= bound);
    if (std::isnan(x) || !inside) {
      std::ostringstream text;
      text << (upper ? "<" : ">") << (strict ? " " : "= ") << bound;
      option_error(spec.section, spec.key,
                   std::string(value.is_array() ? "entries" : "") + (value.is_array() ? " " : "") +
                       "must be " + text.str() + ", got " + format_value(value));
    }
  };
  if (value.is_array()) {
    for (const auto& v : value) check(v);
  } else {
    check(value);
  }
}

void check_choice(const OptionSpec& spec, const nlohmann::json& value) {
  if (spec.choices.empty() || !value.is_string()) return;
  const std::string v = value.get<std::string>();
  std::string names;
  for (size_t i = 0; i < spec.choices.size(); ++i) {
    if (spec.choices[i] == v) return;
    names += (i == 0 ? "" : i + 1 == spec.choices.size() ? " or " : ", ") + spec.choices[i];
  }
  option_error(spec.section, spec.key, "'" + v + "' is unknown: use " + names);
}

}  // namespace detail

}  // namespace deepgen
