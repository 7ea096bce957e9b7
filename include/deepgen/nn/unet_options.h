#pragma once
// The shared U-Net's options (nn/unet.h), declared once for every family whose table holds one:
// each family's flags, config.json keys, help and checks for them come from here.
#include <string>
#include <vector>

#include "deepgen/core/options.h"
#include "deepgen/nn/unet.h"

namespace deepgen::nn {

// Adds channels, blocks, attention, patch, fourier and dropout to `table`; `unet` is
// UNetOptions&(O&), the family's U-Net options inside its own.
template <class O, class Access>
void add_unet_options(OptionTable<O>& table, Access unet) {
  auto field = [unet](auto member) {
    return [ unet, member ](O & o) -> auto& { return unet(o).*member; };
  };
  using Ints = std::vector<int64_t>;
  table
      .template add_with<Ints>("channels", field(&UNetOptions::channels),
                               "unet: channels per level")
      .min(1);
  table
      .template add_with<int64_t>("blocks", field(&UNetOptions::blocks),
                                  "unet: residual blocks per level")
      .min(1);
  table.template add_with<bool>("attention", field(&UNetOptions::attention),
                                "unet: self-attention at the lowest resolution");
  table
      .template add_with<int64_t>("patch", field(&UNetOptions::patch),
                                  "unet: space-to-depth factor before the first level (lossless)")
      .min(1);
  table.template add_with<Ints>(
      "fourier", field(&UNetOptions::fourier),
      "unet: exponents n of the Fourier features sin/cos(2^n·2π·z) (none: off)");
  table.template add_with<bool>(
      "fourier_gate", field(&UNetOptions::fourier_gate),
      "unet: scale each Fourier feature by exp(-(2^n·2π·σ)²/2), what survives of it under the "
      "noise σ, so the network sees none where it is noise (a smoother ε̂ and ODE)");
  table
      .template add_with<double>("dropout", field(&UNetOptions::dropout),
                                 "Dropout in the residual blocks")
      .min(0);
}

}  // namespace deepgen::nn
