#pragma once
// The trainer's option table: the "train" section of a run's config.json and its flags.
#include "deepgen/core/option_table_fwd.h"
#include "deepgen/train/trainer.h"

namespace deepgen::train {

const OptionTable<TrainOptions>& train_option_table();

}  // namespace deepgen::train
