// IDX files gzip-compressed: the input is the uncompressed file, which this target compresses
// before read_idx decompresses it, so mutations reach the IDX parser behind the gzip layer
// (fuzz_idx covers damaged gzip streams).
#include <zlib.h>

#include "idx_common.h"

void fuzz_one(const uint8_t* data, size_t size) {
  const std::string path = deepgen::fuzz::scratch() + "/input-idx3-ubyte.gz";
  deepgen::testing::write_gzip(path, std::string(reinterpret_cast<const char*>(data), size));
  deepgen::fuzz::check_idx_file(path);
}

void write_seeds(const std::string& dir) { deepgen::fuzz::write_idx_seeds(dir, false); }
