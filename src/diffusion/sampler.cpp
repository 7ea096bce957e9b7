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

namespace {

// One step z_t -> z_s of a sampler; `gen` draws its noise, if it has any.
using Step = at::Tensor (*)(const at::Tensor& z, const at::Tensor& eps_hat,
                            const at::Tensor& gamma_t, const at::Tensor& gamma_s,
                            at::Generator& gen);

// The samplers by name: a new sampler is its step function and one row here.
const std::vector<std::pair<std::string, Step>>& samplers() {
  static const std::vector<std::pair<std::string, Step>> table{
      {"ancestral",
       [](const at::Tensor& z, const at::Tensor& eps_hat, const at::Tensor& gamma_t,
          const at::Tensor& gamma_s, at::Generator& gen) {
         auto noise = at::randn(z.sizes(), gen, z.scalar_type()).to(z.device());
         return ancestral_step(z, eps_hat, gamma_t, gamma_s, noise);
       }},
      {"ddim", [](const at::Tensor& z, const at::Tensor& eps_hat, const at::Tensor& gamma_t,
                  const at::Tensor& gamma_s,
                  at::Generator&) { return ddim_step(z, eps_hat, gamma_t, gamma_s); }},
  };
  return table;
}

Step find_sampler(const std::string& name) {
  for (const auto& [n, step] : samplers())
    if (n == name) return step;
  std::string names;
  for (const auto& n : sampler_names()) names += (names.empty() ? "" : ", ") + n;
  throw Error("vdm: " + option_ref("vdm", "sampler") + " '" + name + "' is unknown: use " + names);
}

}  // namespace

std::vector<std::string> sampler_names() {
  std::vector<std::string> names;
  for (const auto& [n, step] : samplers()) names.push_back(n);
  return names;
}

at::Tensor sample_loop(const std::string& sampler, const EpsFn& eps, const at::Tensor& gammas,
                       at::Tensor z, at::Generator& gen,
                       const std::function<void(int64_t, int64_t)>& on_step) {
  const Step step = find_sampler(sampler);
  const int64_t steps = gammas.size(0) - 1;
  if (steps < 1) throw Error("vdm: " + option_ref("vdm", "sample_steps") + " must be >= 1");
  const int64_t b = z.size(0);
  for (int64_t i = steps; i >= 1; --i) {
    auto gamma_t = gammas[i].expand({b}), gamma_s = gammas[i - 1].expand({b});
    z = step(z, eps(z, gamma_t), gamma_t, gamma_s, gen);
    if (on_step) on_step(steps - i + 1, steps);
  }
  return z;
}

}  // namespace deepgen::diffusion
