#pragma once
// The VAE family's record (train/family.h) and its option table.
#include "deepgen/train/family.h"
#include "deepgen/vi/vae.h"

namespace deepgen::vi {

const OptionTable<VaeOptions>& vae_option_table();
const train::Family& vae_family();

}  // namespace deepgen::vi
