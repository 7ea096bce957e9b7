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

// The discretised logistic decoder gives probabilities to the 256 levels k/255 of each pixel;
// on points, or pixels off that grid (resized images), its bound would not be −log P(x) of
// anything the data hold.
void require_8bit_images(const data::Dataset& train) {
  const std::string name = train.name.substr(0, train.name.rfind('/'));
  const std::string fix = "use " + option_ref("vae", "likelihood") + " gaussian";
  if (train.kind != data::Kind::image)
    throw Error(option_ref("vae", "likelihood") + " logistic models 8-bit image pixels, but " +
                name + " holds points: " + fix);
  if (train.x.scalar_type() == at::kByte) return;  // 8-bit pixels: k / 255
  const at::Tensor levels = train.values() * 255;
  // float32 holds k/255 to ~6e-8 relative, so k itself comes back within 255·6e-8 ≈ 2e-5.
  const double off = (levels - levels.round()).abs().max().item<double>();
  if (off > 1e-3 || levels.min().item<double>() < 0 || levels.max().item<double>() > 255)
    throw Error(option_ref("vae", "likelihood") + " logistic models 8-bit pixels k/255, but " +
                name + " holds values off that grid (resized images?): keep the images' size (" +
                option_ref("data", "image_size") + " 0) or " + fix);
}

// Per-example q needs the training-set size; variational EM (MATH 1.2) takes the whole set
// every step, so the trainer's batch is that size.
std::vector<std::string> adapt(nlohmann::json& given, const data::Dataset& train,
                               train::TrainOptions& trainer) {
  const std::string inference = given.value("inference", VaeOptions().inference());
  const std::string likelihood = given.value("likelihood", "");
  if (likelihood == "bernoulli") require_unit_interval(train);
  if (likelihood == "logistic") require_8bit_images(train);
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

// A conditional VAE (Sohn et al. 2015) bounds the likelihood of x given its class y.
bool conditional(const nlohmann::json& o) { return o.value("conditional", false); }

// What −ELBO means depends on the decoder: a density for continuous data, a probability for
// binarised or 8-bit pixels; and on the labels: of x, or of x given its class y.
std::string explain(const nlohmann::json& o) {
  const bool c = conditional(o);
  const std::string bound =
      std::string("neg_elbo is −ELBO in nats per example, an upper bound on ") +
      (c ? "−log p(x|y), the test images' likelihood given their classes y (a conditional VAE, "
           "Sohn et al. 2015)"
         : "−log p(x)") +
      "; iwae_nll, when computed, is the tighter IWAE-k bound (MATH 1.4). ";
  const std::string given = c ? "|y)" : ")";
  const std::string likelihood = o.value("likelihood", "");
  if (likelihood == "bernoulli")
    return bound + "The Bernoulli decoder models binarised pixels, so these bound −log P(x" +
           given + " of the binarised images (the literature's binarised-MNIST NLL).";
  if (likelihood == "logistic")
    return bound +
           "The discretised logistic decoder gives each pixel's 256 levels probabilities, so "
           "these are upper bounds on −log P(x" +
           given +
           " of the 8-bit pixels, also given in bits/dim: "
           "bpd = neg_elbo / (D ln 2) and iwae_bpd = iwae_nll / (D ln 2), D pixels per image "
           "(8 bits/dim is a uniform guess), comparable with other 8-bit bounds such as a "
           "VDM's.";
  return bound +
         "The Gaussian decoder is a density on continuous pixels in [0, 1]: a density "
         "can exceed 1, so −log p(x" +
         given +
         " and this bound can be negative. It is not a probability of the 8-bit image and not "
         "comparable with bits/dim.";
}

// Which evaluation metrics are likelihoods, and of what (eval prints this beside them).
std::map<std::string, std::string> likelihoods(const nlohmann::json& o) {
  const std::string likelihood = o.value("likelihood", "");
  const std::string x = conditional(o) ? "x|y" : "x";
  const std::string of = likelihood == "logistic"    ? "-log P(" + x + ") of the 8-bit pixels"
                         : likelihood == "bernoulli" ? "-log P(" + x + ") of the binarised pixels"
                                                     : "-log p(" + x + "), a density";
  std::map<std::string, std::string> kinds{
      {"neg_elbo", "upper bound: the negative ELBO (MATH 1.4) on " + of + ", nats"},
      {"iwae_nll", "upper bound: the IWAE-k bound (MATH 1.4) on " + of + ", nats"}};
  if (likelihood == "logistic") {
    kinds["bpd"] = "upper bound: neg_elbo on -log2 P(" + x + ")/D";
    kinds["iwae_bpd"] = "upper bound: iwae_nll on -log2 P(" + x + ")/D";
  }
  return kinds;
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
    f.part_units = {{"sigma", "decoder σ, data units"},
                    {"kl_weight", "KL weight"},
                    {"bpd", "bits/dim"},
                    {"iwae_bpd", "bits/dim"}};
    f.explain = explain;
    f.likelihoods = likelihoods;
    return f;
  }();
  return family;
}

}  // namespace deepgen::vi
