#include "deepgen/io/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "deepgen/core/error.h"

namespace deepgen::io {
namespace {

namespace fs = std::filesystem;

std::string errno_text() { return std::strerror(errno); }

// The pid keeps two processes apart and the counter two threads of one process, so concurrent
// writers of the same target never share a temp file.
std::string temp_path_for(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  return path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

// Without fsync the rename can reach the disk before the data does, and a crash then leaves an
// empty or partial file under the final name: exactly what the temp file is meant to prevent.
void fsync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open " + path + " to flush it: " + errno_text());
  const bool ok = ::fsync(fd) == 0;
  const std::string reason = ok ? "" : errno_text();
  ::close(fd);
  if (!ok) throw Error("cannot flush " + path + " to disk: " + reason);
}

// Makes the rename itself durable. Best effort: some filesystems refuse fsync on directories,
// and the new content is already complete under its final name by then.
void fsync_parent_dir(const std::string& path) {
  fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) parent = ".";
  const int fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void write_atomic(const std::string& path,
                  const std::function<void(const std::string& tmp)>& write) {
  const std::string tmp = temp_path_for(path);
  try {
    write(tmp);
    fsync_file(tmp);
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      throw Error("cannot replace " + path + ": " + errno_text());
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
  fsync_parent_dir(path);
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  write_atomic(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot write " + path + ": " + errno_text());
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) throw Error("cannot write " + path + " (disk full?)");
  });
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw Error("cannot read " + path + ": it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read " + path + ": " + errno_text());
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) throw Error("cannot read " + path + ": size unknown");
  in.seekg(0, std::ios::beg);
  std::string bytes(static_cast<size_t>(size), '\0');
  in.read(bytes.data(), size);
  if (in.gcount() != size) throw Error("cannot read " + path + ": short read");
  return bytes;
}

bool file_exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

void make_dirs(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  // create_directories reports success when a non-directory already sits at `path`.
  if (ec || !fs::is_directory(path)) {
    const std::string reason = ec ? ec.message() : "a file with that name exists";
    throw Error("cannot create directory " + path + ": " + reason);
  }
}

std::string base64(const std::string& bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = static_cast<uint8_t>(bytes[i]) << 16 |
                       static_cast<uint8_t>(bytes[i + 1]) << 8 | static_cast<uint8_t>(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[(v >> shift) & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest == 0) return out;
  uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
  if (rest == 2) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
  out += kAlphabet[(v >> 18) & 63];
  out += kAlphabet[(v >> 12) & 63];
  out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
  out += '=';
  return out;
}

}  // namespace deepgen::io
