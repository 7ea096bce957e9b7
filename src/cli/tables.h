#pragma once
// The option tables of the command line (src/cli/tables.cpp) and the defaults their help shows.
#include "app.h"
#include "deepgen/train/family.h"
#include "flags.h"

namespace deepgen::cli {

// "X", or "X for images, Y for points" when the family's default depends on the data.
DefaultText family_defaults(const train::Family& family);

template <class O>
DefaultText table_defaults(const OptionTable<O>& table, const O& defaults = O{}) {
  return defaults_of(table.to_json(defaults));
}

}  // namespace deepgen::cli
