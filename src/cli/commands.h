#pragma once
// The subcommands of deepgen: each registers its flags from the option tables, and after
// parsing turns the given ones into a request for the run layer.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "app.h"
#include "deepgen/run/requests.h"
#include "flags.h"

namespace deepgen::cli {

class Commands {
 public:
  explicit Commands(CLI::App& app);
  int run();  // the parsed subcommand; its exit code
  // A library message with every `section.key` as the flag this command line used.
  std::string message(const std::string& what) const { return cli_message(what, &flags_); }

 private:
  void add_train(CLI::App& app);
  int train();
  int sample();
  int eval();
  void add_inpaint(CLI::App& app);
  int inpaint();
  // The family options given to sample / eval, checked against the run's family.
  nlohmann::json family_overrides(const CLI::App& cmd, const std::string& run_dir) const;
  nlohmann::json runtime_overrides(const CLI::App& cmd) const;  // device, threads, precision

  FlagSet flags_;
  CLI::App *train_ = nullptr, *sample_ = nullptr, *eval_ = nullptr, *info_ = nullptr,
           *demo_ = nullptr, *fit_gmm_ = nullptr, *langevin_ = nullptr, *options_ = nullptr,
           *compare_ = nullptr;
  CLI::App* inpaint_ = nullptr;
  std::vector<CLI::App*> train_families_;
  bool markdown_ = false;
};

}  // namespace deepgen::cli
