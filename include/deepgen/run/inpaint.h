#pragma once
// `deepgen inpaint`: a trained run completes images (or points) of which a mask says which
// values are known (BEYOND B5; train/model.h's inpaint). The family's own sampling options come
// beside the request as `overrides`, as for `sample` (run/model.h: with_overrides).
#include <ATen/core/Tensor.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "deepgen/core/options.h"

namespace deepgen::run {

struct InpaintRequest {
  std::string run;
  // FILE.png | DIR (images) | FILE.csv (points); empty: the first n of the run's test split.
  std::string images;
  std::string mask = "bottom";  // top | bottom | left | right | random:P | FILE.png
  std::string out;              // a new or empty folder
  int64_t n = 8;                // inputs
  uint64_t seed = 0;
  int64_t resample = 1;              // diffusion: RePaint's takes of each step
  int64_t gibbs_steps = 100;         // VAE: Gibbs rounds
  std::string gibbs = "metropolis";  // VAE: metropolis | pseudo
  int64_t samples = 1;               // completions of each input
  std::string class_name;  // conditional runs: the class (name or index) of every completion
};
const OptionTable<InpaintRequest>& inpaint_option_table();

// What inpaint_run wrote (also DIR/inpaint.json): the folder, the sizes, and the completions'
// mean squared error against the inputs over the unknown values (data units; none when every
// value is known).
struct InpaintSummary {
  std::string out;
  int64_t inputs = 0, samples = 0;
  double unknown_fraction = 0.0;
  double masked_mse = 0.0;
  nlohmann::json to_json() const;
};

// The mask (1 = known) of `spec` for a batch of shape (B, data shape): images (B, C, H, W) lose
// the named half (its ⌈H/2⌉ rows or ⌈W/2⌉ columns), or each pixel with probability P (all its
// channels together, drawn from `seed`), or the black pixels (< 128) of a PNG of size H x W;
// points (B, D) lose the first (top, left) or last (bottom, right) ⌈D/2⌉ coordinates, or each
// with probability P. Errors name the spec and the fix.
at::Tensor inpaint_mask(const std::string& spec, const std::vector<int64_t>& batch_shape,
                        uint64_t seed);

// Writes DIR/inpaint.png (images: one row per input, the truth, the masked input with its
// unknown pixels mid-grey, then each completion; 2-D points: a scatter of the inputs and the
// completions), DIR/inpainted.npy (completions in data units, n x samples x data shape) and
// DIR/inpaint.json; the folder appears whole or not at all, and nothing is written on an error.
// `runtime`: process settings (device, threads, precision) over the run's config.json.
InpaintSummary inpaint_run(const InpaintRequest& request, const nlohmann::json& overrides,
                           const nlohmann::json& runtime = nlohmann::json::object(),
                           const std::function<void(const std::string&)>& log = {});

}  // namespace deepgen::run
