#include "deepgen/core/json_text.h"

#include <gtest/gtest.h>

#include "deepgen/core/error.h"

namespace deepgen {
namespace {

std::string nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// A million levels used to overflow the stack in nlohmann's recursive copy (a segfault on
// `train --config` and on --resume of a run holding it); now one error naming the file.
TEST(JsonText, DeepNestingIsAnErrorNotACrash) {
  try {
    parse_json_text(nested(1000000), "deep.json");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("deep.json nests"), std::string::npos) << e.what();
  }
  EXPECT_EQ(parse_json_text(nested(kMaxJsonDepth), "ok.json").size(), 1u);
  EXPECT_THROW(parse_json_text(nested(kMaxJsonDepth + 1), "x.json"), Error);
}

TEST(JsonText, BracketsInsideStringsDoNotCount) {
  const std::string text = R"({"a": "[[[[\"[[[[", "b": [1, 2]})";
  const auto j = parse_json_text(std::string(200, ' ') + text, "s.json");
  EXPECT_EQ(j["b"].size(), 2u);
  std::string many = "{\"k\": \"";
  for (int i = 0; i < 1000; ++i) many += "{[";
  many += "\"}";
  EXPECT_EQ(parse_json_text(many, "m.json").size(), 1u);
}

TEST(JsonText, InvalidJsonNamesItsSource) {
  try {
    parse_json_text("{\"a\": ", "broken.json");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "broken.json is not valid JSON");
  }
}

}  // namespace
}  // namespace deepgen
