// Score-based models described once for the run layer and the CLI.
#include "deepgen/score/family.h"

namespace deepgen::score {

const train::Family& score_family() {
  static const train::Family family = train::describe<ScoreOptions>(
      "score",
      "Score-based model (MATH Part 3): score matching (esm-kde, dsm, ssm, ncsn), Langevin "
      "sampling",
      "score-matching loss (a divergence up to a constant, not a likelihood)", score_option_table(),
      [](const train::Shape& shape) { return ScoreOptions(shape); },
      [](const ScoreOptions& o) { validate(o); },
      [](ScoreOptions o) { return std::make_unique<ScoreModel>(std::move(o)); });
  return family;
}

}  // namespace deepgen::score
