// Checkpoints must be readable outside deepgen: a standard-library-only Python reader
// (tests/io/read_safetensors.py) loads a file written here and must see the same tensors.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "deepgen/io/safetensors.h"
#include "support/temp_dir.h"

namespace deepgen::io {
namespace {

using deepgen::testing::TempDir;

bool have_python3() { return std::system("command -v python3 > /dev/null 2>&1") == 0; }

// Runs the reader; returns its stdout, and its exit status through `status`.
std::string run_reader(const std::string& file, int* status) {
  const std::string command = std::string("python3 '") + DEEPGEN_SOURCE_DIR +
                              "/tests/io/read_safetensors.py' '" + file + "'";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return "";
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  *status = pclose(pipe);
  return out;
}

// Sequential double sum of the exact element values; bools count as 0/1.
double reference_sum(const at::Tensor& t) {
  const at::Tensor flat = t.to(at::kDouble).contiguous().view(-1);
  double sum = 0;
  for (int64_t i = 0; i < flat.numel(); ++i) sum += flat[i].item<double>();
  return sum;
}

NamedTensors known_tensors() {
  torch::manual_seed(7);
  return {
      {"weights", torch::randn({3, 4})},
      {"f64", torch::linspace(-1.5, 2.25, 7, torch::kDouble)},
      {"big", torch::tensor({int64_t{1} << 40, -(int64_t{1} << 41), int64_t{3}}, torch::kLong)},
      {"i32", torch::arange(-5, 5, torch::kInt).reshape({2, 5})},
      {"bytes", torch::arange(0, 256, 37, torch::kLong).to(torch::kByte).reshape({7})},
      {"mask", torch::tensor({1, 0, 1, 1}).to(torch::kBool).reshape({2, 2})},
      {"scalar", torch::full({}, 2.5, torch::kFloat)},
      {"empty", torch::zeros({0, 3}, torch::kFloat)},
  };
}

TEST(SafetensorsPython, StdlibReaderSeesTheSameTensors) {
  if (!have_python3()) GTEST_SKIP() << "python3 not found";
  TempDir dir;
  const std::string path = dir.file("known.safetensors");
  const NamedTensors tensors = known_tensors();
  save_safetensors(path, tensors, {{"step", "42"}});

  int status = -1;
  const std::string output = run_reader(path, &status);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
  const auto summary = nlohmann::json::parse(output, nullptr, false);
  ASSERT_FALSE(summary.is_discarded()) << output;
  EXPECT_EQ(summary["metadata"], nlohmann::json({{"step", "42"}}));
  ASSERT_EQ(summary["tensors"].size(), tensors.size());

  const std::map<at::ScalarType, std::string> names = {{at::kFloat, "F32"}, {at::kDouble, "F64"},
                                                       {at::kLong, "I64"},  {at::kInt, "I32"},
                                                       {at::kByte, "U8"},   {at::kBool, "BOOL"}};
  for (const auto& [name, t] : tensors) {
    SCOPED_TRACE(name);
    const auto& s = summary["tensors"][name];
    EXPECT_EQ(s["dtype"], names.at(t.scalar_type()));
    EXPECT_EQ(s["shape"].get<std::vector<int64_t>>(), t.sizes().vec());
    // Floats: summation order may differ (Python >= 3.12 compensates), so allow 1e-9 relative
    // to the sum of magnitudes; integer sums are exact.
    const double expected = reference_sum(t);
    if (t.is_floating_point()) {
      const double tolerance = 1e-9 * (1 + reference_sum(t.abs()));
      EXPECT_NEAR(s["sum"].get<double>(), expected, tolerance);
    } else {
      EXPECT_EQ(s["sum"].get<int64_t>(), static_cast<int64_t>(expected));
    }
    if (t.numel() == 0) {
      EXPECT_TRUE(s["first"].is_null());
    } else {
      // The first value is exact: float32 -> double and JSON's shortest round-trip repr.
      const double first =
          s["first"].is_boolean() ? s["first"].get<bool>() : s["first"].get<double>();
      EXPECT_EQ(first, t.reshape(-1)[0].to(at::kDouble).item<double>());
    }
  }
}

}  // namespace
}  // namespace deepgen::io
