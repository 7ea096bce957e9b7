#pragma once
// The message of the deepgen::Error a callable throws, for tests that check what it names.
#include <string>

#include "deepgen/core/error.h"

namespace deepgen::testing {

template <typename F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no deepgen::Error thrown)";
}

}  // namespace deepgen::testing
