#include "deepgen/vi/vae.h"

#include "deepgen/core/error.h"
#include "deepgen/core/precision.h"
#include "deepgen/nn/conv.h"
#include "deepgen/nn/mlp.h"
#include "deepgen/vi/gaussian.h"

namespace deepgen::vi {

namespace {

constexpr double kMinLogSigma = -6.9;  // σ ≥ 1e-3: a learned σ → 0 would make the bound diverge
// PixelCNN++'s floor log s ≥ −7 on its [−1, 1] pixel scale is s ≥ e^-7/2 on our [0, 1] one, the
// same relative to the bins. A probability cannot diverge, so the floor is for the gradients
// (∝ 1/s); it caps an inner level's P(k) at σ(4.3) − σ(−4.3) ≈ 0.97, a 0.04-bit cost.
constexpr double kMinLogScale = -7.0 - 0.6931471805599453;

bool conv(const VaeOptions& o) { return o.architecture() == "conv"; }
bool logistic(const VaeOptions& o) { return o.likelihood() == "logistic"; }

// One example of the decoder's output: the data's shape, with twice the channels (means, then
// log-scales) for the logistic decoder.
std::vector<int64_t> decoder_shape(const VaeOptions& o) {
  std::vector<int64_t> shape = o.data_shape();
  if (logistic(o)) shape[0] *= 2;
  return shape;
}

// The size of z, or of h1 with `latents`: what the encoder outputs and the decoder takes.
int64_t bottom(const VaeOptions& o) { return latent_sizes(o).front(); }

// A conditional model's encoder and decoder take onehot(y) as `classes` more inputs (Sohn et
// al. 2015): more channels of the image, or more entries of the flat input.
torch::nn::AnyModule make_encoder(const VaeOptions& o, int64_t dim) {
  const int64_t classes = o.condition().classes;
  if (conv(o)) {
    std::vector<int64_t> image = o.data_shape();
    image[0] += classes;
    return torch::nn::AnyModule(nn::ConvEncoder(nn::ConvOptions(image, 2 * bottom(o))
                                                    .channels(o.conv_channels())
                                                    .activation(o.activation())));
  }
  return torch::nn::AnyModule(
      nn::MLP(nn::MLPOptions(dim + classes, o.hidden(), 2 * bottom(o)).activation(o.activation())));
}

torch::nn::AnyModule make_decoder(const VaeOptions& o) {
  const int64_t in = bottom(o) + o.condition().classes;
  if (conv(o))
    return torch::nn::AnyModule(nn::ConvDecoder(nn::ConvOptions(decoder_shape(o), in)
                                                    .channels(o.conv_channels())
                                                    .activation(o.activation())));
  std::vector<int64_t> reversed(o.hidden().rbegin(), o.hidden().rend());
  const int64_t out = c10::multiply_integers(decoder_shape(o));
  return torch::nn::AnyModule(
      nn::MLP(nn::MLPOptions(in, reversed, out).activation(o.activation())));
}

// A diagonal Gaussian between stochastic layers: an MLP from one layer to (mu, log σ²) of the
// other.
nn::MLP make_conditional(const VaeOptions& o, int64_t in, std::vector<int64_t> hidden,
                         int64_t out) {
  return nn::MLP(nn::MLPOptions(in, std::move(hidden), 2 * out).activation(o.activation()));
}

// k draws z = mu + σ·eps, flattened to (k·B, latent).
at::Tensor draw_latents(const at::Tensor& mu, const at::Tensor& logvar, int64_t k) {
  const at::Tensor eps = torch::randn({k, mu.size(0), mu.size(1)}, mu.options());
  return reparameterize(mu, logvar, eps).reshape({k * mu.size(0), mu.size(1)});
}

// x repeated k times along a new leading dim, flattened to (k·B, ...); undefined stays so.
at::Tensor repeat_k(const at::Tensor& x, int64_t k) {
  if (!x.defined()) return x;
  std::vector<int64_t> shape = x.sizes().vec();
  shape.insert(shape.begin(), k);
  at::Tensor r = x.unsqueeze(0).expand(shape);
  shape.erase(shape.begin());
  shape[0] *= k;
  return r.reshape(shape);
}

}  // namespace

VaeImpl::VaeImpl(VaeOptions options) : options_(std::move(options)) {
  validate(options_);
  dim_ = c10::multiply_integers(options_.data_shape());
  if (amortized()) {
    encoder_ = make_encoder(options_, dim_);
    register_module("encoder", encoder_.ptr());
  } else {
    local_ = register_module("local", LocalPosteriors(options_.num_points(), options_.latent()));
  }
  decoder_ = make_decoder(options_);
  register_module("decoder", decoder_.ptr());
  // Only with `latents`, so that a one-layer model keeps its parameters and checkpoint layout.
  const std::vector<int64_t> sizes = latent_sizes(options_);
  if (sizes.size() > 1) {
    const std::vector<int64_t>& up = options_.hidden2();
    const std::vector<int64_t> down(up.rbegin(), up.rend());
    for (size_t l = 0; l + 1 < sizes.size(); ++l) {
      upper_q_->push_back(make_conditional(options_, sizes[l], up, sizes[l + 1]));
      upper_p_->push_back(make_conditional(options_, sizes[l + 1], down, sizes[l]));
    }
    register_module("upper_q", upper_q_);
    register_module("upper_p", upper_p_);
  }
  // The logistic decoder has its own per-pixel scales: a learned σ would get no gradient. (The
  // Bernoulli decoder keeps its unused parameter so that its checkpoints keep their layout.)
  const bool learned = options_.sigma() == 0.0 && !logistic(options_);
  const double sigma = options_.sigma() > 0.0 ? options_.sigma() : options_.sigma_init();
  at::Tensor init = torch::full({1}, std::log(sigma), torch::kFloat);
  log_sigma_ = learned ? register_parameter("log_sigma", init) : register_buffer("log_sigma", init);
}

at::Tensor VaeImpl::with_labels(const at::Tensor& in, const at::Tensor& labels) const {
  if (classes() == 0) return in;
  const int64_t b = in.size(0);
  if (!labels.defined() || labels.dim() != 1 || labels.size(0) != b)
    throw Error("vae: this conditional vae (q(z|x,y), p(x|z,y)) needs the class of each of its " +
                std::to_string(b) + " inputs, " +
                (labels.defined() ? "got " + std::to_string(labels.numel()) : "got none") +
                ": pass the labels (test_loss, sample_classes)");
  const at::Tensor y = torch::one_hot(labels, classes()).to(in.scalar_type());
  if (in.dim() != 4) return torch::cat({in, y}, 1);
  return torch::cat(
      {in, y.view({b, classes(), 1, 1}).expand({b, classes(), in.size(2), in.size(3)})}, 1);
}

std::pair<at::Tensor, at::Tensor> VaeImpl::encode(const at::Tensor& x, const at::Tensor& labels) {
  if (!amortized())
    throw Error("vae: a model trained with " + option_ref("vae", "inference") + " " +
                options_.inference() + " has no encoder; its q is fitted per example");
  const at::Tensor in = with_labels(conv(options_) ? x : x.reshape({x.size(0), dim_}), labels);
  auto h = autocast_forward(x.scalar_type(), [&] { return encoder_.forward(in); }).chunk(2, 1);
  return {h[0], h[1]};
}

std::pair<at::Tensor, at::Tensor> VaeImpl::posterior(const at::Tensor& x, const at::Tensor& index,
                                                     const at::Tensor& labels) {
  return amortized() ? encode(x, labels) : local_->gather(index);
}

at::Tensor VaeImpl::decode(const at::Tensor& z, const at::Tensor& labels) {
  std::vector<int64_t> shape = decoder_shape(options_);
  shape.insert(shape.begin(), z.size(0));
  const at::Tensor in = with_labels(z, labels);
  at::Tensor out =
      autocast_forward(z.scalar_type(), [&] { return decoder_.forward(in); }).reshape(shape);
  if (options_.likelihood() == "gaussian")
    return options_.mean_activation() == "sigmoid" ? torch::sigmoid(out) : out;
  if (!logistic(options_)) return out;
  // The logistic's μ stays unconstrained, as in PixelCNN++: the open edge bins take the mass
  // beyond [0, 1], and a sigmoid would only slow the approach to P(0) ≈ 1 on black backgrounds
  // (MNIST, 300 steps: 2.47 bits/dim with a sigmoid, 1.72 without).
  auto [m, log_scale] = split_logistic(out);
  return torch::cat({m, log_scale.clamp_min(kMinLogScale)}, 1);
}

at::Tensor VaeImpl::log_sigma() const { return log_sigma_.clamp_min(kMinLogSigma); }

at::Tensor VaeImpl::mean_image(const at::Tensor& decoded) const {
  if (options_.likelihood() == "bernoulli") return torch::sigmoid(decoded);
  return logistic(options_) ? split_logistic(decoded).first.clamp(0.0, 1.0) : decoded;
}

at::Tensor VaeImpl::log_likelihood(const at::Tensor& x, const at::Tensor& decoded,
                                   const at::Tensor& known) {
  at::Tensor ll;
  if (options_.likelihood() == "bernoulli") {
    ll = bernoulli_log_prob(x, decoded);
  } else if (logistic(options_)) {
    auto [m, log_scale] = split_logistic(decoded);
    ll = discretized_logistic_log_prob(x, m, log_scale);
  } else {
    ll = gaussian_log_prob(x, decoded, 2.0 * log_sigma());
  }
  if (known.defined()) ll = ll * known.to(ll.dtype());
  return ll.reshape({x.size(0), dim_}).sum(1);
}

at::Tensor VaeImpl::log_likelihood_draws(const at::Tensor& x, const at::Tensor& f) {
  // x (B, D) broadcasts over the k draws of f (k, B, D) instead of being copied k times.
  const at::Tensor xb = x.reshape({x.size(0), dim_});
  if (options_.likelihood() == "bernoulli") return bernoulli_log_prob(xb, f).sum(-1);
  if (logistic(options_)) {
    // Flattened channels-first, each row holds its D means and then its D log-scales.
    auto [m, log_scale] = split_logistic(f, -1);
    return discretized_logistic_log_prob(xb, m, log_scale).sum(-1);
  }
  // Σ_d log N(x_d; f_d, σ²) = −½[D(log 2π + log σ²) + ‖x − f‖²/σ²] with the one shared σ:
  // only x − f and its square are full-size, where the elementwise form makes four more.
  const at::Tensor lv = 2.0 * log_sigma(), sq = (f - xb).pow(2).sum(-1);
  return -0.5 * (static_cast<double>(dim_) * (kLog2Pi + lv) + sq * (-lv).exp());
}

std::pair<at::Tensor, at::Tensor> VaeImpl::upper_posterior(int64_t l, const at::Tensor& h) {
  auto out = autocast_forward(h.scalar_type(), [&] {
               return upper_q_[l]->as<nn::MLP>()->forward(h);
             }).chunk(2, 1);
  return {out[0], out[1]};
}

std::pair<at::Tensor, at::Tensor> VaeImpl::upper_prior(int64_t l, const at::Tensor& h) {
  auto out = autocast_forward(h.scalar_type(), [&] {
               return upper_p_[l]->as<nn::MLP>()->forward(h);
             }).chunk(2, 1);
  return {out[0], out[1]};
}

// log p(hL) + Σ_l [log p(h_l|h_{l+1}) − log q(h_{l+1}|h_l)]: MATH 1.4's log p(z) with several
// stochastic layers (Burda et al. 2016 §5), over the part of q above h1.
at::Tensor VaeImpl::log_prior_over_upper_q(const at::Tensor& h1) {
  at::Tensor h = h1, ratio;
  for (int64_t l = 0; l + 1 < depth(); ++l) {
    auto [mu, logvar] = upper_posterior(l, h);
    const at::Tensor next = reparameterize(mu, logvar, torch::randn_like(mu));
    auto [p_mu, p_logvar] = upper_prior(l, next);
    const at::Tensor term =
        gaussian_log_prob(h, p_mu, p_logvar).sum(-1) - gaussian_log_prob(next, mu, logvar).sum(-1);
    ratio = ratio.defined() ? ratio + term : term;
    h = next;
  }
  const at::Tensor zero = torch::zeros({}, h.options());
  const at::Tensor top = gaussian_log_prob(h, zero, zero).sum(-1);
  return ratio.defined() ? top + ratio : top;
}

at::Tensor VaeImpl::sample_prior(int64_t n) {
  at::Tensor h = torch::randn({n, latent_sizes(options_).back()}, log_sigma().options());
  for (int64_t l = depth() - 2; l >= 0; --l) {
    auto [mu, logvar] = upper_prior(l, h);
    h = reparameterize(mu, logvar, torch::randn_like(mu));
  }
  return h;
}

// With labels, every term is conditioned on y: −ELBO(x|y) = −E_q(z|x,y)[log p(x|z,y)] +
// KL(q(z|x,y) || p(z)) ≥ −log p(x|y), the CVAE bound of Sohn et al. 2015 (their x and y
// swapped: here y is the class) with the prior p(z|y) = p(z) = N(0, I).
NegElbo VaeImpl::negative_elbo(const at::Tensor& x, const at::Tensor& eps,
                               const at::Tensor& labels) {
  auto [mu, logvar] = encode(x, labels);
  at::Tensor z = reparameterize(mu, logvar, eps.defined() ? eps : torch::randn_like(mu));
  if (depth() > 1)
    return {-log_likelihood(x, decode(z, labels)),
            gaussian_log_prob(z, mu, logvar).sum(1) - log_prior_over_upper_q(z)};
  return {-log_likelihood(x, decode(z, labels)), kl_standard_normal(mu, logvar).sum(1)};
}

NegElbo VaeImpl::negative_elbo(const at::Tensor& x, const at::Tensor& mu, const at::Tensor& logvar,
                               int64_t k, const at::Tensor& labels) {
  if (depth() > 1) {
    // MATH 1.4 with several stochastic layers (Burda et al. 2016 §5): −ELBO = E_q[−log w] over
    // the k draws, its KL part Monte Carlo (KL(q(h1|x) || p(h1|h2)) has no closed form).
    auto [ll, log_prior, log_q] = draw_log_densities(x, mu, logvar, k, labels);
    return {-ll.mean(0), (log_q - log_prior).mean(0)};
  }
  const at::Tensor f = decode(draw_latents(mu, logvar, k), repeat_k(labels, k));
  const at::Tensor ll = log_likelihood(repeat_k(x, k), f);
  return {-ll.reshape({k, x.size(0)}).mean(0), kl_standard_normal(mu, logvar).sum(1)};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> VaeImpl::draw_log_densities(
    const at::Tensor& x, const at::Tensor& mu, const at::Tensor& logvar, int64_t k,
    const at::Tensor& labels) {
  const int64_t b = x.size(0);
  const at::Tensor z = draw_latents(mu, logvar, k);  // k-major, as repeat_k lays out the labels
  const at::Tensor ll = log_likelihood_draws(x, decode(z, repeat_k(labels, k)).reshape({k, b, -1}));
  const at::Tensor log_prior = log_prior_over_upper_q(z).reshape({k, b});
  const at::Tensor log_q = gaussian_log_prob(z.reshape({k, b, -1}), mu, logvar).sum(-1);
  return {ll, log_prior, log_q};
}

at::Tensor VaeImpl::log_weights(const at::Tensor& x, const at::Tensor& mu, const at::Tensor& logvar,
                                int64_t k, const at::Tensor& labels) {
  auto [ll, log_prior, log_q] = draw_log_densities(x, mu, logvar, k, labels);
  return ll + log_prior - log_q;
}

std::pair<at::Tensor, at::Tensor> split_logistic(const at::Tensor& decoded, int64_t dim) {
  auto halves = decoded.chunk(2, dim);
  return {halves[0], halves[1]};
}

}  // namespace deepgen::vi
