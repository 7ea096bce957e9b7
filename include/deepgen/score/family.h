#pragma once
// The score-model family's record (train/family.h) and its option table.
#include "deepgen/score/model.h"
#include "deepgen/train/family.h"

namespace deepgen::score {

const OptionTable<ScoreOptions>& score_option_table();
const train::Family& score_family();

}  // namespace deepgen::score
