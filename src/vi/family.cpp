// The VAE described once for the run layer and the CLI.
#include "deepgen/vi/family.h"

#include "deepgen/core/error.h"

namespace deepgen::vi {

namespace {

// Points are unbounded: no sigmoid on the decoder's mean.
VaeOptions base(const train::Shape& shape) {
  VaeOptions o(shape);
  if (shape.size() != 3) o.mean_activation("identity");
  return o;
}

// A Bernoulli decoder models values in [0, 1] (pixels, binarised or not); on anything else its
// likelihood is meaningless and the loss silently garbage.
void require_unit_interval(const data::Dataset& train) {
  if (train.x.scalar_type() == at::kByte) return;  // 8-bit pixels: k / 255
  const at::Tensor x = train.values();
  const double lo = x.min().item<double>(), hi = x.max().item<double>();
  if (lo < 0 || hi > 1)
    throw Error(option_ref("vae", "likelihood") + " bernoulli models values in [0, 1], but " +
                train.name.substr(0, train.name.rfind('/')) + " holds values in [" + c10::str(lo) +
                ", " + c10::str(hi) + "]: use " + option_ref("vae", "likelihood") + " gaussian");
}

// Per-example q needs the training-set size; variational EM (MATH 1.2) takes the whole set
// every step, so the trainer's batch is that size.
std::vector<std::string> adapt(nlohmann::json& given, const data::Dataset& train,
                               train::TrainOptions& trainer) {
  const std::string inference = given.value("inference", VaeOptions().inference());
  if (given.value("likelihood", "") == "bernoulli") require_unit_interval(train);
  std::vector<std::string> notes;
  if (inference != "amortized") given["num_points"] = train.size();
  if (inference == "full" && trainer.batch != train.size()) {
    trainer.batch = train.size();
    notes.push_back("vae: " + option_ref("vae", "inference") +
                    " full fits every example's q at every step (variational EM): " +
                    option_ref("train", "batch") + " is the training-set size, " +
                    std::to_string(train.size()));
  }
  return notes;
}

// What −ELBO means depends on the decoder: a density for continuous data, a probability for
// binarised pixels.
std::string explain(const nlohmann::json& o) {
  const std::string bound =
      "neg_elbo is −ELBO in nats per example, an upper bound on −log p(x); iwae_nll, when "
      "computed, is the tighter IWAE-k bound (MATH 1.4). ";
  if (o.value("likelihood", "") == "bernoulli")
    return bound +
           "The Bernoulli decoder models binarised pixels, so these bound −log P(x) of "
           "the binarised images (the literature's binarised-MNIST NLL).";
  return bound +
         "The Gaussian decoder is a density on continuous pixels in [0, 1]: a density "
         "can exceed 1, so −log p(x) and this bound can be negative. It is not a "
         "probability of the 8-bit image and not comparable with bits/dim.";
}

}  // namespace

const train::Family& vae_family() {
  static const train::Family family = [] {
    train::Family f = train::describe<VaeOptions>(
        "vae", "Variational autoencoder (MATH 1.4): encoder or per-example q, ELBO or IWAE",
        "nats per example", vae_option_table(), base, [](const VaeOptions& o) { validate(o); },
        [](VaeOptions o) { return std::make_unique<VaeModel>(std::move(o)); });
    f.adapt = adapt;
    f.unit = "nats";
    f.part_units = {{"sigma", "decoder σ, data units"}, {"kl_weight", "KL weight"}};
    f.explain = explain;
    return f;
  }();
  return family;
}

}  // namespace deepgen::vi
