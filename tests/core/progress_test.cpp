#include "deepgen/core/progress.h"

#include <gtest/gtest.h>

#include <vector>

namespace deepgen {
namespace {

TEST(Progress, ReportsReachTheInnermostListenerUntilItsScopeEnds) {
  std::vector<int64_t> outer, inner;
  report_progress("nobody listens", 1, 2);  // no listener: nothing happens
  {
    const ProgressScope a(
        [&](const std::string&, int64_t done, int64_t) { outer.push_back(done); });
    report_progress("x", 1, 3);
    {
      const ProgressScope b([&](const std::string& what, int64_t done, int64_t total) {
        EXPECT_EQ(what, "sample");
        EXPECT_EQ(total, 3);
        inner.push_back(done);
      });
      report_progress("sample", 2, 3);
    }
    report_progress("x", 3, 3);
  }
  report_progress("x", 4, 4);
  EXPECT_EQ(outer, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(inner, (std::vector<int64_t>{2}));
}

}  // namespace
}  // namespace deepgen
