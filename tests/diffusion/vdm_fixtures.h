#pragma once
// Small VDM options the diffusion tests build models from: seconds to train or sample.
#include <vector>

#include "deepgen/diffusion/model.h"

namespace deepgen::testing {

inline diffusion::VdmOptions small_image_options(std::vector<int64_t> shape = {1, 8, 8}) {
  diffusion::VdmOptions o;
  o.data_shape = std::move(shape);
  o.net.channels = {8, 16};
  o.net.blocks = 1;
  return o;
}

inline diffusion::VdmOptions point_options() {
  diffusion::VdmOptions o;
  o.data_shape = {2};
  o.net.architecture = "mlp";
  o.net.hidden = 32;
  o.net.layers = 2;
  return o;
}

}  // namespace deepgen::testing
