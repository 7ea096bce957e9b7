// A csv: data set (src/data/files.cpp read_csv_points, then the split in data/dataset.cpp).
// What it accepts must be what it promises: float32 points, every one finite.
#include "deepgen/data/dataset.h"
#include "fuzz_support.h"

void fuzz_one(const uint8_t* data, size_t size) {
  deepgen::data::DataOptions options;
  options.spec = "csv:" + deepgen::fuzz::input_file("points.csv", data, size);
  options.test_fraction = 0.25;
  const deepgen::data::Splits s = deepgen::data::load_data(options);
  for (const auto* d : {&s.train, &s.test}) {
    if (d->x.scalar_type() != at::kFloat || d->x.dim() != 2 ||
        !torch::isfinite(d->x).all().item<bool>()) {
      std::fprintf(stderr, "fuzz: csv: accepted points that are not finite float32 (N, D)\n");
      std::abort();
    }
  }
}

void write_seeds(const std::string& dir) {
  using deepgen::fuzz::write_bytes;
  write_bytes(dir + "/header.csv", "x,y\n0.5,-1.25\n2,3e-2\n-4.5,1e3\n");
  write_bytes(dir + "/no-header.csv", "1,2,3\n4,5,6\n7,8,9\n10,11,12\n");
  write_bytes(dir + "/spaces-crlf.csv", " a , b \r\n 1.5 , 2 \r\n\r\n -3 , +4.0e+1 \r\n");
  write_bytes(dir + "/one-column.csv", "value\n1\n-0\n0.000001\n123456789\n");
  write_bytes(dir + "/blank-lines.csv", "\n\n1,1\n\n2,2\n   \n3,3\n");
  write_bytes(dir + "/hex-inf-names.csv", "0x1p3,1\ninf,2\nnan,3\n");
}
