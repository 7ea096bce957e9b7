#pragma once
// JSON from outside (a --config file, a run's config.json): parsed with a bound on nesting, since
// nlohmann's copies recurse and a document nested a million levels deep overflows the stack.
#include <nlohmann/json.hpp>
#include <string>

namespace deepgen {

constexpr int kMaxJsonDepth = 64;  // deepgen's own files nest 3 levels

// The deepest nesting of arrays and objects in [begin, end), strings (with escapes) skipped:
// measured before nlohmann parses untrusted text.
int json_nesting(const char* begin, const char* end);

// Throws deepgen::Error naming `source` when the text is not JSON or nests too deeply.
nlohmann::json parse_json_text(const std::string& text, const std::string& source);

}  // namespace deepgen
