#pragma once
// The data option table: the "data" section of a run's config.json and its flags.
#include "deepgen/core/option_table_fwd.h"
#include "deepgen/data/dataset.h"

namespace deepgen::data {

const OptionTable<DataOptions>& data_option_table();

}  // namespace deepgen::data
