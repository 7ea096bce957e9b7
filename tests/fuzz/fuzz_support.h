#pragma once
// What every libFuzzer target shares. A target defines
//   void fuzz_one(const uint8_t* data, size_t size);   // one input through a public entry point
//   void write_seeds(const std::string& dir);           // its seed corpus (small valid files)
// and includes this header once. A deepgen::Error is the clean rejection of a bad input; any
// other exception escaping fuzz_one is a finding (the library promised deepgen::Error), and so is
// a crash, a sanitizer report, a hang or a memory blow-up (libFuzzer's -timeout, -rss_limit_mb).
//
// DEEPGEN_FUZZ_WRITE_SEEDS=DIR ./fuzz_x   writes the seed corpus into DIR and exits (the files
// under tests/fuzz/corpus/ come from there: scripts/fuzz.sh --seeds).
#include <ATen/Parallel.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include "deepgen/core/error.h"

void fuzz_one(const uint8_t* data, size_t size);
void write_seeds(const std::string& dir);

namespace deepgen::fuzz {

// One scratch folder per process, removed at exit (kept alive until then: never destroyed).
inline const std::string& scratch() {
  static const std::string* const dir = [] {
    namespace fs = std::filesystem;
    const fs::path p = fs::temp_directory_path() / ("deepgen-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(p);
    auto* path = new std::string(p.string());
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch(), ec);
    });
    return path;
  }();
  return *dir;
}

inline void write_bytes(const std::string& path, const void* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  write_bytes(path, bytes.data(), bytes.size());
}

// The input as a file in the scratch folder, under `name`.
inline std::string input_file(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = scratch() + "/" + name;
  write_bytes(path, data, size);
  return path;
}

}  // namespace deepgen::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  at::set_num_threads(1);  // one input at a time; no thread pool noise in the coverage
  if (const char* dir = std::getenv("DEEPGEN_FUZZ_WRITE_SEEDS")) {
    std::filesystem::create_directories(dir);
    write_seeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    fuzz_one(data, size);
  } catch (const deepgen::Error& e) {
    // A clean rejection, as the library promises. DEEPGEN_FUZZ_VERBOSE=1 prints it (to see why
    // a seed is refused: run the target on the seed file).
    static const bool verbose = std::getenv("DEEPGEN_FUZZ_VERBOSE") != nullptr;
    if (verbose) std::fprintf(stderr, "fuzz: deepgen::Error: %s\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: an exception other than deepgen::Error escaped: %s\n", e.what());
    std::abort();
  }
  return 0;
}
