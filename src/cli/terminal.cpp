#include "terminal.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>

namespace deepgen::cli {

namespace {

std::atomic<int> g_signals{0};
std::atomic<bool> g_polled{false};  // a training loop polls stop_requested()

void exit_interrupted() {
  static const char kMessage[] = "\ndeepgen: interrupted\n";
  (void)!write(STDERR_FILENO, kMessage, sizeof kMessage - 1);  // async-signal-safe
  _exit(130);
}

// Only a training loop has something to save (a checkpoint); anything else (eval, sample,
// langevin, a run's outputs after training) stops at the first signal.
void on_signal(int) {
  if (!g_polled.load() || g_signals.fetch_add(1) >= 1) exit_interrupted();  // second: at once
}

}  // namespace

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool stop_requested() { return g_signals.load() > 0; }

void set_stop_polled(bool polled) {
  g_polled.store(polled);
  if (!polled && stop_requested()) exit_interrupted();  // asked during the loop's last step
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

void log_line(const std::string& message) { std::cerr << "deepgen: " << message << std::endl; }

train::TrainCallbacks quiet_callbacks() {
  train::TrainCallbacks cb;
  cb.should_stop = stop_requested;
  return cb;
}

train::TrainCallbacks console_callbacks(const std::string& label) {
  using Clock = std::chrono::steady_clock;
  struct State {
    bool tty = isatty(STDERR_FILENO) != 0;
    Clock::time_point last_draw{};
    int64_t next_plain = 0;
    bool line_open = false;
  };
  auto state = std::make_shared<State>();
  train::TrainCallbacks cb;
  cb.should_stop = stop_requested;
  cb.on_message = [state](const std::string& m) {
    if (state->line_open) std::cerr << "\n";
    state->line_open = false;
    log_line(m);
  };
  cb.on_progress = [state, label](const train::Progress& p) {
    const bool last = p.step == p.total;
    char text[256];
    std::snprintf(text, sizeof text,
                  "%s step %lld/%lld (epoch %lld) | %.1f steps/s | loss %.4g | ETA %s",
                  label.c_str(), static_cast<long long>(p.step), static_cast<long long>(p.total),
                  static_cast<long long>(p.epoch), p.steps_per_sec, p.loss,
                  format_duration(p.eta_seconds).c_str());
    if (p.spike_step > 0) {
      const std::size_t used = std::strlen(text);
      std::snprintf(text + used, sizeof text - used, " | loss spike at step %lld",
                    static_cast<long long>(p.spike_step));
    }
    if (state->tty) {
      const auto now = Clock::now();
      if (!last && now - state->last_draw < std::chrono::milliseconds(100)) return;
      state->last_draw = now;
      const int width = 24;
      const int fill =
          static_cast<int>(width * static_cast<double>(p.step) / std::max<int64_t>(1, p.total));
      std::string bar = "[" + std::string(fill, '=') + std::string(width - fill, ' ') + "]";
      std::cerr << "\r\033[K" << bar << " " << text << (last ? "\n" : "") << std::flush;
      state->line_open = !last;
    } else if (p.step >= state->next_plain || last) {
      std::cerr << text << "\n" << std::flush;
      state->next_plain = p.step + std::max<int64_t>(1, p.total / 20);
    }
  };
  return cb;
}

int train_on_console(run::TrainRun run, const std::function<void(const std::string&)>& log) {
  const run::TrainHooks hooks{
      log, [](bool lead) { return lead ? console_callbacks("train") : quiet_callbacks(); },
      [] { set_stop_polled(false); }};
  set_stop_polled(true);
  return run::train_run(std::move(run), hooks) == train::Outcome::interrupted ? 130 : 0;
}

}  // namespace deepgen::cli
