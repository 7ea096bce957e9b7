// Every option table the command line reads, with the defaults its help prints.
#include "tables.h"

#include "deepgen/data/options.h"
#include "deepgen/run/compare.h"
#include "deepgen/run/config.h"
#include "deepgen/run/families.h"
#include "deepgen/run/inpaint.h"
#include "deepgen/run/requests.h"
#include "deepgen/train/options.h"

namespace deepgen::cli {

using nlohmann::json;

const OptionTable<TrainCommand>& train_command_table() {
  static const OptionTable<TrainCommand> table = [] {
    OptionTable<TrainCommand> t("cli");
    t.add("out", &TrainCommand::out, "Run directory (required)");
    t.add("config", &TrainCommand::config, "A config.json to start from; flags override it");
    t.add("resume", &TrainCommand::resume, "Continue the run in --out from its checkpoint");
    t.add("dist_timeout", &TrainCommand::dist_timeout,
          "Data-parallel (WORLD_SIZE > 1): seconds a rank waits for the others")
        .min(1);
    return t;
  }();
  return table;
}

// "X", or "X for images, Y for points" when the family's default depends on the data.
DefaultText family_defaults(const train::Family& f) {
  const json images = f.defaults({1, 28, 28}), points = f.defaults({2});
  return [images, points](const OptionSpec& s) {
    const std::string a = format_value(images.value(s.key, json())),
                      b = format_value(points.value(s.key, json()));
    return a == b ? a : a + " for images, " + b + " for points";
  };
}

const std::vector<TableInfo>& option_tables() {
  static const std::vector<TableInfo> tables = [] {
    std::vector<TableInfo> t{
        {"train: the run", train_command_table().specs(), table_defaults(train_command_table())},
        {"train: training", train::train_option_table().specs(),
         table_defaults(train::train_option_table(), run::RunConfig().train)},
        {"train: data", data::data_option_table().specs(),
         table_defaults(data::data_option_table())},
        {"train: runtime", run::runtime_option_table().specs(),
         table_defaults(run::runtime_option_table())}};
    for (const auto* f : run::families())
      t.push_back(
          {f->name + " models (train; some also sample / eval)", f->options, family_defaults(*f)});
    t.push_back(
        {"sample", run::sample_option_table().specs(), table_defaults(run::sample_option_table())});
    t.push_back(
        {"eval", run::eval_option_table().specs(), table_defaults(run::eval_option_table())});
    t.push_back({"inpaint", run::inpaint_option_table().specs(),
                 table_defaults(run::inpaint_option_table())});
    t.push_back(
        {"langevin", langevin_option_table().specs(), table_defaults(langevin_option_table())});
    t.push_back(
        {"fit gmm", fit_gmm_option_table().specs(), table_defaults(fit_gmm_option_table())});
    t.push_back({"compare", run::compare_option_table().specs(),
                 table_defaults(run::compare_option_table())});
    t.push_back({"demo", demo_option_table().specs(), table_defaults(demo_option_table())});
    return t;
  }();
  return tables;
}

}  // namespace deepgen::cli
