#pragma once
// Progress of long loops deep in the library (the samplers) for whoever listens: a command
// installs a listener for its scope (the CLI prints a throttled line); with none, a report is a
// branch. The loops keep their own per-step callbacks, which the tests of the maths use.
#include <cstdint>
#include <functional>
#include <string>

namespace deepgen {

using ProgressListener = std::function<void(const std::string& what, int64_t done, int64_t total)>;

class ProgressScope {
 public:
  explicit ProgressScope(ProgressListener listener);
  ~ProgressScope();
  ProgressScope(const ProgressScope&) = delete;
  ProgressScope& operator=(const ProgressScope&) = delete;

 private:
  ProgressListener previous_;
};

// `what` (e.g. "sample") has done `done` of `total` steps.
void report_progress(const std::string& what, int64_t done, int64_t total);

}  // namespace deepgen
