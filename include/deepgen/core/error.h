#pragma once
// User-facing errors: the message names the input and the fix; the CLI prints it as one line.
#include <stdexcept>
#include <string>

namespace deepgen {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace deepgen
