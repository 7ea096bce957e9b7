#pragma once
// The VDM family's record (train/family.h) and its option table.
#include "deepgen/diffusion/model.h"
#include "deepgen/train/family.h"

namespace deepgen::diffusion {

const OptionTable<VdmOptions>& vdm_option_table();
const train::Family& vdm_family();

}  // namespace deepgen::diffusion
