#pragma once
// Running the deepgen binary from tests: bounded waits, captured output, and checks of the
// CLI's contract (one-line errors, one JSON object on stdout). Shared by the tests/cli/ files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/temp_dir.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using deepgen::testing::TempDir;
using nlohmann::json;

const std::string kBinary = DEEPGEN_BINARY_DIR "/bin/deepgen";
constexpr double kTimeoutSeconds = 60.0;

// Environment changes for a child: a value sets the variable, std::nullopt removes it.
using Env = std::map<std::string, std::optional<std::string>>;

struct Result {
  int code = -1;  // exit status, or 128 + signal
  std::string out, err;
  bool timed_out = false;
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) lines.push_back(line);
  return lines;
}

// The deepgen binary as a child process; stdout and stderr go to separate files (no pipe can
// fill up while the test is not reading), stdin is /dev/null.
class Process {
 public:
  explicit Process(const std::vector<std::string>& args, const Env& env = {},
                   const std::string& binary = kBinary) {
    std::vector<std::string> envs;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry(*e);
      if (!env.count(entry.substr(0, entry.find('=')))) envs.push_back(entry);
    }
    for (const auto& [name, value] : env)
      if (value) envs.push_back(name + "=" + *value);
    std::vector<std::string> argv_text{binary};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<char*> argv, envp;
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : envs) envp.push_back(e.data());
    envp.push_back(nullptr);
    const std::string out = dir_.file("stdout"), err = dir_.file("stderr");

    pid_ = fork();
    if (pid_ == 0) {
      const int in_fd = open("/dev/null", O_RDONLY);
      const int out_fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int err_fd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (in_fd < 0 || out_fd < 0 || err_fd < 0) _exit(126);
      dup2(in_fd, 0);
      dup2(out_fd, 1);
      dup2(err_fd, 2);
      execve(binary.c_str(), argv.data(), envp.data());
      _exit(127);
    }
  }
  ~Process() {
    if (running()) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  bool started() const { return pid_ > 0; }
  bool running() {
    if (pid_ <= 0 || done_) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) finish(status);
    return !done_;
  }
  void signal(int sig) {
    if (running()) kill(pid_, sig);
  }
  // Waits at most timeout_s; a child still running then is killed and the result says so.
  Result wait(double timeout_s = kTimeoutSeconds) {
    Result r;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (running() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (running()) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
      finish(status);
      r.timed_out = true;
    }
    r.code = code_;
    r.out = read_text(dir_.file("stdout"));
    r.err = read_text(dir_.file("stderr"));
    return r;
  }

 private:
  void finish(int status) {
    done_ = true;
    code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  TempDir dir_;
  pid_t pid_ = -1;
  bool done_ = false;
  int code_ = -1;
};

Result deepgen(const std::vector<std::string>& args, const Env& env = {}) {
  Process p(args, env);
  if (!p.started()) return {};
  return p.wait();
}

std::string describe(const Result& r) {
  return "exit " + std::to_string(r.code) + (r.timed_out ? " (timed out)" : "") +
         "\n--- stdout ---\n" + r.out + "\n--- stderr ---\n" + r.err;
}

// A failed command: non-zero exit, nothing on stdout, and exactly one stderr line that starts
// with "deepgen: error:" and contains `needle`.
::testing::AssertionResult one_line_error(const Result& r, const std::string& needle = "") {
  if (r.timed_out) return ::testing::AssertionFailure() << "timed out\n" << describe(r);
  if (r.code == 0) return ::testing::AssertionFailure() << "exit 0\n" << describe(r);
  if (r.code >= 128) return ::testing::AssertionFailure() << "crashed\n" << describe(r);
  if (!r.out.empty()) return ::testing::AssertionFailure() << "stdout not empty\n" << describe(r);
  if (r.err.empty() || r.err.back() != '\n' || std::count(r.err.begin(), r.err.end(), '\n') != 1)
    return ::testing::AssertionFailure() << "stderr is not exactly one line\n" << describe(r);
  if (r.err.rfind("deepgen: error:", 0) != 0)
    return ::testing::AssertionFailure() << "stderr lacks the 'deepgen: error:' prefix\n"
                                         << describe(r);
  if (r.err.find(needle) == std::string::npos)
    return ::testing::AssertionFailure() << "stderr does not mention '" << needle << "'\n"
                                         << describe(r);
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult succeeded(const Result& r) {
  if (r.code == 0 && !r.timed_out) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << describe(r);
}

// The one JSON object a command printed; stdout must hold nothing else.
json only_json_object(const Result& r) {
  const auto lines = lines_of(r.out);
  EXPECT_EQ(lines.size(), 1u) << describe(r);
  json j = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << describe(r);
  EXPECT_TRUE(j.is_object()) << describe(r);
  return j.is_discarded() ? json::object() : j;
}

// Rows of metrics.jsonl that the trainer logged (they have a loss; test rows do not).
std::vector<json> training_rows(const std::string& run_dir) {
  std::vector<json> rows;
  for (const auto& line : lines_of(read_text(run_dir + "/metrics.jsonl"))) {
    json row = json::parse(line, nullptr, false);
    EXPECT_FALSE(row.is_discarded()) << line;
    if (!row.is_discarded() && row.contains("loss")) rows.push_back(row);
  }
  return rows;
}

// The small toy model every training test uses; the caller adds --out, --steps, ...
std::vector<std::string> toy_train(const std::string& out, std::vector<std::string> more) {
  std::vector<std::string> args{"train",    "vae",     "--data",    "toy:moons", "--out",
                                out,        "--batch", "64",        "--hidden",  "32",
                                "--latent", "2",       "--threads", "1"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

std::vector<std::vector<double>> read_csv(const std::string& path) {
  std::vector<std::vector<double>> rows;
  for (const auto& line : lines_of(read_text(path))) {
    std::vector<double> row;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) row.push_back(std::stod(cell));
    rows.push_back(row);
  }
  return rows;
}

bool is_png(const std::string& path) { return read_text(path).rfind("\x89PNG\r\n\x1a\n", 0) == 0; }

// The weights a resumed run ended with are byte for byte those of the straight run.
::testing::AssertionResult same_weights(const std::string& resumed, const std::string& straight) {
  const std::string a = read_text(resumed + "/model.safetensors"),
                    b = read_text(straight + "/model.safetensors");
  if (a.empty()) return ::testing::AssertionFailure() << resumed << " has no model.safetensors";
  if (a != b)
    return ::testing::AssertionFailure() << "resumed weights differ from the straight run's";
  return ::testing::AssertionSuccess();
}

}  // namespace
