#pragma once
// What the CLI shows while the library works: progress lines and signal handling.
#include <functional>
#include <string>

#include "deepgen/run/train.h"
#include "deepgen/train/trainer.h"

namespace deepgen::cli {

// SIGINT / SIGTERM: while a training loop runs (set_stop_polled(true)) they set a flag the
// trainer polls, so it can checkpoint before exiting, and a second signal exits at once;
// otherwise (eval, sample, langevin, a run's outputs) the first exits at once with code 130.
void install_stop_handlers();
bool stop_requested();
void set_stop_polled(bool polled);  // false after a signal during the loop: exits (130)

// One redrawn line on a TTY (step, rate, loss, ETA), plain lines about every 5% otherwise.
train::TrainCallbacks console_callbacks(const std::string& label);
// Signals only, no output: data-parallel ranks other than 0.
train::TrainCallbacks quiet_callbacks();
std::string format_duration(double seconds);
void log_line(const std::string& message);  // to stderr
// run::train_run with the console's progress on rank 0 and `log` for its lines; the exit code
// (130: interrupted, checkpoint written).
int train_on_console(run::TrainRun run, const std::function<void(const std::string&)>& log);

}  // namespace deepgen::cli
