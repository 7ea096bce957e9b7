#include "deepgen/core/progress.h"

namespace deepgen {

namespace {
thread_local ProgressListener listener;  // the samplers run on the thread that asked for them
}  // namespace

ProgressScope::ProgressScope(ProgressListener l) : previous_(std::move(listener)) {
  listener = std::move(l);
}

ProgressScope::~ProgressScope() { listener = std::move(previous_); }

void report_progress(const std::string& what, int64_t done, int64_t total) {
  if (listener) listener(what, done, total);
}

}  // namespace deepgen
