// ScoreModel: score networks behind the shared trainer and the CLI (losses, evaluation, samples).
#include "deepgen/score/model.h"

#include <cmath>

#include "deepgen/core/error.h"
#include "deepgen/core/precision.h"
#include "deepgen/ode/likelihood.h"
#include "deepgen/score/losses.h"
#include "deepgen/score/net.h"
#include "deepgen/score/sde.h"

namespace deepgen::score {

namespace {

bool is_image(const std::vector<int64_t>& shape) { return shape.size() == 3; }

// The start box's centre: 1/2 for images in [0, 1], 0 for points.
double box_centre(const std::vector<int64_t>& shape) { return is_image(shape) ? 0.5 : 0.0; }

torch::nn::AnyModule make_net(const ScoreOptions& o) {
  const auto& shape = o.data_shape();
  if (!is_image(shape)) return torch::nn::AnyModule(ScoreMLP(shape[0], o.hidden(), o.activation()));
  if (o.architecture() == "small-unet")
    return torch::nn::AnyModule(ScoreUNet(shape, o.unet().channels));
  // The embedding spans the ladder's σ (ncsn), else the one σ the method trains at.
  const bool ladder = o.method() == "ncsn";
  const double sigma = o.sigma() > 0 ? o.sigma() : 1.0;
  return torch::nn::AnyModule(ScoreEpsUNet(image_unet(o), ladder ? o.sigma_end() : sigma,
                                           ladder ? o.sigma_begin() : sigma));
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
  if (classes() == 0)
    return autocast_forward(x.scalar_type(), [&] { return net_.forward(x, sigma); });
  const nn::ConditionalNet net = [this](const at::Tensor& x_, const at::Tensor& s,
                                        const at::Tensor& y) { return net_.forward(x_, s, y); };
  return autocast_forward(x.scalar_type(),
                          [&] { return nn::guided(net, x, sigma, labels_, guidance_, classes()); });
}

train::LossOutput ScoreModel::train_loss(const train::TrainBatch& batch) {
  const auto& c = options_.condition();
  ConditionScope scope(
      *this,
      c.classes > 0 ? nn::drop_labels(batch.labels, c.label_dropout, c.classes) : at::Tensor(),
      0.0);
  return loss(batch.x);
}

train::LossOutput ScoreModel::test_loss(const train::TrainBatch& batch) {
  ConditionScope scope(*this, classes() > 0 ? batch.labels : at::Tensor(), 0.0);
  return evaluate(batch.x);
}

// The single-σ methods condition the network on their one σ (1 for ssm on clean data, where
// σ only sets the network's fixed input and output scale).
ScoreFn ScoreModel::at_sigma(double sigma) {
  const double s = sigma > 0 ? sigma : 1.0;
  return [this, s](const at::Tensor& x) { return score(x, at::full({x.size(0)}, s, x.options())); };
}

NoiseScoreFn ScoreModel::noise_score() {
  return [this](const at::Tensor& y, const at::Tensor& s) { return score(y, s); };
}

at::Tensor ScoreModel::ncsn_objective(const at::Tensor& x) {
  return ncsn_loss(noise_score(), x, sigmas_);
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

// The mean over a geometric ladder is a mean over log σ, so an even subset of it is a quadrature
// of the same mean at a fraction of the cost: every test image visits each chosen level, and all
// 95 made the end-of-training evaluation of an image run take longer than the training itself.
std::vector<double> evaluation_sigmas(const std::vector<double>& sigmas) {
  constexpr size_t kMaxLevels = 10;
  if (sigmas.size() <= kMaxLevels) return sigmas;
  std::vector<double> out;
  const double stride = static_cast<double>(sigmas.size() - 1) / (kMaxLevels - 1);
  for (size_t i = 0; i < kMaxLevels; ++i)
    out.push_back(sigmas[static_cast<size_t>(std::lround(stride * static_cast<double>(i)))]);
  return out;
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
  const at::Tensor levels =
      ncsn_level_losses(noise_score(), x, evaluation_sigmas(sigmas_)).detach();
  const at::Tensor mean = levels.mean();
  return {mean, {{"ncsn", mean}, {"ncsn_sigma_max", levels[0]}, {"ncsn_sigma_min", levels[-1]}}};
}

std::vector<int64_t> ScoreModel::sample_shape(int64_t n) const {
  std::vector<int64_t> shape{n};
  shape.insert(shape.end(), options_.data_shape().begin(), options_.data_shape().end());
  return shape;
}

at::Tensor ScoreModel::box_start(int64_t n) {
  const at::Tensor any = net_.ptr()->parameters().front();
  const at::Tensor u = at::rand(sample_shape(n), any.options());
  return is_image(options_.data_shape()) ? u : (2 * u - 1) * options_.init_box();
}

// The VE SDE's prior: p_σ1 is the data convolved with N(0, σ_1²I), which for σ_1 of the data's
// span is close to N(c, σ_1²I) (Song et al. 2021 start from N(0, σ_max²I)). The ODE maps its
// start deterministically, so it must start from p_σ1, not from the annealed sampler's box.
at::Tensor ScoreModel::prior_start(int64_t n) {
  const at::Tensor any = net_.ptr()->parameters().front();
  const at::Tensor z = at::randn(sample_shape(n), any.options());
  return box_centre(options_.data_shape()) + sigmas_.front() * z;
}

std::string ScoreModel::probability_flow_blocker() const {
  if (options_.method() == "ncsn") return {};
  return option_ref("score", "method") + " " + options_.method() +
         " learns the score at one noise level; a probability-flow ODE needs the "
         "noise-conditional network of " +
         option_ref("score", "method") + " ncsn";
}

// BEYOND B4: the VE SDE dx = √(dσ²/dt) dw has the ODE dx/dt = −½ (dσ²/dt) s = −σσ′ s, and on the
// geometric σ(t) = σ_L r^t (r = σ_1/σ_L) σ′ = σ log r. The network embeds log σ, so it takes the
// continuous σ between its ladder's levels, as the pc and ode samplers already rely on.
train::ProbabilityFlow ScoreModel::probability_flow(const at::Tensor& labels, double t0) {
  if (!probability_flow_blocker().empty()) throw Error(probability_flow_blocker());
  if (t0 != 0.0)
    throw Error(
        "a score model's flow starts at its smallest noise level σ_L; a later start (t0 = " +
        c10::str(t0) + ") needs a bound on the part below it, which only a vdm has");
  const double lo = sigmas_.back(), hi = sigmas_.front(), log_r = std::log(hi / lo);
  train::ProbabilityFlow flow;
  flow.drift = [this, lo, log_r, labels](const at::Tensor& x, double t) {
    const double sigma = lo * std::exp(log_r * t);
    const ConditionScope condition(*this, labels, 0.0);
    return ve_flow_drift(score(x, torch::full({x.size(0)}, sigma, x.options())), sigma, log_r);
  };
  flow.to_state = [](const at::Tensor& x) { return x; };
  const double centre = box_centre(options_.data_shape());
  flow.prior_log_prob = [hi, centre](const at::Tensor& x) {
    return ode::isotropic_normal_log_prob(x, centre, hi * hi);
  };
  return flow;
}

// The network embeds log σ (net.h), so it takes any σ between the ladder's levels: it was
// trained at the L levels only and interpolates in log σ between them, which a grid finer than
// the ladder (sigma_steps > L − 1) relies on. The grid is geometric, uniform in B4's t.
std::vector<double> ScoreModel::sigma_grid() const {
  return geometric_sigmas(sigmas_.front(), sigmas_.back(), options_.sigma_steps() + 1);
}

at::Tensor ScoreModel::annealed_samples(int64_t n) {
  const auto& o = options_;
  const at::Tensor x = box_start(n);
  if (o.method() == "ncsn")
    return annealed_langevin(x, noise_score(), sigmas_, o.steps_per_level(), o.sample_eps(),
                             c10::nullopt, o.final_denoise(), progress_);
  const ScoreFn net = at_sigma(o.sigma());
  const at::Tensor y = langevin(x, net, o.step_size(), o.langevin_steps(), c10::nullopt, progress_);
  return o.final_denoise() && o.sigma() > 0 ? y + o.sigma() * o.sigma() * net(y) : y;
}

at::Tensor ScoreModel::pc_samples(int64_t n) {
  const auto& o = options_;
  return pc_sampler(prior_start(n), noise_score(), sigma_grid(), o.corrector_steps(), o.snr(),
                    c10::nullopt, o.final_denoise(), progress_, o.predictor());
}

at::Tensor ScoreModel::ode_samples(int64_t n) {
  const auto& o = options_;
  return probability_flow_ode(prior_start(n), noise_score(), sigma_grid(), o.ode_solver(),
                              o.final_denoise(), progress_);
}

// The samplers by name: a new sampler is its draw function and one row here.
const std::vector<ScoreModel::Sampler>& ScoreModel::samplers() {
  static const std::vector<Sampler> table{
      {"annealed", &ScoreModel::annealed_samples},  // Song & Ermon 2019, Alg. 1
      {"pc", &ScoreModel::pc_samples},              // Song et al. 2021, Alg. 2
      {"ode", &ScoreModel::ode_samples},            // Song et al. 2021 eq. 13; Karras Alg. 1
  };
  return table;
}

std::vector<std::string> sampler_names() {
  std::vector<std::string> names;
  for (const auto& s : ScoreModel::samplers()) names.push_back(s.name);
  return names;
}

at::Tensor ScoreModel::sample(int64_t n) {
  if (classes() > 0) {
    const at::Tensor any = net_.ptr()->parameters().front();
    return sample_classes(nn::uniform_labels(n, classes(), any.device()),
                          options_.condition().guidance);
  }
  return draw(n);
}

at::Tensor ScoreModel::sample_classes(const at::Tensor& labels, double guidance) {
  if (classes() == 0) return GenerativeModel::sample_classes(labels, guidance);
  nn::Conditioning c = options_.condition();
  c.guidance = guidance;
  nn::validate(c, "score");
  nn::check_labels(labels, c.classes);
  ConditionScope scope(*this, labels, guidance);
  return draw(labels.size(0));
}

at::Tensor ScoreModel::draw(int64_t n) {
  torch::NoGradGuard no_grad;
  for (const auto& s : samplers())
    if (s.name == options_.sampler()) {
      const at::Tensor x = (this->*s.draw)(n);
      return is_image(options_.data_shape()) ? x.clamp(0, 1) : x;
    }
  throw Error("score: " + option_ref("score", "sampler") + " '" + options_.sampler() +
              "' is unknown");
}

}  // namespace deepgen::score
