// The input checks every family's inpaint() shares: one clear line naming the input and the fix.
#include <ATen/ATen.h>

#include "deepgen/core/error.h"
#include "deepgen/train/model.h"

namespace deepgen::train {

namespace {

std::string shape_text(at::IntArrayRef shape) {
  std::string s;
  for (int64_t d : shape) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s.empty() ? "a scalar" : s;
}

}  // namespace

void check_inpaint_inputs(const std::string& who, const at::Tensor& x, const at::Tensor& mask,
                          const std::vector<int64_t>& data_shape, const InpaintOptions& options,
                          int64_t classes) {
  if (!x.defined() || !mask.defined())
    throw Error(who + " inpaint: give the values x and their mask (1 = known)");
  std::vector<int64_t> want{x.dim() > 0 ? x.size(0) : 0};
  want.insert(want.end(), data_shape.begin(), data_shape.end());
  if (x.dim() == 0 || x.sizes().vec() != want || x.size(0) == 0)
    throw Error(who + " inpaint: x is " + shape_text(x.sizes()) + "; the model's examples are " +
                shape_text(data_shape) + ", so give a batch B x " + shape_text(data_shape));
  if (mask.sizes() != x.sizes())
    throw Error(who + " inpaint: the mask is " + shape_text(mask.sizes()) + " but x is " +
                shape_text(x.sizes()) + ": give one mask value per value of x");
  if (!at::logical_or(mask == 0, mask == 1).all().item<bool>())
    throw Error(who +
                " inpaint: the mask holds values other than 0 and 1 (1 = known, 0 = to fill)");
  if (options.resample < 1)
    throw Error(who + " inpaint: resample is " + std::to_string(options.resample) +
                "; use 1 (plain replacement) or more (RePaint)");
  if (options.gibbs_steps < 1)
    throw Error(who + " inpaint: gibbs_steps is " + std::to_string(options.gibbs_steps) +
                "; use 1 or more rounds");
  const at::Tensor& y = options.labels;
  if (!y.defined()) return;
  if (classes == 0)
    throw Error(who +
                " inpaint: classes were given but the model is unconditional: leave them "
                "out, or inpaint with a run trained with --conditional");
  if (y.dim() != 1 || y.size(0) != x.size(0))
    throw Error(who + " inpaint: " + shape_text(y.sizes()) + " labels for " +
                std::to_string(x.size(0)) + " rows of x: give one class per row");
  if (y.numel() > 0 && (y.min().item<int64_t>() < 0 || y.max().item<int64_t>() >= classes))
    throw Error(who + " inpaint: a class outside 0.." + std::to_string(classes - 1) +
                ", the model's classes");
}

}  // namespace deepgen::train
