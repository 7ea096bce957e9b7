// The registration list: adding a family is its folder plus one line here.
#include "deepgen/run/families.h"

#include "deepgen/diffusion/family.h"
#include "deepgen/score/family.h"
#include "deepgen/vi/family.h"

namespace deepgen::run {

const std::vector<const train::Family*>& families() {
  static const std::vector<const train::Family*> all{
      &vi::vae_family(),
      &diffusion::vdm_family(),
      &score::score_family(),
  };
  return all;
}

const train::Family& family(const std::string& name) {
  std::string names;
  for (const auto* f : families()) {
    if (f->name == name) return *f;
    names += (names.empty() ? "" : ", ") + f->name;
  }
  throw Error("unknown model '" + name + "': available models are " + names);
}

}  // namespace deepgen::run
