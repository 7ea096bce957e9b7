// deepgen demo: the main job, four short scenarios, one per part of the maths.
#include <filesystem>
#include <thread>

#include "app.h"
#include "deepgen/io/files.h"
#include "deepgen/run/compare.h"
#include "deepgen/run/config.h"
#include "deepgen/run/inpaint.h"
#include "deepgen/run/outputs.h"
#include "deepgen/run/requests.h"
#include "deepgen/run/run_dir.h"
#include "terminal.h"

namespace deepgen::cli {

using nlohmann::json;

const OptionTable<DemoRequest>& demo_option_table() {
  static const OptionTable<DemoRequest> table = [] {
    OptionTable<DemoRequest> t("demo");
    t.add("out", &DemoRequest::out, "Output directory");
    t.add("threads", &DemoRequest::threads, "CPU threads (0: each scenario's measured default)")
        .min(0);
    t.add("device", &DemoRequest::device, "cpu | cuda | auto");
    return t;
  }();
  return table;
}

namespace {

constexpr double kDemoGuidance = 3.0;  // classifier-free guidance of the demo's class samples

int train(const run::RunConfig& c, const std::string& out_dir) {
  return train_on_console({c, out_dir}, log_line);
}

run::RunConfig config(const std::string& model, const std::string& data, const DemoRequest& r) {
  run::RunConfig c;
  c.model = model;
  c.data.spec = data;
  c.runtime.device = r.device;
  c.runtime.threads = r.threads;
  return c;
}

// The VAE's bounds on 1000 test images: one-sample ELBO, IWAE-1000 (MATH 1.4) and the
// amortisation gap (MATH 1.3b), in RUN/bounds.json.
void demo_bounds(const std::string& run_dir) {
  log_line("demo: IWAE-1000 bound and amortisation gap on 1000 test images");
  run::EvalRequest r;
  r.run = run_dir;
  r.max_batches = 2;
  json out = run::eval_run(r, {{"iwae_k", 1000}, {"amortization_gap", true}}, log_line);
  run::save_evaluation(run::RunDir(run_dir), out);
  run::write_report(run_dir);  // the page shows the bounds too
  const json& m = out["metrics"];
  log_line("demo: test -ELBO " + c10::str(m["neg_elbo"].get<double>()) + ", IWAE-1000 NLL " +
           c10::str(m["iwae_nll"].get<double>()) + " nats (" +
           c10::str(m["iwae_bpd"].get<double>()) + " bits/dim), amortisation gap " +
           c10::str(m["amortization_gap"].get<double>()) + " nats (" + run_dir + "/bounds.json)");
}

// Classifier-FID, precision and recall of 1000 samples against the test split, added to the
// run's eval.json and report (the bound is measured on 2000 test images to save time).
void demo_fid(const std::string& run_dir) {
  log_line("demo: classifier-FID, precision and recall of 1000 VDM samples");
  run::EvalRequest r;
  r.run = run_dir;
  r.fid = true;
  r.fid_samples = 1000;
  r.max_batches = 4;
  json out = run::eval_run(r, {}, log_line);
  io::write_file_atomic(run::RunDir(run_dir).eval(), out.dump(2) + "\n");
  run::write_report(run_dir);
  const json& f = out["classifier_fid"];
  const json& m = out["metrics"];
  const std::string bound = m.contains("bpd_unconditional")
                                ? "bounds -log p(x|y) " + c10::str(m["bpd"].get<double>()) +
                                      " and -log p(x) " +
                                      c10::str(m["bpd_unconditional"].get<double>())
                                : "bound " + c10::str(m["bpd"].get<double>());
  log_line("demo: VDM test " + bound + " bits/dim, classifier-FID " +
           c10::str(f["fid"].get<double>()) + ", precision " + c10::str(f.value("precision", 0.0)) +
           ", recall " + c10::str(f.value("recall", 0.0)) + " (" + run_dir + "/report.html)");
}

// The conditional VDM's digits on request: one row per class, and the share of 50 samples of
// each class that the FID's classifier labels as that class.
void demo_classes(const std::string& run_dir) {
  run::SampleRequest s;
  s.run = run_dir;
  s.per_class = 8;
  s.out = run_dir + "/per_class.png";
  const json guidance{{"guidance", kDemoGuidance}};
  run::sample_run(s, guidance, json::object(), log_line);
  run::EvalRequest e;
  e.run = run_dir;
  e.max_batches = 1;
  e.class_samples = 50;
  const json out = run::eval_run(e, guidance, log_line);
  const json& a = out["class_accuracy"];
  std::string shares;
  for (const auto& v : a["per_class"])
    shares += (shares.empty() ? "" : " ") + c10::str(v.get<double>());
  log_line("demo: conditional VDM, one row per digit (" + s.out + "); guidance w = " +
           c10::str(kDemoGuidance) + ": the classifier agrees with the asked digit on " +
           c10::str(a["accuracy"].get<double>()) + " of 50 samples per digit (" + shares + ")");
}

// Inpainting (BEYOND B5) by the same VDM with its null class: the bottom half of 8 test digits
// drawn given the top half by replacement, in a folder of its own (remade on every demo).
void demo_inpaint(const std::string& run_dir, const std::string& out) {
  std::filesystem::remove_all(out);
  run::InpaintRequest r;
  r.run = run_dir;
  r.out = out;
  r.samples = 2;
  const run::InpaintSummary s = run::inpaint_run(r, json::object(), json::object(), log_line);
  log_line("demo: VDM inpainting of the bottom half of 8 test digits (" + out +
           "/inpaint.png): squared error " + c10::str(s.masked_mse) + " per unknown pixel");
}

// The three families' likelihoods of the same 8-bit MNIST test images in one table (deepgen
// compare): the VAE's bounds, the VDM's bound and the NCSN's probability-flow ODE estimate.
// The VDM's own ODE estimate is left out: its plain Fourier features keep the flow from
// converging (docs/likelihood.md); gated ones (--fourier-gate) fix that, but their effect on the
// demo's samples is not measured yet.
void demo_compare(const std::string& out_dir) {
  run::CompareRequest r;
  r.runs = out_dir + "/vae," + out_dir + "/vdm," + out_dir + "/ncsn";
  r.html = out_dir + "/compare.html";
  const json table = run::compare_runs(r);
  io::write_file_atomic(out_dir + "/compare.json", table.dump(2) + "\n");
  log_line("demo: one likelihood scale, 8-bit MNIST test images (" + r.html + "):");
  for (const auto& row : table["rows"]) {
    if (row["unit"] != "bits/dim") continue;
    std::string value = c10::str(row["value"].get<double>());
    if (row.contains("std_error")) value += " ± " + c10::str(row["std_error"].get<double>());
    log_line("  " + row["family"].get<std::string>() + "  " + row["estimator"].get<std::string>() +
             "  " + value + " bits/dim  (" + row["kind"].get<std::string>().substr(0, 11) + ", " +
             std::to_string(row["examples"].get<int64_t>()) + " images)");
  }
}

// Mean-field CAVI (MATH 1.5): a Bayesian mixture with too many components on 8 Gaussians.
void demo_gmm(const std::string& out_dir) {
  io::make_dirs(out_dir);
  FitGmmRequest r;
  r.data = "toy:8gaussians";
  r.components = 12;
  r.tol = 1e-6;  // per point: long enough for the surplus components to start collapsing
  r.max_iter = 500;
  r.png = out_dir + "/fit.png";
  const json fit = fit_gmm(r);
  io::write_file_atomic(out_dir + "/fit.json", fit.dump(2) + "\n");
  log_line("demo: CAVI mixture on toy:8gaussians, " + std::to_string(fit["collapsed"].size()) +
           " of 12 components collapsed (" + out_dir + "/fit.png)");
}

// A VDM (MATH Part 2) on MNIST trained for samples: the sigmoid-weighted loss of Kingma & Gao
// 2023 with ℓ drawn ∝ w (BEYOND B1), sampled by 50 steps of SDE-DPM-Solver++(2M) (measured on
// one demo model: classifier-FID 15.5 against 18.9 for 50 ancestral steps, the earlier default,
// with precision 0.64 and 0.66; docs/results.md); its report shows the bound in bits/dim (what any
// weighting is judged by) and the classifier-FID.
// It is class-conditional with label dropout (issue 15): one network for p(x|y) and p(x), so
// the same run gives a grid of each digit on request and the unconditional bound the likelihood
// table compares.
int demo_vdm(const std::string& out_dir, const DemoRequest& r) {
  run::RunConfig c = config("vdm", "mnist", r);
  c.model_options = {{"weighting", "sigmoid"},   {"proposal", "weighting"},
                     {"sampler", "dpmpp2m-sde"}, {"sample_steps", 50},
                     {"conditional", true},      {"label_dropout", 0.1}};
  c.train.steps = 1300;  // about 5 minutes on 2 cores; docs/results.md has the ladder
  c.train.batch = 64;
  c.train.optimizer.lr = 1e-3;
  c.train.optimizer.beta2 = 0.99;
  c.train.optimizer.warmup = 200;
  c.train.optimizer.grad_clip = 1.0;
  c.train.ema_decay = 0.999;
  c.train.checkpoint_every = 300;
  c.train.eval_every = 260;  // a test curve on 8 batches (512 images): ~1% of the run's time
  c.train.eval_batches = 8;
  log_line("demo: variational diffusion model (MATH Part 2) on MNIST, " +
           std::to_string(c.train.steps) + " steps");
  if (const int code = train(c, out_dir); code != 0) return code;
  demo_fid(out_dir);
  demo_classes(out_dir);
  demo_inpaint(out_dir, out_dir + "/inpaint");
  return 0;
}

// Score matching (MATH Part 3): NCSN on the two-mode toy of Song & Ermon, sampled by annealed
// Langevin; samples.png shows samples (blue) over data (grey).
int demo_score(const std::string& out_dir, const DemoRequest& r) {
  run::RunConfig c = config("score", "toy:ncsn-gmm", r);
  c.data.toy_train = 10000;
  c.data.toy_test = 2000;
  c.train.steps = 1500;
  c.train.batch = 128;
  c.train.checkpoint_every = 500;
  c.train.eval_every = 250;
  c.runtime.threads = r.threads > 0 ? r.threads : 1;
  log_line("demo: noise-conditional score network (MATH Part 3) on toy:ncsn-gmm");
  if (const int code = train(c, out_dir); code != 0) return code;
  // Its probability-flow ODE gives the score model a likelihood too: exact divergence in 2-D.
  run::EvalRequest e;
  e.run = out_dir;
  e.ode = true;
  e.ode_examples = 2000;
  e.save = true;
  const json out = run::eval_run(e, {}, log_line);
  run::write_report(out_dir);
  log_line("demo: NCSN test -log p(x) by its probability-flow ODE: " +
           c10::str(out["ode"]["nats"].get<double>()) + " ± " +
           c10::str(out["ode"]["std_error"].get<double>()) + " nats (" + out_dir + "/bounds.json)");
  return 0;
}

// The score family on MNIST for the likelihood table: a short NCSN (U-Net, its data-derived σ
// ladder) whose probability-flow ODE (BEYOND B4) gives bits/dim of the first 64 test images,
// with Hutchinson's divergence and rk45 at 1e-3 (measured on the demo's model: 3.539 ± 0.050
// at 1e-3, 86 evaluations, against 3.570 ± 0.048 at 1e-4, which costs three times as many).
int demo_ncsn(const std::string& out_dir, const DemoRequest& r) {
  run::RunConfig c = config("score", "mnist", r);
  c.model_options = {{"method", "ncsn"}};
  c.train.steps = 600;
  c.train.batch = 64;
  c.train.checkpoint_every = 300;
  c.train.eval_batches = 2;        // the end-of-training test row
  c.train.final_eval_batches = 1;  // eval.json's score-matching loss: not a likelihood
  log_line("demo: noise-conditional score network on MNIST, " + std::to_string(c.train.steps) +
           " steps, for its likelihood by the probability-flow ODE");
  if (const int code = train(c, out_dir); code != 0) return code;
  run::EvalRequest e;
  e.run = out_dir;
  e.ode = true;
  e.ode_examples = 64;
  e.ode_rtol = e.ode_atol = 1e-3;
  e.max_batches = 1;
  e.save = true;
  const json out = run::eval_run(e, {}, log_line);
  run::write_report(out_dir);
  log_line("demo: NCSN test -log2 P(x)/D by its probability-flow ODE: " +
           c10::str(out["ode"]["bpd"].get<double>()) + " ± " +
           c10::str(out["ode"]["std_error"].get<double>()) + " bits/dim (estimate, " +
           c10::str(out["ode"]["nfe"].get<double>()) + " network evaluations; " + out_dir +
           "/bounds.json)");
  return 0;
}

}  // namespace

int run_demo(const DemoRequest& r) {
  demo_option_table().validate(r);
  run::RunConfig c = config("vae", "mnist", r);
  // The discretised logistic decoder: its bounds are on −log P(x) of the 8-bit pixels, in
  // bits/dim beside the VDM's (a Gaussian decoder's density is on another scale).
  c.model_options = {{"likelihood", "logistic"}};
  c.train.steps = 7000;  // about two minutes on 2 cores with the logistic decoder
  c.train.batch = 128;
  c.train.checkpoint_every = 1000;
  c.train.eval_every = 1000;
  // The VAE's MLP is GEMM-bound: one intra-op thread and a BLAS thread per core ran its step
  // 1.3x faster than the general default (docs/results.md). --threads overrides.
  c.runtime.threads = r.threads > 0 ? r.threads : 1;
  c.runtime.blas_threads =
      r.threads > 0 ? 1 : static_cast<int>(std::thread::hardware_concurrency());
  log_line("demo: VAE (MATH 1.4) with a discretised logistic decoder on MNIST, " +
           std::to_string(c.train.steps) + " steps");
  if (const int code = train(c, r.out + "/vae"); code != 0) return code;
  demo_bounds(r.out + "/vae");
  demo_gmm(r.out + "/gmm");
  if (const int v = demo_vdm(r.out + "/vdm", r); v != 0) return v;
  if (const int s = demo_score(r.out + "/score", r); s != 0) return s;
  if (const int n = demo_ncsn(r.out + "/ncsn", r); n != 0) return n;
  demo_compare(r.out);
  log_line("demo: done; open " + r.out + "/compare.html, " + r.out + "/vae/report.html, " + r.out +
           "/vdm/report.html and " + r.out + "/score/report.html");
  return 0;
}

}  // namespace deepgen::cli
