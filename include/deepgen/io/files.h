#pragma once
// Files that are never half-written: every writer goes through a temp file + rename.
#include <functional>
#include <string>

namespace deepgen::io {

// Calls write(tmp) for a temp path beside `path`, flushes it to disk, then renames it over
// `path`. On any failure the temp file is removed and `path` is left as it was.
void write_atomic(const std::string& path,
                  const std::function<void(const std::string& tmp)>& write);
void write_file_atomic(const std::string& path, const std::string& bytes);
// Whole file as bytes; throws deepgen::Error naming the path when it cannot be read.
std::string read_file(const std::string& path);
bool file_exists(const std::string& path);
void make_dirs(const std::string& path);  // mkdir -p; Error naming the path on failure
std::string base64(const std::string& bytes);

}  // namespace deepgen::io
