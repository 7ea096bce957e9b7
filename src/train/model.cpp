// The defaults of the optional parts of a model: each says plainly that the model has none.
#include "deepgen/train/model.h"

#include "deepgen/core/error.h"

namespace deepgen::train {

at::Tensor GenerativeModel::sample_classes(const at::Tensor& /*labels*/, double /*guidance*/) {
  throw Error("this " + name() +
              " run is unconditional: train it with --conditional on labelled data to sample "
              "a class");
}

at::Tensor GenerativeModel::inpaint(const at::Tensor& /*x*/, const at::Tensor& /*mask*/,
                                    const InpaintOptions& /*options*/) {
  throw Error(inpaint_blocker());
}

}  // namespace deepgen::train
