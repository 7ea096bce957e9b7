// The option table: one declaration gives JSON both ways, checks and the specs the CLI reads.
#include "deepgen/core/options.h"

#include <gtest/gtest.h>
#include <torch/arg.h>

namespace deepgen {
namespace {

struct Plain {
  int64_t steps = 10;
  double rate = 0.5;
  bool on = true;
  std::string kind = "a";
  std::vector<int64_t> sizes{4, 8};
  std::vector<double> weights;
  uint64_t seed = 3;
};

struct Builder {  // TORCH_ARG style, as the families' options are
  TORCH_ARG(int64_t, width) = 16;
  TORCH_ARG(std::string, name) = "x";
};

struct Nested {
  Builder inner;
  int64_t outer = 1;
};

OptionTable<Plain> plain_table() {
  OptionTable<Plain> t("plain");
  t.add("steps", &Plain::steps, "Steps").min(0);
  t.add("rate", &Plain::rate, "Rate").greater(0);
  t.add("on", &Plain::on, "Switch").commands(kTrain | kEval);
  t.add("kind", &Plain::kind, "Kind").choices({"a", "b", "c"}).flag("the-kind");
  t.add("sizes", &Plain::sizes, "Sizes").min(1);
  t.add("weights", &Plain::weights, "Weights").internal();
  t.add("seed", &Plain::seed, "Seed");
  return t;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(OptionTable, JsonRoundTripsEveryField) {
  const auto t = plain_table();
  Plain p;
  p.steps = 7;
  p.rate = 0.25;
  p.on = false;
  p.kind = "c";
  p.sizes = {1, 2, 3};
  p.weights = {0.5};
  p.seed = 9;
  const nlohmann::json j = t.to_json(p);
  EXPECT_EQ(j.size(), 7u);  // every declared field is written
  Plain q;
  t.update(q, j);
  EXPECT_EQ(t.to_json(q), j);
  EXPECT_EQ(q.sizes, p.sizes);
  EXPECT_EQ(q.seed, 9u);
}

TEST(OptionTable, PartialUpdateKeepsTheDefaults) {
  const auto t = plain_table();
  Plain p;
  t.update(p, {{"steps", 3}});
  EXPECT_EQ(p.steps, 3);
  EXPECT_EQ(p.kind, "a");
  EXPECT_EQ(p.sizes, (std::vector<int64_t>{4, 8}));
}

TEST(OptionTable, UnknownKeyNamesItAndTheKnownOnes) {
  const auto t = plain_table();
  Plain p;
  const std::string e = error_of([&] { t.update(p, {{"stpes", 3}}); });
  EXPECT_NE(e.find("'stpes'"), std::string::npos) << e;
  EXPECT_NE(e.find("steps, rate"), std::string::npos) << e;
  EXPECT_FALSE(error_of([&] { t.update(p, nlohmann::json::array()); }).empty());
}

TEST(OptionTable, WrongTypesAreErrorsNamingTheOption) {
  const auto t = plain_table();
  Plain p;
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, nlohmann::json>>{{"steps", 1.5},
                                                           {"steps", "3"},
                                                           {"rate", "fast"},
                                                           {"on", 1},
                                                           {"kind", 3},
                                                           {"sizes", 4},
                                                           {"sizes", {1, 2.5}},
                                                           {"weights", {"a"}}}) {
    const std::string e = error_of([&, &key = key, &value = value] {
      t.update(p, {{key, value}});
    });
    EXPECT_NE(e.find("`plain." + key + "` expects"), std::string::npos) << key << ": " << e;
  }
  EXPECT_TRUE(error_of([&] { t.update(p, {{"rate", 2}}); }).empty());  // an integer is a number
  // Integers the field cannot hold are errors, not wrapped or truncated values.
  EXPECT_NE(error_of([&] {
              t.update(p, {{"seed", -1}});
            }).find("`plain.seed` is out of range"),
            std::string::npos);
  EXPECT_TRUE(error_of([&] { t.update(p, {{"seed", 18446744073709551615ULL}}); }).empty());
}

TEST(OptionTable, DeclaredChecksNameTheOptionAndTheBound) {
  const auto t = plain_table();
  auto check = [&](const nlohmann::json& patch) {
    Plain p;
    t.update(p, patch);
    return error_of([&] { t.validate(p); });
  };
  EXPECT_EQ(check(nlohmann::json::object()), "");
  EXPECT_EQ(check({{"steps", -1}}), "plain: `plain.steps` must be >= 0, got -1");
  EXPECT_EQ(check({{"rate", 0}}), "plain: `plain.rate` must be > 0, got 0");
  EXPECT_EQ(check({{"sizes", {4, 0}}}), "plain: `plain.sizes` entries must be >= 1, got 4,0");
  EXPECT_EQ(check({{"kind", "z"}}), "plain: `plain.kind` 'z' is unknown: use a, b or c");
  EXPECT_EQ(check({{"steps", 0}, {"rate", 1e-9}}), "");
}

TEST(OptionTable, SpecsCarryFlagsTypesAndCommands) {
  const auto specs = plain_table().specs();
  ASSERT_EQ(specs.size(), 7u);
  EXPECT_EQ(specs[0].flag, "steps");
  EXPECT_EQ(specs[0].type, OptionType::integer);
  EXPECT_EQ(specs[2].commands, unsigned{kTrain | kEval});
  EXPECT_EQ(specs[3].flag, "the-kind");
  EXPECT_EQ(specs[4].type, OptionType::integers);
  EXPECT_EQ(specs[5].flag, "");  // internal: saved, no flag
  for (const auto& s : specs) EXPECT_EQ(s.section, "plain");
}

TEST(OptionTable, AccessorsAndNestedFields) {
  OptionTable<Builder> b("builder");
  b.add("width", &Builder::width, "Width").min(1);
  b.add("name", &Builder::name, "Name");
  Builder x;
  b.update(x, {{"width", 32}, {"name", "y"}});
  EXPECT_EQ(x.width(), 32);
  EXPECT_EQ(b.to_json(x), (nlohmann::json{{"width", 32}, {"name", "y"}}));
  // A key's flag is the key with dashes: "gamma_min" -> "gamma-min".
  OptionTable<Nested> n("nested");
  n.add_with<int64_t>(
      "inner_width", [](Nested& o) -> int64_t& { return o.inner.width(); }, "W");
  n.add("outer", &Nested::outer, "O");
  Nested y;
  n.update(y, {{"inner_width", 5}});
  EXPECT_EQ(y.inner.width(), 5);
  EXPECT_EQ(n.specs()[0].flag, "inner-width");
}

TEST(OptionValues, FormatForHelp) {
  EXPECT_EQ(format_value(-13.3), "-13.3");
  EXPECT_EQ(format_value(nlohmann::json::array({32, 64})), "32,64");
  EXPECT_EQ(format_value(nlohmann::json::array()), "none");
  EXPECT_EQ(format_value("relu"), "relu");
  EXPECT_EQ(format_value(true), "true");
}

}  // namespace
}  // namespace deepgen
