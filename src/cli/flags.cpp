// Option tables -> CLI11: the flag, its value type, its help with the default, and the value
// back as JSON for the table to set.
#include "flags.h"

#include <regex>
#include <sstream>

namespace deepgen::cli {

using nlohmann::json;

DefaultText defaults_of(const json& defaults) {
  return [defaults](const OptionSpec& s) {
    return defaults.contains(s.key) ? format_value(defaults[s.key]) : std::string();
  };
}

std::string flag_name(const OptionSpec& spec, unsigned command) {
  for (const auto& [mask, name] : spec.command_flags)
    if (mask & command) return name;
  return spec.flag;
}

// Two families' options of one name on one command (sample/eval take every family's sampling
// flags) share one CLI11 option, which would refuse a second registration; each family then
// reads the value as its own option, and the run's family decides which one applies.
CLI::Option* FlagSet::shared_option(const CLI::App& app, const OptionSpec& spec,
                                    const std::string& name) const {
  for (const auto& f : flags_)
    if (f.app == &app && f.name == name) {
      if (f.spec.type != spec.type || f.spec.section == spec.section)
        throw Error("flag --" + name + " is declared twice on one command, by " + f.spec.section +
                    " and " + spec.section + ", with clashing types or in one table");
      return f.option;
    }
  return nullptr;
}

void FlagSet::add(CLI::App& app, const std::vector<OptionSpec>& specs, unsigned command,
                  const std::string& group, const DefaultText& default_text) {
  for (const auto& spec : specs) {
    const std::string name = flag_name(spec, command);
    if (name.empty() || (spec.commands & command) == 0) continue;
    std::string help = spec.help;
    const std::string d = default_text ? default_text(spec) : "";
    if (!d.empty()) help += " (default " + d + ")";
    if (CLI::Option* shared = shared_option(app, spec, name)) {
      const std::string first = shared->get_group();  // one group so far: its help is bare
      const bool bare = first.find(", ") == std::string::npos;
      shared->description((bare ? first + ": " : "") + shared->get_description() + "; " + group +
                          ": " + help);
      shared->group(first + ", " + group);
      flags_.push_back({spec, name, &app, shared});
      continue;
    }
    CLI::Option* option = app.add_option("--" + name)->description(help);
    option->type_name(type_name(spec.type));
    if (spec.type == OptionType::boolean) option->expected(0, 1);  // --fid, or --attention false
    option->group(group);
    flags_.push_back({spec, name, &app, option});
  }
}

namespace {

bool parse_bool(std::string text, bool& out) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (text.empty() || text == "true" || text == "1" || text == "yes" || text == "on")
    return out = true, true;
  if (text == "false" || text == "0" || text == "no" || text == "off") return out = false, true;
  return false;
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> items;
  if (text.empty() || text == "none") return items;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) items.push_back(item);
  return items;
}

// The whole of `text` as a number (std::stod alone would accept "3abc").
template <class T, class F>
bool parse_number(const std::string& text, F convert, T& out) {
  try {
    size_t used = 0;
    out = convert(text, &used);
    return used == text.size();
  } catch (const std::exception&) {
    return false;
  }
}

bool parse_integer(const std::string& t, int64_t& v) {
  return parse_number(
      t, [](const std::string& s, size_t* n) { return std::stoll(s, n); }, v);
}
bool parse_double(const std::string& t, double& v) {
  return parse_number(
      t, [](const std::string& s, size_t* n) { return std::stod(s, n); }, v);
}

// A comma-separated list, each item parsed by `parse`; `bad(form)` reports a bad item.
template <class T, class Parse, class Bad>
json parse_list(const std::string& text, Parse parse, Bad bad, const char* form) {
  json out = json::array();
  for (const auto& item : split(text)) {
    T v{};
    if (!parse(item, v)) return bad(form);
    out.push_back(v);
  }
  return out;
}

}  // namespace

json parse_value(const OptionSpec& spec, const std::string& flag, const std::string& text) {
  auto bad = [&](const std::string& form) -> json {
    throw Error(flag + " expects " + form + ", got '" + text + "'");
  };
  switch (spec.type) {
    case OptionType::boolean: {
      bool b = false;
      return parse_bool(text, b) ? json(b) : bad("true or false");
    }
    case OptionType::integer: {
      int64_t v = 0;
      return parse_integer(text, v) ? json(v) : bad("an integer");
    }
    case OptionType::number: {
      double v = 0;
      return parse_double(text, v) ? json(v) : bad("a number");
    }
    case OptionType::text:
      return text;
    case OptionType::integers:
      return parse_list<int64_t>(text, parse_integer, bad, "comma-separated sizes like 512,256");
    case OptionType::numbers:
      return parse_list<double>(text, parse_double, bad, "comma-separated numbers like 0.5,1");
  }
  return text;
}

std::vector<FlagSet::Given> FlagSet::given(const CLI::App& app) const {
  std::vector<Given> out;
  for (const auto& f : flags_) {
    if (f.app != &app || f.option->count() == 0) continue;
    const auto& results = f.option->results();
    const std::string text = results.empty() ? "" : results.back();
    if (text.empty() && f.spec.type != OptionType::boolean)
      throw Error("--" + f.name + " needs a value");
    out.push_back({f.spec, "--" + f.name, parse_value(f.spec, "--" + f.name, text)});
  }
  return out;
}

std::string FlagSet::flag_for(const std::string& section, const std::string& key) const {
  for (const auto& f : flags_)  // the command line that was given first: `sample --steps`
    if (f.spec.section == section && f.spec.key == key && *f.app) return f.name;
  for (const auto& f : flags_)
    if (f.spec.section == section && f.spec.key == key) return f.name;
  return "";
}

std::string cli_message(const std::string& message, const FlagSet* flags) {
  static const std::regex ref("`([a-z_]+)\\.([A-Za-z_0-9]+)`");
  std::string out;
  auto begin = std::sregex_iterator(message.begin(), message.end(), ref);
  size_t last = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    out += message.substr(last, m.position() - last);
    last = m.position() + m.length();
    const std::string section = m[1], key = m[2];
    std::string flag = flags ? flags->flag_for(section, key) : "";
    for (const auto& table : option_tables())
      for (const auto& s : table.specs)
        if (flag.empty() && s.section == section && s.key == key) flag = s.flag;
    out += flag.empty() ? section + "." + key : "--" + flag;
  }
  return out + message.substr(last);
}

}  // namespace deepgen::cli
