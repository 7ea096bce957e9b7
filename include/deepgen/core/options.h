#pragma once
// Options declared once. Every options struct has one OptionTable of {key, member, help}; its
// JSON (a run's config.json), validation, the command line's flags, --help with the struct's
// own default and the generated reference (docs/options.md) all read that table.
//
// Messages name an option as `section.key` (option_ref); the CLI shows the flag in its place,
// so a message can never name a flag that does not exist.
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "deepgen/core/error.h"

namespace deepgen {

enum class OptionType { integer, number, boolean, text, integers, numbers };

// Which commands take an option as a flag (bit mask).
enum Commands : unsigned { kTrain = 1, kSample = 2, kEval = 4 };

// What the CLI, --help and the reference need of one option (no access to the struct).
struct OptionSpec {
  std::string section;  // the table's name: "train", "data", "vae", ...
  std::string key;      // JSON key within the section
  std::string flag;     // command-line name without the dashes; "" for internal options
  std::string help;
  OptionType type = OptionType::text;
  std::vector<std::string> choices;  // text: the accepted values (empty: any)
  unsigned commands = kTrain;
  // Another flag name under some commands, e.g. the VDM's sample_steps is --steps in sample.
  std::vector<std::pair<unsigned, std::string>> command_flags;
};

const char* type_name(OptionType type);  // "INT", "FLOAT", "BOOL", "TEXT", "INTS", "FLOATS"
// An Error about one option: "<section>: `section.key` <what>".
[[noreturn]] void option_error(const std::string& section, const std::string& key,
                               const std::string& what);
// One default value as --help and the reference print it ("-13.3", "32,64", "true", "relu").
std::string format_value(const nlohmann::json& value);

namespace detail {
template <class T>
constexpr OptionType option_type() {
  if constexpr (std::is_same_v<T, bool>)
    return OptionType::boolean;
  else if constexpr (std::is_integral_v<T>)
    return OptionType::integer;
  else if constexpr (std::is_floating_point_v<T>)
    return OptionType::number;
  else if constexpr (std::is_same_v<T, std::string>)
    return OptionType::text;
  else if constexpr (std::is_same_v<T, std::vector<int64_t>>)
    return OptionType::integers;
  else {
    static_assert(std::is_same_v<T, std::vector<double>>, "unsupported option type");
    return OptionType::numbers;
  }
}
// `value` has the JSON shape of `type` (an integer for integer options, ...).
bool json_matches(const nlohmann::json& value, OptionType type);
// An integer JSON value that T holds exactly (no wrap of -1 into a seed, no truncation).
template <class T>
bool fits(const nlohmann::json& v) {
  if (v.is_number_unsigned())
    return v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max());
  const int64_t x = v.get<int64_t>();
  if constexpr (std::is_unsigned_v<T>) {
    return x >= 0;
  } else {
    return x >= std::numeric_limits<T>::min() && x <= std::numeric_limits<T>::max();
  }
}
// Numbers (each entry of a list) against a lower bound, or an upper one when `upper`.
void check_range(const OptionSpec& spec, const nlohmann::json& value, double bound, bool strict,
                 bool upper = false);
void check_choice(const OptionSpec& spec, const nlohmann::json& value);
}  // namespace detail

template <class O>
class OptionTable {
 public:
  struct Entry {
    OptionSpec spec;
    std::function<nlohmann::json(const O&)> get;
    std::function<void(O&, const nlohmann::json&)> set;
    std::vector<std::function<void(const OptionSpec&, const nlohmann::json&)>> checks;

    // Fluent modifiers, applied where the entry is declared.
    Entry& flag(std::string name) { return spec.flag = std::move(name), *this; }
    Entry& flag_for(unsigned mask, std::string name) {
      return spec.command_flags.emplace_back(mask, std::move(name)), *this;
    }
    Entry& internal() { return spec.flag.clear(), *this; }  // filled by the program: no flag
    Entry& commands(unsigned mask) { return spec.commands = mask, *this; }
    Entry& choices(std::vector<std::string> names) {
      return spec.choices = std::move(names), *this;
    }
    // Numbers (each entry of a list) >= lo, or > lo when strict.
    Entry& min(double lo) { return add_check(lo, false); }
    Entry& greater(double lo) { return add_check(lo, true); }
    // Numbers <= hi, or < hi when strict.
    Entry& max(double hi) { return add_check(hi, false, true); }
    Entry& less(double hi) { return add_check(hi, true, true); }

   private:
    Entry& add_check(double bound, bool strict, bool upper = false) {
      checks.push_back([bound, strict, upper](const OptionSpec& s, const nlohmann::json& v) {
        detail::check_range(s, v, bound, strict, upper);
      });
      return *this;
    }
  };

  explicit OptionTable(std::string section) : section_(std::move(section)) {}

  // A field, by pointer to member (plain structs) or to TORCH_ARG's non-const accessor.
  template <class T>
  Entry& add(std::string key, T O::*member, std::string help) {
    return add_with<T>(
        std::move(key), [member](O& o) -> T& { return o.*member; }, std::move(help));
  }
  template <class T>
  Entry& add(std::string key, T& (O::*accessor)() noexcept, std::string help) {
    return add_with<T>(
        std::move(key), [accessor](O& o) -> T& { return (o.*accessor)(); }, std::move(help));
  }
  // Any reference into the struct (nested options): `access` is T&(O&).
  template <class T, class F>
  Entry& add_with(std::string key, F access, std::string help) {
    Entry e;
    e.spec.section = section_;
    e.spec.flag = key;
    for (char& c : e.spec.flag)
      if (c == '_') c = '-';
    e.spec.key = std::move(key);
    e.spec.help = std::move(help);
    e.spec.type = detail::option_type<T>();
    // Reads never write: the accessor is non-const only because TORCH_ARG's const one differs.
    e.get = [access](const O& o) { return nlohmann::json(access(const_cast<O&>(o))); };
    e.set = [access, key = e.spec.key, section = section_](O& o, const nlohmann::json& v) {
      if (!detail::json_matches(v, detail::option_type<T>()))
        option_error(
            section, key,
            std::string("expects ") + type_name(detail::option_type<T>()) + ", got " + v.dump());
      if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
        if (!detail::fits<T>(v)) option_error(section, key, "is out of range: " + v.dump());
      access(o) = v.get<T>();
    };
    entries_.push_back(std::move(e));
    return entries_.back();
  }

  const std::string& section() const { return section_; }

  nlohmann::json to_json(const O& o) const {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& e : entries_) j[e.spec.key] = e.get(o);
    return j;
  }

  // Sets the keys of `j`; an unknown key is an error naming it and the known ones.
  void update(O& o, const nlohmann::json& j) const {
    if (!j.is_object()) throw Error(section_ + ": options must be a JSON object, got " + j.dump());
    for (const auto& [key, value] : j.items()) find(key).set(o, value);
  }

  // `o` with the keys of `text`, a JSON object ("" for none); bad JSON is an error.
  O parse(O o, const std::string& text) const {
    const nlohmann::json j = nlohmann::json::parse(text.empty() ? "{}" : text, nullptr, false);
    if (j.is_discarded()) throw Error(section_ + " options: not valid JSON: " + text);
    update(o, j);
    return o;
  }

  // The declared checks (choices, ranges); a family adds its cross-option rules after this.
  void validate(const O& o) const {
    for (const auto& e : entries_) {
      const nlohmann::json v = e.get(o);
      detail::check_choice(e.spec, v);
      for (const auto& check : e.checks) check(e.spec, v);
    }
  }

  std::vector<OptionSpec> specs() const {
    std::vector<OptionSpec> out;
    for (const auto& e : entries_) out.push_back(e.spec);
    return out;
  }

 private:
  const Entry& find(const std::string& key) const {
    for (const auto& e : entries_)
      if (e.spec.key == key) return e;
    std::string known;
    for (const auto& e : entries_) known += (known.empty() ? "" : ", ") + e.spec.key;
    throw Error(section_ + ": unknown option '" + key + "' (known: " + known + ")");
  }
  std::string section_;
  std::vector<Entry> entries_;  // a returned Entry& is used at once, before the next add
};

}  // namespace deepgen
