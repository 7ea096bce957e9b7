#pragma once
// Every model family, by name: the one list that knows them all (src/run/families.cpp).
#include <string>
#include <vector>

#include "deepgen/train/family.h"

namespace deepgen::run {

const std::vector<const train::Family*>& families();
// The family called `name`; an error listing the available ones otherwise.
const train::Family& family(const std::string& name);

}  // namespace deepgen::run
