#include "deepgen/eval/ode_likelihood.h"

#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <cmath>

#include "deepgen/core/error.h"
#include "deepgen/core/progress.h"
#include "deepgen/data/loader.h"

namespace deepgen::eval {

namespace {

bool eight_bit(const data::Dataset& d) { return d.x.scalar_type() == at::kByte; }

// Uniform dequantisation in data units, where the 8-bit values sit at k/255: the bin of k is
// [k − ½, k + ½)/255, i.e. (k + u − ½)/255 with u ~ U[0, 1) — the (k + u)/256 of the 8-bit
// scale, mapped affinely (the bin's width 1/255 enters as D log 255 below).
at::Tensor dequantize(const at::Tensor& x, at::Generator& gen) {
  const at::Tensor u = at::rand(x.sizes(), gen, x.options().device(at::kCPU)).to(x.device());
  return x + (u - 0.5) / 255.0;
}

// −log p(x) per example in nats, of 8-bit data a bound on −log P(k) (before the division by
// D ln 2): through the model's variational dequantisation, or uniform noise and the bins' width.
at::Tensor batch_values(const train::ProbabilityFlow& flow, const ode::FlowOptions& o,
                        const at::Tensor& x, bool bytes, bool variational, at::Generator& gen,
                        int64_t& nfe) {
  at::Tensor z0, extra;
  if (variational) {
    std::tie(z0, extra) = flow.dequantize(x);
  } else {
    z0 = flow.to_state(bytes ? dequantize(x, gen) : x);
  }
  const ode::Flow f = ode::integrate_flow(flow.drift, z0, flow.t0, flow.t1, o, gen);
  nfe = f.nfe;
  const at::Tensor log_p = (flow.prior_log_prob(f.z1) + f.divergence).to(at::kDouble).cpu();
  if (variational) return extra.to(at::kDouble).cpu() - log_p;
  const double d = static_cast<double>(x[0].numel());
  return bytes ? d * std::log(255.0) - log_p - flow.log_det : -log_p - flow.log_det;
}

}  // namespace

OdeLikelihood ode_likelihood(train::GenerativeModel& model, const data::Dataset& test,
                             const OdeLikelihoodOptions& o, c10::Device device) {
  const std::string blocker = model.probability_flow_blocker();
  if (!blocker.empty())
    throw Error("the ODE likelihood needs a probability-flow ODE, but " + blocker);
  // A conditional model's flow is built per batch for its rows' classes: −log p(x|y).
  const bool conditional = model.classes() > 0;
  if (conditional && !test.labels.defined())
    throw Error(
        "the ODE likelihood of a conditional model needs the test examples' classes, "
        "and this test set has none");
  const train::ProbabilityFlow unconditional =
      model.probability_flow({}, o.t0);  // ∅ if conditional
  const int64_t n = o.examples > 0 ? std::min(o.examples, test.size()) : test.size();
  const int64_t d = test.dim();
  const bool bytes = eight_bit(test);
  OdeLikelihood r;
  r.unit = bytes ? "bpd" : "nats";
  const bool variational = static_cast<bool>(unconditional.dequantize);
  r.dequantization = variational ? unconditional.dequantization
                     : !bytes    ? "none (continuous data)"
                                 : "uniform: x = (k + u)/256, u ~ U[0, 1)^D; bpd = -(log p(x) - D "
                                   "log 256)/(D ln 2), an upper bound on -log2 P(k)/D in "
                                   "expectation over u";
  ode::FlowOptions fo = o.flow;
  if (fo.divergence == "auto") fo.divergence = d <= kExactDivergenceDims ? "exact" : "hutchinson";
  r.divergence = fo.divergence;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  const auto start = std::chrono::steady_clock::now();
  std::vector<at::Tensor> values;
  const int64_t batches = (n + o.batch - 1) / o.batch;
  for (int64_t b = 0; b < batches; ++b) {
    const int64_t lo = b * o.batch, hi = std::min(n, lo + o.batch);
    const at::Tensor idx = at::arange(lo, hi, at::kLong);
    const at::Tensor x = data::gather(test, idx, device);
    const train::ProbabilityFlow flow =
        conditional ? model.probability_flow(test.labels.index_select(0, idx).to(device), o.t0)
                    : unconditional;
    int64_t nfe = 0;
    values.push_back(batch_values(flow, fo, x, bytes, variational, gen, nfe) /
                     (bytes ? static_cast<double>(d) * std::log(2.0) : 1.0));
    r.nfe += static_cast<double>(nfe) / static_cast<double>(batches);
    report_progress("ode", b + 1, batches);
  }
  const at::Tensor all = at::cat(values);
  r.examples = n;
  r.value = all.mean().item<double>();
  r.std_error = n > 1 ? all.std().item<double>() / std::sqrt(static_cast<double>(n)) : 0.0;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!std::isfinite(r.value))
    throw Error("the ODE likelihood is not finite (" + std::to_string(r.value) +
                "): the model's flow diverges on the test data");
  return r;
}

}  // namespace deepgen::eval
