#pragma once
// Console output plus a closing table of ratios against a baseline measured in the same run
// (these machines are too noisy to compare numbers across runs).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "deepgen/core/precision.h"
#include "deepgen/core/runtime.h"
#include "deepgen/nn/fused.h"

namespace deepgen::bench {

// Runs are grouped by function name plus every argument after the first `swept` ones; the first
// run of each group is its baseline, and each run's `counter` is divided by the baseline's.
// With several counters, each run uses the first of them it reports.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  RatioReporter(std::string counter, int swept) : RatioReporter(std::vector{counter}, swept) {}
  RatioReporter(std::vector<std::string> counters, int swept)
      : counters_(std::move(counters)), swept_(swept) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) {
      if (r.run_type != Run::RT_Iteration) continue;
      for (const auto& counter : counters_) {
        auto it = r.counters.find(counter);
        if (it == r.counters.end()) continue;
        rows_.push_back(
            {group_of(r), r.benchmark_name(), r.report_label, counter, it->second.value});
        break;
      }
    }
  }

  void Finalize() override {
    std::map<std::string, double> baseline;
    std::string header = counters_.front();
    for (size_t i = 1; i < counters_.size(); ++i) header += " | " + counters_[i];
    std::printf("\n%-52s %10s %8s  %s\n", "benchmark", header.c_str(), "ratio", "label");
    for (const auto& row : rows_) {
      const double base = baseline.emplace(row.group, row.value).first->second;
      std::printf("%-52s %10.2f %7.2fx  %s%s\n", row.name.c_str(), row.value,
                  base > 0 ? row.value / base : 0.0, row.label.c_str(),
                  counters_.size() > 1 ? (" (" + row.counter + ")").c_str() : "");
    }
    std::printf("(ratio: against the first row of the same group in this run)\n");
    // The figures depend on the ISA (machines differ between sessions): printed beside them.
    const deepgen::Bf16Support bf16 = deepgen::detect_bf16_support();
    std::printf("CPU: %s; native bf16: %s; fused GroupNorm+SiLU: %s\n",
                deepgen::cpu_kernels().c_str(), bf16.cpu ? "yes" : "no",
                deepgen::nn::fused_kernels().c_str());
  }

 private:
  struct Row {
    std::string group, name, label, counter;
    double value;
  };

  std::string group_of(const Run& r) const {
    std::string args = r.run_name.args;
    for (int i = 0; i < swept_; ++i) {
      const auto slash = args.find('/');
      args = slash == std::string::npos ? "" : args.substr(slash + 1);
    }
    return r.run_name.function_name + "/" + args;
  }

  std::vector<std::string> counters_;
  int swept_;
  std::vector<Row> rows_;
};

// main() for a benchmark file whose first `swept` arguments are the settings being compared.
inline int run_with_ratios(int argc, char** argv, std::vector<std::string> counters, int swept) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter(std::move(counters), swept);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}

inline int run_with_ratios(int argc, char** argv, const std::string& counter, int swept) {
  return run_with_ratios(argc, argv, std::vector<std::string>{counter}, swept);
}

}  // namespace deepgen::bench
