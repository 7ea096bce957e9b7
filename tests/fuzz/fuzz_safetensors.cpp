// .safetensors weights (src/io/safetensors.cpp load_safetensors), with their metadata.
#include "deepgen/io/safetensors.h"
#include "fuzz_support.h"

void fuzz_one(const uint8_t* data, size_t size) {
  std::map<std::string, std::string> metadata;
  deepgen::io::load_safetensors(deepgen::fuzz::input_file("weights.safetensors", data, size),
                                &metadata);
}

void write_seeds(const std::string& dir) {
  using deepgen::io::save_safetensors;
  const auto opts = [](at::ScalarType t) { return at::TensorOptions().dtype(t); };
  save_safetensors(dir + "/every-dtype.safetensors",
                   {{"f32", torch::arange(6, opts(at::kFloat)).reshape({2, 3})},
                    {"f64", torch::linspace(-1, 1, 4, opts(at::kDouble))},
                    {"i64", torch::arange(-2, 3, opts(at::kLong))},
                    {"i32", torch::arange(5, opts(at::kInt)).reshape({5, 1})},
                    {"u8", torch::arange(8, opts(at::kByte)).reshape({2, 2, 2})},
                    {"bool", torch::tensor({true, false, true})}});
  save_safetensors(dir + "/metadata.safetensors",
                   {{"decoder.layers.0.weight", torch::ones({2, 2})}},
                   {{"format", "pt"}, {"step", "100"}});
  save_safetensors(dir + "/empty-and-scalar.safetensors",
                   {{"empty", torch::zeros({0, 3})}, {"scalar", torch::tensor(3.5)}});
  save_safetensors(dir + "/no-tensors.safetensors", {});
}
