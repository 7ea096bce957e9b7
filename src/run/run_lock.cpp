#include "deepgen/run/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <regex>

#include "deepgen/core/error.h"

namespace deepgen::run {

namespace {

void remove_stale_temp_files(const std::string& run_dir) {
  static const std::regex temp(R"(.+\.tmp\.\d+\.\d+)");  // io::write_atomic's temp names
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(run_dir, ec)) {
    if (std::regex_match(entry.path().filename().string(), temp))
      std::filesystem::remove_all(entry.path(), ec);
  }
}

}  // namespace

RunLock::RunLock(const std::string& run_dir) {
  const std::string path = run_dir + "/.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error("cannot lock " + run_dir + " for training: " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK)
      throw Error("another deepgen process is training in " + run_dir +
                  ": wait for it to finish, or train into another --out");
    throw Error("cannot lock " + run_dir + " for training: " + std::strerror(err));
  }
  remove_stale_temp_files(run_dir);
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

}  // namespace deepgen::run
