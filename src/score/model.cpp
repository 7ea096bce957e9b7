// ScoreModel: score networks behind the shared trainer and the CLI (losses, evaluation, samples).
#include "deepgen/score/model.h"

#include "deepgen/core/error.h"
#include "deepgen/score/losses.h"
#include "deepgen/score/net.h"

namespace deepgen::score {

namespace {

bool is_image(const std::vector<int64_t>& shape) { return shape.size() == 3; }

torch::nn::AnyModule make_net(const ScoreOptions& o) {
  const auto& shape = o.data_shape();
  if (is_image(shape)) return torch::nn::AnyModule(ScoreUNet(shape, o.channels()));
  return torch::nn::AnyModule(ScoreMLP(shape[0], o.hidden(), o.activation()));
}

}  // namespace

ScoreModel::ScoreModel(ScoreOptions options) : options_(std::move(options)) {
  validate(options_);
  sigmas_ =
      options_.method() == "ncsn"
          ? geometric_sigmas(options_.sigma_begin(), options_.sigma_end(), options_.num_sigmas())
          : std::vector<double>{options_.sigma()};
  net_ = make_net(options_);
}

at::Tensor ScoreModel::score(const at::Tensor& x, const at::Tensor& sigma) {
  return net_.forward(x, sigma);
}

// The single-σ methods condition the network on their one σ (1 for ssm on clean data, where
// σ only sets the network's fixed input and output scale).
ScoreFn ScoreModel::at_sigma(double sigma) {
  const double s = sigma > 0 ? sigma : 1.0;
  return [this, s](const at::Tensor& x) { return score(x, at::full({x.size(0)}, s, x.options())); };
}

at::Tensor ScoreModel::method_loss(const at::Tensor& x) {
  const auto& o = options_;
  if (o.method() == "ncsn") {
    const NoiseScoreFn net = [this](const at::Tensor& y, const at::Tensor& s) {
      return score(y, s);
    };
    return ncsn_loss(net, x, sigmas_);
  }
  if (o.method() == "dsm") return dsm_loss(at_sigma(o.sigma()), x, o.sigma());
  if (o.method() == "esm-kde") {
    if (!kde_data_.defined())
      throw Error("score: " + option_ref("score", "method") +
                  " esm-kde regresses on the score of a kernel density of the training set; call "
                  "keep_training_data(training data) first (the run layer does)");
    if (kde_data_.device() != x.device()) kde_data_ = kde_data_.to(x.device());  // once
    return esm_kde_loss(at_sigma(o.sigma()), x, kde_data_, o.sigma());
  }
  // ssm: sliced score matching on the data noised at σ (NCSN §3.1: noise makes it converge).
  const at::Tensor noised = o.sigma() > 0 ? x + o.sigma() * at::randn_like(x) : x;
  return ssm_loss(at_sigma(o.sigma()), noised, o.ssm_slices());
}

// Metric name of the method's loss: esm_kde, dsm, ssm or ncsn.
std::string ScoreModel::part_name() const {
  return options_.method() == "esm-kde" ? "esm_kde" : options_.method();
}

train::LossOutput ScoreModel::loss(const at::Tensor& x) {
  at::Tensor l = method_loss(x);
  return {l, {{part_name(), l.detach()}}};
}

train::LossOutput ScoreModel::evaluate(const at::Tensor& x) {
  if (options_.method() != "ncsn") {
    at::Tensor l = method_loss(x).detach();
    return {l, {{part_name(), l}}};
  }
  const NoiseScoreFn net = [this](const at::Tensor& y, const at::Tensor& s) { return score(y, s); };
  const at::Tensor levels = ncsn_level_losses(net, x, sigmas_).detach();
  const at::Tensor mean = levels.mean();
  return {mean, {{"ncsn", mean}, {"ncsn_sigma_max", levels[0]}, {"ncsn_sigma_min", levels[-1]}}};
}

at::Tensor ScoreModel::sample(int64_t n) {
  torch::NoGradGuard no_grad;
  const auto& o = options_;
  const at::Tensor any = net_.ptr()->parameters().front();
  std::vector<int64_t> shape{n};
  shape.insert(shape.end(), o.data_shape().begin(), o.data_shape().end());
  const bool image = is_image(o.data_shape());
  at::Tensor x = at::rand(shape, any.options());
  if (!image) x = (2 * x - 1) * o.init_box();
  if (o.method() == "ncsn") {
    const NoiseScoreFn net = [this](const at::Tensor& y, const at::Tensor& s) {
      return score(y, s);
    };
    x = annealed_langevin(x, net, sigmas_, o.steps_per_level(), o.sample_eps(), c10::nullopt,
                          o.final_denoise(), progress_);
  } else {
    const ScoreFn net = at_sigma(o.sigma());
    x = langevin(x, net, o.step_size(), o.langevin_steps(), c10::nullopt, progress_);
    if (o.final_denoise() && o.sigma() > 0) x = x + o.sigma() * o.sigma() * net(x);
  }
  return image ? x.clamp(0, 1) : x;
}

}  // namespace deepgen::score
