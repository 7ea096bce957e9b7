#pragma once
// One writer per run directory: training holds RUN_DIR/.lock (flock, released by the kernel
// when the process ends, kill -9 included), so a second training on the same --out refuses at
// once instead of interleaving its files with the first one's.
#include <string>

namespace deepgen::run {

class RunLock {
 public:
  // Throws deepgen::Error naming the directory when another process holds it. Once held, temp
  // files left in the directory by a killed writer (NAME.tmp.PID.N) are removed: no live
  // writer can own them.
  explicit RunLock(const std::string& run_dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace deepgen::run
