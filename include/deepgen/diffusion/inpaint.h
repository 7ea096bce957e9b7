#pragma once
// Inpainting with a diffusion model's ε̂ (BEYOND B5): the replacement method of Song et al. 2021
// and RePaint's resampling (Lugmayr et al. 2022), in the model's space.
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <functional>

#include "deepgen/diffusion/sampler.h"

namespace deepgen::diffusion {

// From z_1 (B, ...) down the grid gammas (T + 1 increasing values) by ancestral steps (MATH 2e);
// at z_1 and after each step to level s the known values (mask true) are set to a fresh draw of
// q(z_s|f) = N(α_s f, σ_s² I) (MATH 2a). With resample r > 1 each step is taken r times, the
// state re-noised from s back to t by q(z_t|z_s) (MATH 2c) between takes: T·r evaluations of
// eps, on_step(done, T·r) after each. Returns z_0 (its known values still noised at γ_0). An
// all-false mask with r = 1 is sample_loop's ancestral sampler, draw for draw.
at::Tensor inpaint_loop(const EpsFn& eps, const at::Tensor& gammas, at::Tensor z_1,
                        const at::Tensor& f, const at::Tensor& mask, int64_t resample,
                        at::Generator& gen,
                        const std::function<void(int64_t, int64_t)>& on_step = {});

}  // namespace deepgen::diffusion
