#pragma once
// Command-line flags derived from option tables (core/options.h): one CLI11 option per
// OptionSpec, its help with the struct's default, and the given values back as JSON.
#include <CLI/CLI.hpp>
#include <deque>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "deepgen/core/options.h"

namespace deepgen::cli {

// "(default X)" text for one option; "" prints no default.
using DefaultText = std::function<std::string(const OptionSpec&)>;
DefaultText defaults_of(const nlohmann::json& defaults);

class FlagSet {
 public:
  // A flag on `app` for each spec whose commands include `command` (and that has a flag), in
  // the help group `group`. Another section's spec of the same flag name and type shares the
  // flag (given() then reports it once per section).
  void add(CLI::App& app, const std::vector<OptionSpec>& specs, unsigned command,
           const std::string& group, const DefaultText& default_text);
  struct Given {
    OptionSpec spec;
    std::string flag;  // as the user typed it, e.g. "--steps"
    nlohmann::json value;
  };
  // The flags given on the command line `app` was parsed from, as typed JSON values; a value
  // of the wrong form is an error naming the flag.
  std::vector<Given> given(const CLI::App& app) const;
  // Every given flag's value set into `o` through its table.
  template <class O>
  void apply(const CLI::App& app, const OptionTable<O>& table, O& o) const {
    nlohmann::json patch = nlohmann::json::object();
    for (const auto& g : given(app))
      if (g.spec.section == table.section()) patch[g.spec.key] = g.value;
    table.update(o, patch);
  }
  // The flag this set registered for `section.key` on `app`'s command, or "".
  std::string flag_for(const std::string& section, const std::string& key) const;

 private:
  struct Flag {
    OptionSpec spec;
    std::string name;
    CLI::App* app;
    CLI::Option* option;
  };
  CLI::Option* shared_option(const CLI::App& app, const OptionSpec& spec,
                             const std::string& name) const;
  std::deque<Flag> flags_;
};

// The command-line name `spec` takes under `command` (an alias for sample/eval, or its flag).
std::string flag_name(const OptionSpec& spec, unsigned command);
// `text` as typed JSON of the spec's type; an error naming `flag` when it is not of that form.
nlohmann::json parse_value(const OptionSpec& spec, const std::string& flag,
                           const std::string& text);
// A library message with each `section.key` shown as its flag (`flags` first, then every
// table's own flag), or as the config.json key when the option has no flag.
std::string cli_message(const std::string& message, const FlagSet* flags = nullptr);
// Every option table (src/cli/commands.cpp): for cli_message and `deepgen options`.
struct TableInfo {
  std::string title;
  std::vector<OptionSpec> specs;
  DefaultText defaults;
};
const std::vector<TableInfo>& option_tables();

}  // namespace deepgen::cli
