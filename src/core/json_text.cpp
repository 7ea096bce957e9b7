#include "deepgen/core/json_text.h"

#include <algorithm>

#include "deepgen/core/error.h"

namespace deepgen {

int json_nesting(const char* begin, const char* end) {
  int depth = 0, most = 0;
  bool in_string = false, escaped = false;
  for (const char* p = begin; p != end; ++p) {
    const char c = *p;
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      most = std::max(most, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return most;
}

nlohmann::json parse_json_text(const std::string& text, const std::string& source) {
  if (json_nesting(text.data(), text.data() + text.size()) > kMaxJsonDepth)
    throw Error(source + " nests arrays or objects more than " + std::to_string(kMaxJsonDepth) +
                " levels deep: it is not a deepgen configuration");
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) throw Error(source + " is not valid JSON");
  return j;
}

}  // namespace deepgen
