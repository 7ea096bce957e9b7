// sample and eval: a trained run's model with the overrides the user gave, then its outputs.
#include "deepgen/run/requests.h"

#include <chrono>
#include <cmath>
#include <memory>

#include "deepgen/core/precision.h"
#include "deepgen/core/progress.h"
#include "deepgen/core/runtime.h"
#include "deepgen/eval/fid.h"
#include "deepgen/eval/ode_likelihood.h"
#include "deepgen/io/files.h"
#include "deepgen/io/image.h"
#include "deepgen/io/npy.h"
#include "deepgen/run/classes.h"
#include "deepgen/run/config.h"
#include "deepgen/run/model.h"
#include "deepgen/run/outputs.h"
#include "deepgen/run/run_dir.h"
#include "requests_internal.h"

namespace deepgen::run {

using nlohmann::json;

const OptionTable<SampleRequest>& sample_option_table() {
  static const OptionTable<SampleRequest> table = [] {
    OptionTable<SampleRequest> t("sample");
    using R = SampleRequest;
    t.add("run", &R::run, "Run directory").commands(kSample);
    t.add("out", &R::out,
          "Output: FILE.png (image grid, or scatter of 2-D points) | DIR/ (images: one PNG each, "
          "000000.png, ...) | FILE.npy (float32 array in data units, N x C x H x W or N x D) | "
          "FILE.csv (points)")
        .commands(kSample);
    t.add("n", &R::n,
          "Number of samples (a VAE's images are the decoder's mean for z ~ N(0, I), its "
          "pixel probabilities when Bernoulli; its points include the decoder's noise)")
        .min(1)
        .commands(kSample);
    t.add("seed", &R::seed, "Random seed").commands(kSample);
    t.add("no_ema", &R::no_ema, "Use the raw weights, not the EMA").commands(kSample);
    t.add("class", &R::class_name,
          "Conditional runs: draw every sample of this class (a name, or an index)")
        .commands(kSample);
    t.add("per_class", &R::per_class,
          "Conditional runs: a grid with one row of this many samples per class (n is ignored)")
        .min(0)
        .commands(kSample);
    return t;
  }();
  return table;
}

const OptionTable<EvalRequest>& eval_option_table() {
  static const OptionTable<EvalRequest> table = [] {
    OptionTable<EvalRequest> t("eval");
    using R = EvalRequest;
    t.add("run", &R::run, "Run directory").commands(kEval);
    t.add("batch", &R::batch, "Evaluation batch size").min(1).commands(kEval);
    t.add("max_batches", &R::max_batches, "Evaluate this many batches (0: all)")
        .min(0)
        .commands(kEval);
    t.add("seed", &R::seed, "Seed of the evaluation noise").commands(kEval);
    t.add("fid", &R::fid,
          "Classifier-FID and improved precision / recall (k = 3) of samples against the test "
          "split (mnist / fashion-mnist runs; the classifier is trained once and cached in the "
          "data root)")
        .commands(kEval);
    t.add("fid_samples", &R::fid_samples,
          "Samples for the FID and precision / recall (below 1000 they are noisy)")
        .min(eval::kMinFidImages)
        .commands(kEval);
    t.add("class_samples", &R::class_samples,
          "Conditional mnist / fashion-mnist runs: draw this many samples of each class and "
          "report the share the classifier labels as that class (0: off)")
        .min(0)
        .commands(kEval);
    t.add("ode", &R::ode,
          "Likelihood by the probability-flow ODE (vdm; score with --method ncsn): an estimate "
          "in bits/dim for 8-bit images (uniform dequantisation), in nats otherwise, with its "
          "standard error, network evaluations and seconds")
        .commands(kEval);
    t.add("ode_examples", &R::ode_examples, "Test examples the ODE likelihood averages (0: all)")
        .min(0)
        .commands(kEval);
    t.add("ode_method", &R::ode_method,
          "ODE solver: rk45 (Dormand-Prince, adaptive) or a fixed-step one")
        .choices(ode::method_names())
        .commands(kEval);
    t.add("ode_rtol", &R::ode_rtol, "rk45: relative tolerance").greater(0).less(1).commands(kEval);
    t.add("ode_atol", &R::ode_atol, "rk45: absolute tolerance").greater(0).less(1).commands(kEval);
    t.add("ode_steps", &R::ode_steps, "Fixed-step solvers: steps from t0 to t1")
        .min(1)
        .max(100000)
        .commands(kEval);
    t.add("divergence", &R::divergence,
          "Divergence of the ODE's drift: exact (a backward pass per dimension), hutchinson "
          "(a pass per probe), auto (exact up to 16 dimensions)")
        .choices({"auto", "exact", "hutchinson"})
        .commands(kEval);
    t.add("probe", &R::probe, "Hutchinson's probes").choices(ode::probe_names()).commands(kEval);
    t.add("probes", &R::probes, "Hutchinson probes per solve (their mean is the estimate)")
        .min(1)
        .max(1000)
        .commands(kEval);
    t.add("ode_t0", &R::ode_t0,
          "vdm: start the ODE at t0 > 0 and bound the part below it by the VDM's own decoder and "
          "diffusion loss on [0, t0] (the estimate stays an upper bound; a flow from t0 is "
          "smoother, so the solver converges where one from 0 does not)")
        .min(0)
        .less(1)
        .commands(kEval);
    t.add("save", &R::save,
          "Also add the result to the run's bounds.json (replacing an earlier one of the same "
          "kind), which its report and `deepgen "
          "compare` read")
        .commands(kEval);
    return t;
  }();
  return table;
}

// A line at most every 10 s, with the rate and the time left: sampling with many steps or an
// IWAE-k bound can take minutes, and silence looks like a hang. Quick work prints nothing.
ProgressListener progress_lines(const std::function<void(const std::string&)>& log) {
  if (!log) return {};
  using Clock = std::chrono::steady_clock;
  struct State {
    Clock::time_point start = Clock::now(), last = Clock::now();
    std::string what;
  };
  auto state = std::make_shared<State>();
  return [log, state](const std::string& what, int64_t done, int64_t total) {
    const auto now = Clock::now();
    if (what != state->what || done == 1) {  // a new loop (e.g. the next chunk of samples)
      if (what != state->what) state->last = now;
      state->what = what;
      state->start = now;
    }
    const bool quiet = now - state->last < std::chrono::seconds(10);
    if (quiet && !(done == total && now - state->start >= std::chrono::seconds(10))) return;
    state->last = now;
    const double seconds = std::chrono::duration<double>(now - state->start).count();
    const double per_step = seconds / static_cast<double>(done);
    log(what + ": step " + std::to_string(done) + "/" + std::to_string(total) + " | " +
        c10::str(per_step) + " s/step | ETA " +
        std::to_string(static_cast<int64_t>(per_step * static_cast<double>(total - done))) + " s");
  };
}

bool ends_with(const std::string& s, const std::string& e) {
  return s.size() > e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0;
}

// The run's config with the command's overrides and process settings, its threads applied.
RunConfig configured(const std::string& run, const json& overrides, const json& runtime,
                     unsigned command, const std::function<void(const std::string&)>& log) {
  RunConfig c = with_runtime(with_overrides(load_run_config(run), overrides, command), runtime);
  const ThreadSettings threads = apply_threads(c.runtime.threads, c.runtime.blas_threads);
  if (!threads.warning.empty() && log) log("warning: " + threads.warning);
  return c;
}

// The trained model, with the run's network precision applied to this thread.
std::pair<std::unique_ptr<train::GenerativeModel>, Precision> ready_model(
    const RunConfig& c, const std::string& run, bool ema,
    const std::function<void(const std::string&)>& log) {
  auto model = load_trained_model(c, run, ema);
  const Precision p = use_precision(c.runtime, resolve_device(c.runtime.device), *model, log);
  return {std::move(model), p};
}

namespace {

// The ODE likelihood's envelope: what it is (an estimate), its units and what it cost.
json ode_metric(train::GenerativeModel& model, const RunConfig& c, const data::Dataset& test,
                const EvalRequest& r) {
  eval::OdeLikelihoodOptions o;
  o.flow.solve.method = r.ode_method;
  o.flow.solve.rtol = r.ode_rtol;
  o.flow.solve.atol = r.ode_atol;
  o.flow.solve.steps = r.ode_steps;
  o.flow.divergence = r.divergence;
  o.flow.probe = r.probe;
  o.flow.probes = r.probes;
  o.examples = r.ode_examples;
  o.t0 = r.ode_t0;
  o.batch = std::min<int64_t>(r.batch, 256);  // each example keeps its graph for the divergence
  o.seed = r.seed;
  // bf16 rounds the network's input to 8 bits of mantissa, coarser than the low-noise end of the
  // flow resolves (σ_0 ≈ 10⁻³ of data in [−1, 1]), and the ODE integrates those errors: `auto`
  // runs it in float32; an explicit --precision bf16 is obeyed.
  const c10::Device device = resolve_device(c.runtime.device);
  const bool fp32 = c.runtime.precision == "auto";
  const NetworkPrecisionScope scope(fp32 ? Precision::fp32 : network_precision(), device.type());
  const eval::OdeLikelihood l = eval::ode_likelihood(model, test, o, device);
  return {{l.unit, l.value},
          {"precision", precision_name(network_precision())},
          {"std_error", l.std_error},
          {"kind", "estimate"},
          {"estimator", "probability-flow ODE, instantaneous change of variables"},
          {"dequantization", l.dequantization},
          {"divergence", l.divergence},
          {"probes", l.divergence == "hutchinson" ? r.probes : 0},
          {"solver", r.ode_method},
          {"t0", r.ode_t0},
          {"nfe", l.nfe},
          {"seconds", l.seconds},
          {"examples", l.examples}};
}

}  // namespace

std::string sample_run(const SampleRequest& r, const json& overrides, const json& runtime,
                       const std::function<void(const std::string&)>& log) {
  sample_option_table().validate(r);
  const RunConfig c = configured(r.run, overrides, runtime, kSample, log);
  const bool csv = ends_with(r.out, ".csv"), png = ends_with(r.out, ".png");
  const bool npy = ends_with(r.out, ".npy"), folder = !r.out.empty() && r.out.back() == '/';
  const bool images = c.data_shape.size() == 3;
  const bool plane = c.data_shape == std::vector<int64_t>{2};
  const std::string where = option_ref("sample", "out");
  if (images && !(png || npy || folder))
    throw Error("sample: run " + r.run + " models images: write them to " + where +
                " FILE.png (a grid), DIR/ (one PNG each) or FILE.npy (an array)");
  if (!images && !(csv || npy || (png && plane)))
    throw Error("sample: run " + r.run + " models points: write them to " + where + " FILE.csv" +
                (plane ? ", FILE.png (scatter)" : "") + " or FILE.npy (an array)");
  if (folder) io::check_new_folder(r.out);                   // before the sampling, not after
  auto model = ready_model(c, r.run, !r.no_ema, log).first;  // sampling needs no training data
  const at::Tensor labels =
      requested_labels(r.run, model->classes(), r.class_name, r.n, r.per_class);
  const ProgressScope scope(progress_lines(log));
  at::Tensor s = labels.defined() ? draw_class_samples(*model, labels, r.seed,
                                                       c.model_options.value("guidance", 0.0))
                                  : draw_samples(*model, r.n, r.seed);
  if (npy) {
    io::write_npy(r.out, s);
  } else if (folder) {
    io::write_png_folder(r.out, s);
  } else if (csv) {
    write_csv(r.out, s);
  } else if (!images) {
    io::write_png(r.out, io::scatter_image({s}));
  } else {
    const int64_t n = s.size(0);
    const int64_t nrow = r.per_class > 0
                             ? r.per_class
                             : static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
    io::write_png(r.out, io::image_grid(s, nrow));
  }
  return r.out;
}

json eval_run(const EvalRequest& r, const json& overrides,
              const std::function<void(const std::string&)>& log, const json& runtime) {
  eval_option_table().validate(r);
  const RunConfig c = configured(r.run, overrides, runtime, kEval, log);
  data::Splits splits = data::load_data(c.data);
  auto [model, precision] = ready_model(c, r.run, true, log);
  model->keep_training_data(splits.train);
  const ProgressListener lines = progress_lines(log);
  const ProgressScope scope(lines);  // the FID's sampling
  const train::EvalProgress batches = [&](int64_t done, int64_t total) {
    if (lines) lines("eval", done, total);
  };
  json out = evaluation(*model, c, splits.test, r.batch, r.max_batches, r.seed, batches);
  for (const auto& [key, value] : overrides.items()) out[key] = value;  // e.g. iwae_k, T
  if (r.fid) out["classifier_fid"] = fid_metric(*model, c, splits.test, r.fid_samples, r.seed, log);
  if (r.class_samples > 0)
    out["class_accuracy"] = class_accuracy_metric(*model, c, r.class_samples, r.seed,
                                                  c.model_options.value("guidance", 0.0), log);
  if (r.ode) {
    out["ode"] = ode_metric(*model, c, splits.test, r);
    out["likelihoods"]["ode"] = std::string("estimate: the probability-flow ODE's log-density") +
                                (model->classes() > 0 ? " of p(x|y), y the example's class" : "") +
                                " (ode.dequantization says how)";
  }
  out["run"] = r.run;
  out["precision"] = precision_name(precision);  // of the network forwards (bound and samples)
  if (r.save) save_evaluation(RunDir(r.run), out);
  return out;
}

}  // namespace deepgen::run
