// The variational diffusion model described once for the run layer and the CLI.
#include "deepgen/diffusion/family.h"

#include "deepgen/diffusion/sampler.h"

namespace deepgen::diffusion {

namespace {

// Images sample with SDE-DPM-Solver++(2M) at 50 steps: on MNIST it matches or beats 1000
// ancestral steps at a twentieth of the cost (docs/results.md, "The stochastic solver"); points
// keep 1000 ancestral steps, which is what their tests and figures measured.
VdmOptions base(const train::Shape& shape) {
  VdmOptions o;
  o.data_shape = shape;
  if (is_image(o)) {
    o.sampler = "dpmpp2m-sde";
    o.sample_steps = 50;
  } else {
    o.net.architecture = "mlp";
  }
  return o;
}

// Points are standardised inside the VDM (its schedule assumes data of about unit scale); the
// statistics come from the training set and are recorded in config.json.
std::vector<std::string> adapt(nlohmann::json& given, const data::Dataset& train,
                               train::TrainOptions&) {
  if (train.kind != data::Kind::points || given.contains("data_mean")) return {};
  auto values = [](const at::Tensor& t) {
    const at::Tensor d = t.to(torch::kDouble).contiguous();
    return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
  };
  const at::Tensor x = train.values();
  given["data_mean"] = values(x.mean(0));
  given["data_std"] = values(x.std(0).clamp_min(1e-6));
  return {};
}

}  // namespace

const train::Family& vdm_family() {
  static const train::Family family = [] {
    train::Family f = train::describe<VdmOptions>(
        "vdm",
        "Variational diffusion model (MATH Part 2): the ELBO in bits/dim, learned γ schedules",
        "bits per dimension (bpd: the negative ELBO / (D ln 2))", vdm_option_table(), base,
        [](const VdmOptions& o) { validate(o); },
        [](VdmOptions o) { return std::make_unique<VdmModel>(std::move(o)); });
    f.adapt = adapt;
    f.unit = "bits/dim";
    // A conditional model's bound is on −log p(x|y), y the example's class (issue 15).
    f.explain = [](const nlohmann::json& o) {
      const std::string p = o.value("conditional", false) ? "P(x|y), y its class," : "P(x)";
      return "bpd is the negative ELBO (MATH 2h) per dimension in bits: an upper bound on "
             "−log₂ " +
             p +
             " / D (of the discrete pixels, for 8-bit images): diffusion + reconstruction + "
             "prior terms, whatever weighting the training used.";
    };
    f.likelihoods = [](const nlohmann::json& o) {
      const std::string elbo = "upper bound: the negative ELBO (MATH 2h) on -log2 ";
      if (!o.value("conditional", false))
        return std::map<std::string, std::string>{{"bpd", elbo + "p(x)/D"}};
      std::map<std::string, std::string> out{{"bpd", elbo + "p(x|y)/D, y the example's class"}};
      if (o.value("label_dropout", 0.0) > 0)
        out["bpd_unconditional"] = elbo + "p(x)/D, the null class of label dropout";
      return out;
    };
    f.sampling = [](const nlohmann::json& o) {
      const std::string sampler = o.at("sampler");
      const int64_t steps = o.at("sample_steps");
      return nlohmann::json{{"sampler", sampler},
                            {"steps", steps},
                            {"grid", o.value("sample_grid", "t")},  // runs before the option: t
                            {"nfe", sampler_nfe(sampler, steps)}};
    };
    return f;
  }();
  return family;
}

}  // namespace deepgen::diffusion
