#include "deepgen/train/spike.h"

#include <algorithm>
#include <cmath>

namespace deepgen::train {

double LossSpikeDetector::margin() const {
  if (!std::isfinite(best_)) return std::numeric_limits<double>::infinity();
  return factor_ * std::max(std::abs(best_), (first_ - best_) / 10);
}

bool LossSpikeDetector::observe(int64_t step, double window_mean) {
  if (factor_ <= 0 || !std::isfinite(window_mean)) return false;
  if (std::isnan(first_)) first_ = window_mean;
  const bool above = window_mean - best_ > margin();
  if (!above && window_mean < best_) {
    best_ = window_mean;
    best_step_ = step;
  }
  const bool starts = above && !in_spike_;
  in_spike_ = above;
  return starts;
}

}  // namespace deepgen::train
