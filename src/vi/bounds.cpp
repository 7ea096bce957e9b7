#include "deepgen/vi/bounds.h"

#include "deepgen/core/error.h"

namespace deepgen::vi {

at::Tensor log_mean_exp(const at::Tensor& log_w) {
  if (log_w.dim() == 0 || log_w.size(0) == 0) throw Error("log_mean_exp: need K >= 1 weights");
  return torch::logsumexp(log_w, 0) - std::log(static_cast<double>(log_w.size(0)));
}

at::Tensor iwae_bound(const std::function<at::Tensor(int64_t)>& log_weights, int64_t k,
                      int64_t chunk) {
  if (k < 1 || chunk < 1) throw Error("iwae_bound: K and the chunk size must be >= 1");
  at::Tensor running;  // log Σ exp(log_w) over the chunks so far
  for (int64_t done = 0; done < k; done += chunk) {
    at::Tensor part = torch::logsumexp(log_weights(std::min(chunk, k - done)), 0);
    running = running.defined() ? torch::logaddexp(running, part) : part;
  }
  return running - std::log(static_cast<double>(k));
}

}  // namespace deepgen::vi
