// deepgen command line: flags (declared once, in the option tables) -> run layer. Errors are one
// line and a non-zero exit; data and progress go to stderr, machine-readable results to stdout.
#include <CLI/CLI.hpp>
#include <iostream>

#include "app.h"
#include "commands.h"
#include "deepgen/core/error.h"
#include "deepgen/core/runtime.h"
#include "deepgen/core/version.h"
#include "flags.h"
#include "terminal.h"

namespace dc = deepgen::cli;

int main(int argc, char** argv) {
  deepgen::tune_allocator();
  CLI::App app{"deepgen: deep generative models (VAE, VDM, score models) in C++"};
  app.set_version_flag("--version", deepgen::version());
  app.require_subcommand(1);
  app.failure_message(CLI::FailureMessage::simple);
  dc::Commands commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "deepgen: error: " << e.what() << " (see deepgen --help)" << std::endl;
    return 2;
  }
  try {
    dc::install_stop_handlers();
    return commands.run();
  } catch (const deepgen::Error& e) {
    std::cerr << "deepgen: error: " << commands.message(e.what()) << std::endl;
    return 1;
  } catch (const std::exception& e) {
    if (deepgen::is_out_of_memory(e)) {
      std::cerr << "deepgen: error: out of memory (" << deepgen::brief(e)
                << "): a size given is too large for this machine; lower it (--batch, --n, "
                   "--hidden, --channels, --k, --iwae-k, --image-size, ...)"
                << std::endl;
    } else {
      std::cerr << "deepgen: internal error: " << deepgen::brief(e) << std::endl;
    }
    return 1;
  }
}
