// Reverse-process steps and the one sampling loop.
#include "deepgen/diffusion/sampler.h"

#include "deepgen/core/error.h"
#include "deepgen/diffusion/schedule.h"
#include "deepgen/diffusion/vdm.h"

namespace deepgen::diffusion {

at::Tensor ancestral_step(const at::Tensor& z_t, const at::Tensor& eps_hat,
                          const at::Tensor& gamma_t, const at::Tensor& gamma_s,
                          const at::Tensor& noise) {
  auto p = reverse(z_t, x_from_eps(z_t, eps_hat, gamma_t), gamma_s, gamma_t);
  return p.mean + p.var.sqrt() * noise;
}

at::Tensor ddim_step(const at::Tensor& z_t, const at::Tensor& eps_hat, const at::Tensor& gamma_t,
                     const at::Tensor& gamma_s) {
  auto x_hat = x_from_eps(z_t, eps_hat, gamma_t);
  auto gs = per_example(gamma_s, z_t);
  return torch::exp(0.5 * log_alpha2(gs)) * x_hat + torch::exp(0.5 * log_sigma2(gs)) * eps_hat;
}

std::vector<std::string> sampler_names() { return {"ancestral", "ddim"}; }

at::Tensor sample_loop(const std::string& sampler, const EpsFn& eps, const at::Tensor& gammas,
                       at::Tensor z, at::Generator& gen,
                       const std::function<void(int64_t, int64_t)>& on_step) {
  if (sampler != "ancestral" && sampler != "ddim")
    throw Error("vdm: unknown --sampler '" + sampler + "': use ancestral or ddim");
  const int64_t steps = gammas.size(0) - 1;
  if (steps < 1) throw Error("vdm: --steps must be >= 1");
  const int64_t b = z.size(0);
  for (int64_t i = steps; i >= 1; --i) {
    auto gamma_t = gammas[i].expand({b}), gamma_s = gammas[i - 1].expand({b});
    auto eps_hat = eps(z, gamma_t);
    if (sampler == "ddim") {
      z = ddim_step(z, eps_hat, gamma_t, gamma_s);
    } else {
      auto noise = at::randn(z.sizes(), gen, z.scalar_type()).to(z.device());
      z = ancestral_step(z, eps_hat, gamma_t, gamma_s, noise);
    }
    if (on_step) on_step(steps - i + 1, steps);
  }
  return z;
}

}  // namespace deepgen::diffusion
