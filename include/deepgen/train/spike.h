#pragma once
// Loss-spike detection for long runs: a diverging model (e.g. a VDM whose bound jumps from 2 to
// 9 bpd) often stays finite, so the NaN check never fires and a user training for hours gets
// a dead model without a word. The trainer feeds every log window's mean loss here.
#include <cstdint>
#include <limits>

namespace deepgen::train {

class LossSpikeDetector {
 public:
  // factor 0 turns detection off.
  explicit LossSpikeDetector(double factor) : factor_(factor) {}

  // A window's mean loss ending at `step`. True on the first window of a spike: its mean is
  // more than factor·scale above the best mean so far, scale = max(|best|, (first − best)/10)
  // (relative to the loss itself, but not to a loss that happens to pass near zero). A spike
  // lasts until a window comes back within that margin.
  bool observe(int64_t step, double window_mean);

  bool in_spike() const { return in_spike_; }
  double best() const { return best_; }
  int64_t best_step() const { return best_step_; }
  double margin() const;  // the current threshold above best()

 private:
  double factor_;
  double first_ = std::numeric_limits<double>::quiet_NaN();
  double best_ = std::numeric_limits<double>::infinity();
  int64_t best_step_ = 0;
  bool in_spike_ = false;
};

}  // namespace deepgen::train
