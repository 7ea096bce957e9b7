// VdmOptions <-> JSON (a run's config.json) and validation.
#include <nlohmann/json.hpp>

#include "deepgen/core/error.h"
#include "deepgen/diffusion/model.h"
#include "deepgen/diffusion/sampler.h"

namespace deepgen::diffusion {

bool is_image(const VdmOptions& o) { return o.data_shape.size() == 3; }

void validate(const VdmOptions& o) {
  if (o.data_shape.empty()) throw Error("vdm: empty data shape");
  for (int64_t d : o.data_shape)
    if (d <= 0) throw Error("vdm: data shape entries must be positive");
  validate(o.schedule);
  validate(o.net);
  if (o.T < 0) throw Error("vdm: --T must be >= 0 (0: continuous time)");
  bool known = false;
  for (const auto& s : sampler_names()) known = known || s == o.sampler;
  if (!known) throw Error("vdm: unknown --sampler '" + o.sampler + "': use ancestral or ddim");
  if (o.sample_steps < 1) throw Error("vdm: --steps (sampling steps) must be >= 1");
  if (o.eval_samples < 1) throw Error("vdm: eval_samples must be >= 1");
  if (is_image(o) && o.net.architecture != "unet") throw Error("vdm: images need --arch unet");
  if (!is_image(o)) {
    if (o.net.architecture != "mlp") throw Error("vdm: points need --arch mlp");
    const size_t d = static_cast<size_t>(o.data_shape[0]);
    if ((!o.data_mean.empty() && o.data_mean.size() != d) ||
        (!o.data_std.empty() && o.data_std.size() != d))
      throw Error("vdm: data_mean / data_std need one entry per dimension (" + std::to_string(d) +
                  ")");
    for (double s : o.data_std)
      if (!(s > 0)) throw Error("vdm: data_std entries must be positive");
  }
}

std::string to_json(const VdmOptions& o) {
  const auto& n = o.net;
  nlohmann::json j{{"schedule", o.schedule.kind()},
                   {"gamma_min", o.schedule.gamma_min()},
                   {"gamma_max", o.schedule.gamma_max()},
                   {"schedule_hidden", o.schedule.hidden()},
                   {"variance_trick", o.variance_trick},
                   {"T", o.T},
                   {"antithetic", o.antithetic},
                   {"architecture", n.architecture},
                   {"channels", n.channels},
                   {"blocks", n.blocks},
                   {"attention", n.attention},
                   {"patch", n.patch},
                   {"fourier", n.fourier},
                   {"dropout", n.dropout},
                   {"hidden", n.hidden},
                   {"layers", n.layers},
                   {"sampler", o.sampler},
                   {"sample_steps", o.sample_steps},
                   {"eval_samples", o.eval_samples},
                   {"data_mean", o.data_mean},
                   {"data_std", o.data_std}};
  return j.dump();
}

VdmOptions vdm_options_from_json(const std::string& text, std::vector<int64_t> data_shape) {
  VdmOptions o;
  o.data_shape = std::move(data_shape);
  if (!is_image(o)) o.net.architecture = "mlp";
  try {
    const auto given = nlohmann::json::parse(text.empty() ? "{}" : text);
    auto j = nlohmann::json::parse(to_json(o));
    for (const auto& [key, value] : given.items()) {
      if (!j.contains(key))
        throw Error("vdm: unknown option '" + key + "' (known: see config.json of a vdm run)");
      j[key] = value;
    }
    o.schedule.kind(j["schedule"].get<std::string>());
    o.schedule.gamma_min(j["gamma_min"].get<double>());
    o.schedule.gamma_max(j["gamma_max"].get<double>());
    o.schedule.hidden(j["schedule_hidden"].get<int64_t>());
    o.variance_trick = j["variance_trick"].get<bool>();
    o.T = j["T"].get<int64_t>();
    o.antithetic = j["antithetic"].get<bool>();
    auto& n = o.net;
    n.architecture = j["architecture"].get<std::string>();
    n.channels = j["channels"].get<std::vector<int64_t>>();
    n.blocks = j["blocks"].get<int64_t>();
    n.attention = j["attention"].get<bool>();
    n.patch = j["patch"].get<int64_t>();
    n.fourier = j["fourier"].get<std::vector<int64_t>>();
    n.dropout = j["dropout"].get<double>();
    // --hidden is a list for the VAE; the VDM's MLP has one width.
    const auto& h = j["hidden"];
    if (h.is_array() && h.size() != 1)
      throw Error("vdm: --hidden takes one width (the MLP's blocks are residual)");
    n.hidden = (h.is_array() ? h[0] : h).get<int64_t>();
    n.layers = j["layers"].get<int64_t>();
    o.sampler = j["sampler"].get<std::string>();
    o.sample_steps = j["sample_steps"].get<int64_t>();
    o.eval_samples = j["eval_samples"].get<int64_t>();
    o.data_mean = j["data_mean"].get<std::vector<double>>();
    o.data_std = j["data_std"].get<std::vector<double>>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("vdm options: ") + e.what());
  }
  o.net.data_shape = o.data_shape;
  o.net.gamma_min = o.schedule.gamma_min();
  o.net.gamma_max = o.schedule.gamma_max();
  validate(o);
  return o;
}

}  // namespace deepgen::diffusion
