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

at::Tensor ScoreModel::ncsn_objective(const at::Tensor& x) {
  const NoiseScoreFn net = [this](const at::Tensor& y, const at::Tensor& s) { return score(y, s); };
  return ncsn_loss(net, x, sigmas_);
}

at::Tensor ScoreModel::dsm_objective(const at::Tensor& x) {
  return dsm_loss(at_sigma(options_.sigma()), x, options_.sigma());
}

at::Tensor ScoreModel::esm_kde_objective(const at::Tensor& x) {
  if (!kde_data_.defined())
    throw Error("score: " + option_ref("score", "method") +
                " esm-kde regresses on the score of a kernel density of the training set; call "
                "keep_training_data(training data) first (the run layer does)");
  if (kde_data_.device() != x.device()) kde_data_ = kde_data_.to(x.device());  // once
  return esm_kde_loss(at_sigma(options_.sigma()), x, kde_data_, options_.sigma());
}

// Sliced score matching on the data noised at σ (NCSN §3.1: noise makes it converge).
at::Tensor ScoreModel::ssm_objective(const at::Tensor& x) {
  const double sigma = options_.sigma();
  const at::Tensor noised = sigma > 0 ? x + sigma * at::randn_like(x) : x;
  return ssm_loss(at_sigma(sigma), noised, options_.ssm_slices());
}

// The methods by name, with the metric each logs: a new method is its objective and one row.
const std::vector<ScoreModel::Method>& ScoreModel::methods() {
  static const std::vector<Method> table{
      {"esm-kde", "esm_kde", &ScoreModel::esm_kde_objective},  // MATH 3.2a
      {"dsm", "dsm", &ScoreModel::dsm_objective},              // MATH 3.2d
      {"ssm", "ssm", &ScoreModel::ssm_objective},
      {"ncsn", "ncsn", &ScoreModel::ncsn_objective},
  };
  return table;
}

std::vector<std::string> method_names() {
  std::vector<std::string> names;
  for (const auto& m : ScoreModel::methods()) names.push_back(m.name);
  return names;
}

const ScoreModel::Method& ScoreModel::method() const {
  for (const auto& m : methods())
    if (m.name == options_.method()) return m;
  throw Error("score: " + option_ref("score", "method") + " '" + options_.method() +
              "' is unknown");
}

at::Tensor ScoreModel::method_loss(const at::Tensor& x) { return (this->*method().objective)(x); }

std::string ScoreModel::part_name() const { return method().part; }

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
