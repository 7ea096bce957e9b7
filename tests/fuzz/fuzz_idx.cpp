// IDX files as they lie on disk: raw, or gzip (detected by its magic), so a mutated .gz seed is a
// corrupt gzip stream. src/data/idx.cpp read_idx, then the MNIST loader (data/dataset.cpp).
#include "idx_common.h"

void fuzz_one(const uint8_t* data, size_t size) {
  deepgen::fuzz::check_idx_file(deepgen::fuzz::input_file("input.idx", data, size));
}

void write_seeds(const std::string& dir) {
  deepgen::fuzz::write_idx_seeds(dir, false);
  deepgen::fuzz::write_idx_seeds(dir, true);
}
