#pragma once
// User-facing errors: the message names the input and the fix; the CLI prints it as one line.
#include <stdexcept>
#include <string>

namespace deepgen {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// How a message names an option: `section.key` in backquotes (the section is the option's
// table: "train", "data", "vae", ...). The CLI shows the option's flag in its place, so a
// message never names a flag that does not exist (core/options.h declares the options).
std::string option_ref(const std::string& section, const std::string& key);

// An exception's message as one line: c10::Error without its C++ stack, then its first line.
std::string brief(const std::exception& e);

// Whether `e` is an allocation failure (std::bad_alloc, or LibTorch's "can't allocate memory").
bool is_out_of_memory(const std::exception& e);

}  // namespace deepgen
