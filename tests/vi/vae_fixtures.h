#pragma once
// What the VAE tests compare between models.
#include <string>
#include <utility>

#include "deepgen/vi/vae.h"

namespace deepgen::testing {

// Parameter names in registration order, and their total size.
inline std::pair<std::string, int64_t> parameters(vi::VaeModel& m) {
  std::string names;
  int64_t count = 0;
  for (const auto& p : m.vae()->named_parameters()) {
    names += p.key() + ",";
    count += p.value().numel();
  }
  return {names, count};
}

}  // namespace deepgen::testing
