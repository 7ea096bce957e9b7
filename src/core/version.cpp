#include "deepgen/core/version.h"

#include <torch/version.h>

#include "deepgen/core/config.h"

namespace deepgen {
std::string version() { return DEEPGEN_VERSION; }
std::string torch_version() { return TORCH_VERSION; }
}  // namespace deepgen
