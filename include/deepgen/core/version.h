#pragma once
#include <string>

namespace deepgen {
std::string version();
std::string torch_version();
}  // namespace deepgen
