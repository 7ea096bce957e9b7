// DataOptions declared once. `root` is not among them: it comes from $DEEPGEN_DATA at run time,
// so a run directory moves between machines.
#include "deepgen/data/options.h"

#include "deepgen/core/options.h"

namespace deepgen::data {

namespace {

OptionTable<DataOptions> make_table() {
  OptionTable<DataOptions> t("data");
  using O = DataOptions;
  t.add("spec", &O::spec, "mnist | fashion-mnist | folder:PATH | toy:NAME | csv:PATH").flag("data");
  t.add("image_size", &O::image_size, "folder: resize images to this square size (0: keep)").min(0);
  t.add("toy_train", &O::toy_train, "toy: points generated for the train split").min(1);
  t.add("toy_test", &O::toy_test, "toy: points generated for the test split").min(1);
  t.add("test_fraction", &O::test_fraction, "folder / csv: share held out as the test split")
      .min(0);
  t.add("label_column", &O::label_column,
        "csv: the label column, taken out of the features: a header name, or (digits) a 0-based "
        "index; its integers (sorted numerically) or words (sorted) are the classes (\"\": none)");
  t.add("seed", &O::seed, "Seed of toy generation and of the folder / csv split").flag("data-seed");
  return t;
}

}  // namespace

const OptionTable<DataOptions>& data_option_table() {
  static const OptionTable<DataOptions> table = make_table();
  return table;
}

}  // namespace deepgen::data
