#pragma once
// Inpainting with a noise-conditional score (BEYOND B5): annealed Langevin dynamics (langevin.h)
// with the known values replaced by noised copies of themselves (Song et al. 2021, App. I).
#include <ATen/core/Tensor.h>

#include <vector>

#include "deepgen/score/langevin.h"

namespace deepgen::score {

// annealed_langevin from x0 with, before every step at level σ_i, the known values (mask true)
// set to x + σ_i z (fresh z ~ N(0, I)): the unknown values then move under the score of p_σi
// given known values at its own noise level. With final_denoise, the known values are noised
// at σ_L once more and Tweedie's step runs on the whole state. Returns the state with its known
// values equal to x exactly.
at::Tensor annealed_langevin_inpaint(const at::Tensor& x0, const at::Tensor& x,
                                     const at::Tensor& mask, const NoiseScoreFn& score,
                                     const std::vector<double>& sigmas, int64_t steps_per_level,
                                     double eps, OptGenerator gen = c10::nullopt,
                                     bool final_denoise = true, const StepCallback& callback = {});

}  // namespace deepgen::score
