// Precompiled header shared by every target: parsing <torch/torch.h> is most of a file's compile
// time, so it is parsed once per build.
#pragma once
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>
