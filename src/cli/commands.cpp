// train / sample / eval / info / demo: orchestration of library calls.
#include <c10/core/InferenceMode.h>

#include <iostream>

#include "app.h"
#include "deepgen/core/error.h"
#include "deepgen/core/rng.h"
#include "deepgen/core/runtime.h"
#include "deepgen/core/version.h"
#include "deepgen/dist/comm.h"
#include "deepgen/eval/fid.h"
#include "deepgen/eval/metrics.h"
#include "deepgen/io/files.h"
#include "deepgen/io/image.h"
#include "deepgen/train/checkpoint.h"
#include "terminal.h"

namespace deepgen::cli {

using nlohmann::json;

namespace {

int64_t parameter_count(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s;
  for (int64_t d : shape) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

// Samples of a trained model, in data layout, on the CPU.
at::Tensor draw_samples(train::GenerativeModel& model, int64_t n, uint64_t seed) {
  c10::InferenceMode guard;
  seed_global(seed);
  return model.sample(n).to(torch::kCPU);
}

json evaluation(train::GenerativeModel& model, const RunConfig& c, const data::Dataset& test,
                int64_t batch, int64_t max_batches, uint64_t seed) {
  const c10::Device device = resolve_device(c.device);
  seed_global(seed);
  model.module().eval();
  json metrics = train::evaluate(model, test, batch, device, max_batches);
  json out{{"model", c.model},
           {"data", c.data.spec},
           {"split", "test"},
           {"examples", max_batches > 0 ? std::min(test.size(), batch * max_batches) : test.size()},
           {"units", metric_units(c)},
           {"metrics", metrics}};
  const json sampling = configure_sampling(model, "", 0);
  if (test.kind == data::Kind::points) {
    if (!sampling.is_null()) out["sampling"] = sampling;
    const int64_t n = std::min<int64_t>(2000, test.size());
    at::Tensor s = draw_samples(model, n, seed + 1);
    out["energy_distance"] = eval::energy_distance(s, test.x.slice(0, 0, n));
    out["energy_distance_samples"] = n;
  }
  return out;
}

}  // namespace

void write_csv(const std::string& path, const at::Tensor& points) {
  const at::Tensor p = points.to(torch::kCPU, torch::kDouble).contiguous();
  const auto a = p.accessor<double, 2>();
  std::string out;
  for (int64_t i = 0; i < a.size(0); ++i) {
    for (int64_t j = 0; j < a.size(1); ++j) out += (j ? "," : "") + c10::str(a[i][j]);
    out += "\n";
  }
  io::write_file_atomic(path, out);
}

namespace {

// Classifier-FID (eval/fid.h) of model samples against the whole test split; the classifier is
// trained once per data set and cached in the data root.
json fid_metric(train::GenerativeModel& model, const RunConfig& c, const data::Dataset& test,
                const EvalRequest& r) {
  if (c.data.spec != "mnist" && c.data.spec != "fashion-mnist")
    throw Error("--fid compares samples with a classifier of mnist or fashion-mnist images; run " +
                r.run_dir + " was trained on " + c.data.spec);
  if (r.fid_samples < 2) throw Error("--fid-samples must be >= 2");
  const eval::TrainedClassifier classifier =
      eval::load_or_train_classifier(c.data.spec, data::data_root(), {}, log_line);
  std::vector<at::Tensor> parts;
  for (int64_t done = 0, i = 0; done < r.fid_samples; done += 500, ++i)
    parts.push_back(
        draw_samples(model, std::min<int64_t>(500, r.fid_samples - done), r.seed + 7 * i));
  const eval::FidResult f = eval::classifier_fid(classifier, torch::cat(parts), test.x);
  json out{{"fid", f.fid},
           {"samples", f.n_samples},
           {"reference", "test split (" + std::to_string(f.n_reference) + " images)"},
           {"classifier_test_accuracy", f.classifier_accuracy},
           {"sample_class_histogram", f.sample_class_histogram}};
  if (!f.warning.empty()) out["warning"] = f.warning;
  return out;
}

}  // namespace

RunConfig load_run_config(const std::string& run_dir) {
  const std::string path = run_dir + "/config.json";
  if (!io::file_exists(path))
    throw Error("no run at " + run_dir + " (missing config.json): train one with deepgen train");
  try {
    return run_config_from_json(json::parse(io::read_file(path)));
  } catch (const json::exception& e) {
    throw Error(path + " is not valid JSON: " + e.what());
  }
}

std::unique_ptr<train::GenerativeModel> load_trained_model(const RunConfig& c,
                                                           const std::string& run_dir, bool ema) {
  auto model = make_model(c);
  const std::string ema_path = train::ema_weights_path(run_dir);
  const std::string path =
      ema && io::file_exists(ema_path) ? ema_path : train::weights_path(run_dir);
  if (!io::file_exists(path))
    throw Error("run " + run_dir + " has no weights yet (missing " + path + ")");
  train::load_weights(path, model->module());
  model->module().to(resolve_device(c.device));
  model->module().eval();
  return model;
}

void write_outputs(train::GenerativeModel& model, const RunConfig& c, const data::Splits& data,
                   const std::string& run_dir) {
  json ev = evaluation(model, c, data.test, 500, 0, c.train.seed);
  io::write_file_atomic(run_dir + "/eval.json", ev.dump(2) + "\n");
  if (data.train.kind == data::Kind::points) {
    at::Tensor samples = draw_samples(model, 2000, c.train.seed);
    write_csv(run_dir + "/samples.csv", samples);
    if (samples.size(1) == 2)  // test data in grey, samples in blue
      io::write_png(run_dir + "/samples.png",
                    io::scatter_image({data.test.x.slice(0, 0, 2000), samples}));
    return;
  }
  at::Tensor samples = draw_samples(model, 64, c.train.seed);
  io::write_png(run_dir + "/samples.png", io::image_grid(samples, 8));
  // Rows alternate: up to 8 test images, then their reconstructions.
  const int64_t cols = std::min<int64_t>(8, data.test.size());
  const int64_t n = std::min<int64_t>(32, data.test.size()) / cols * cols;
  at::Tensor x = data.test.x.slice(0, 0, n);
  at::Tensor recon;
  {
    torch::NoGradGuard no_grad;  // not InferenceMode: per-example inference fits q by gradients
    recon = model.reconstruct(x.to(resolve_device(c.device)));
  }
  if (!recon.defined()) return;
  recon = recon.to(torch::kCPU).reshape(x.sizes());
  std::vector<at::Tensor> rows;
  for (int64_t i = 0; i < n; i += cols) {
    rows.push_back(x.slice(0, i, i + cols));
    rows.push_back(recon.slice(0, i, i + cols));
  }
  io::write_png(run_dir + "/reconstructions.png", io::image_grid(torch::cat(rows), cols));
}

// Data-parallel when launched with WORLD_SIZE > 1 (torchrun or the variables set by hand): every
// rank trains on its share of each batch; rank 0 alone writes the run directory and the outputs.
int run_train(RunConfig c, bool resume, const std::string& run_dir) {
  const dist::WorldEnv env = dist::world_from_env();
  const bool lead = env.rank == 0;
  const ThreadSettings threads = apply_threads(c.threads, c.blas_threads, env.local_world);
  const c10::Device device = resolve_device(c.device, env.local_rank);
  data::Splits splits = data::load_data(c.data);
  adapt_to_data(c, splits.train);
  seed_global(c.train.seed);
  auto model = make_model(c);
  model->module().to(device);
  attach_data(*model, splits.train);
  c.train.run_dir = run_dir;
  c.train.device = device;
  c.train.resume = resume;
  if (lead) {
    io::make_dirs(run_dir);
    io::write_file_atomic(run_dir + "/config.json", to_json(c).dump(2) + "\n");
  }
  if (env.world > 1) {
    if (c.dist_timeout_s <= 0) throw Error("--dist-timeout must be a positive number of seconds");
    c.train.comm = dist::join(env, device, std::chrono::seconds(c.dist_timeout_s));
  }
  const std::string ranks =
      env.world > 1 ? " as " + std::to_string(env.world) + " data-parallel ranks" : "";
  if (lead)
    log_line("training " + c.model + " (" + std::to_string(parameter_count(model->module())) +
             " parameters) on " + c.data.spec + " (" + std::to_string(splits.train.size()) +
             " train / " + std::to_string(splits.test.size()) + " test, " +
             shape_text(c.data_shape) + ") on " + device.str() + ranks + " with " +
             std::to_string(threads.intra_op) + " intra-op + " + std::to_string(threads.blas) +
             " BLAS thread(s)" + (env.world > 1 ? " each" : ""));
  train::TrainResult r = train::train(*model, splits.train, &splits.test, c.train,
                                      lead ? console_callbacks("train") : quiet_callbacks());
  if (r.outcome == train::Outcome::interrupted) {
    if (lead)
      log_line("interrupted at step " + std::to_string(r.step) +
               "; checkpoint saved. Continue with: "
               "deepgen train --out " +
               run_dir + " --resume");
    return 130;
  }
  if (!lead) return 0;
  auto trained = load_trained_model(c, run_dir, true);
  attach_data(*trained, splits.train);
  write_outputs(*trained, c, splits, run_dir);
  write_report(run_dir);
  log_line("done: " + run_dir + "/report.html");
  return 0;
}

int run_sample(const SampleRequest& req) {
  RunConfig c = load_run_config(req.run_dir);
  apply_threads(c.threads, c.blas_threads);
  if (req.n <= 0) throw Error("--n must be positive");
  auto model = load_trained_model(c, req.run_dir, req.ema);
  configure_sampling(*model, req.sampler, req.steps);
  at::Tensor s = draw_samples(*model, req.n, req.seed);
  auto ends_with = [&](const char* ext) {
    const std::string e(ext);
    return req.out.size() > e.size() &&
           req.out.compare(req.out.size() - e.size(), e.size(), e) == 0;
  };
  const bool csv = ends_with(".csv"), png = ends_with(".png");
  if (c.data_shape.size() != 3) {
    const bool plane = c.data_shape == std::vector<int64_t>{2};
    if (csv)
      write_csv(req.out, s);
    else if (png && plane)
      io::write_png(req.out, io::scatter_image({s}));
    else
      throw Error("run " + req.run_dir + " models points: write them with --out FILE.csv" +
                  (plane ? " or FILE.png (scatter)" : ""));
  } else {
    if (csv) throw Error("run " + req.run_dir + " models images: write them with --out FILE.png");
    const int64_t nrow = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(req.n))));
    io::write_png(req.out, io::image_grid(s, nrow));
  }
  log_line("wrote " + std::to_string(req.n) + " samples to " + req.out);
  return 0;
}

int run_eval(const EvalRequest& req) {
  RunConfig c = load_run_config(req.run_dir);
  apply_threads(c.threads, c.blas_threads);
  if (req.batch <= 0) throw Error("--batch must be positive");
  data::Splits splits = data::load_data(c.data);
  auto model = load_trained_model(c, req.run_dir, true);
  attach_data(*model, splits.train);
  configure_evaluation(*model, req);
  configure_sampling(*model, req.sampler, req.steps);
  json out = evaluation(*model, c, splits.test, req.batch, req.max_batches, req.seed);
  if (req.fid) {
    out["classifier_fid"] = fid_metric(*model, c, splits.test, req);
    const json sampling = configure_sampling(*model, "", 0);
    if (!sampling.is_null()) out["classifier_fid"]["sampling"] = sampling;
  }
  if (req.iwae_k > 0) out["iwae_k"] = req.iwae_k;
  if (req.T >= 0) out["T"] = req.T;
  out["run"] = req.run_dir;
  std::cout << out.dump() << std::endl;
  return 0;
}

int run_info() {
  const ThreadSettings t = default_thread_settings();
  const std::string root = data::data_root();
  json out{
      {"version", version()},
      {"libtorch", torch_version()},
      {"device", {{"default", resolve_device("auto").str()}, {"cuda_available", cuda_available()}}},
      {"threads",
       {{"intra_op_default", t.intra_op},
        {"blas_default", t.blas},
        {"hardware", static_cast<int>(std::thread::hardware_concurrency())}}},
      {"data_root", root},
      {"datasets", data::available_datasets(root)},
      {"models", model_names()}};
  std::cout << out.dump() << std::endl;
  return 0;
}

namespace {

// The VAE's bounds on 1000 test images: one-sample ELBO, IWAE-1000 (MATH 1.4) and the
// amortisation gap (MATH 1.3b), in RUN/bounds.json.
void demo_bounds(const std::string& run_dir) {
  log_line("demo: IWAE-1000 bound and amortisation gap on 1000 test images");
  const RunConfig c = load_run_config(run_dir);
  EvalRequest r;
  r.run_dir = run_dir;
  r.max_batches = 2;
  r.iwae_k = 1000;
  r.amortization_gap = true;
  auto model = load_trained_model(c, run_dir, true);
  configure_evaluation(*model, r);
  const data::Splits splits = data::load_data(c.data);
  json out = evaluation(*model, c, splits.test, r.batch, r.max_batches, r.seed);
  out["iwae_k"] = r.iwae_k;
  io::write_file_atomic(run_dir + "/bounds.json", out.dump(2) + "\n");
  const json& m = out["metrics"];
  log_line("demo: test -ELBO " + c10::str(m["neg_elbo"].get<double>()) + ", IWAE-1000 NLL " +
           c10::str(m["iwae_nll"].get<double>()) + ", amortisation gap " +
           c10::str(m["amortization_gap"].get<double>()) + " nats (" + run_dir + "/bounds.json)");
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

// A short VDM (MATH Part 2) on MNIST: the bound in bits/dim with its three parts.
int demo_vdm(const std::string& out_dir, int threads, const std::string& device) {
  RunConfig c;
  c.model = "vdm";
  c.data.spec = "mnist";
  c.model_options = {{"sample_steps", 100}};
  c.train.steps = 300;  // about 2 minutes on 2 cores; docs/results.md has longer runs
  c.train.batch = 64;
  c.train.optimizer.lr = 3e-3;
  c.train.optimizer.warmup = 50;
  c.train.optimizer.grad_clip = 1.0;
  c.train.ema_decay = 0.99;
  c.train.checkpoint_every = 100;
  c.threads = threads;
  c.device = device;
  log_line("demo: variational diffusion model (MATH Part 2) on MNIST, " +
           std::to_string(c.train.steps) + " steps");
  return run_train(c, false, out_dir);
}

// Score matching (MATH Part 3): NCSN on the two-mode toy of Song & Ermon, sampled by annealed
// Langevin; samples.png shows samples (blue) over data (grey).
int demo_score(const std::string& out_dir, int threads, const std::string& device) {
  RunConfig c;
  c.model = "score";
  c.data.spec = "toy:ncsn-gmm";
  c.data.toy_train = 10000;
  c.data.toy_test = 2000;
  c.train.steps = 1500;
  c.train.batch = 128;
  c.train.checkpoint_every = 500;
  c.threads = threads > 0 ? threads : 1;
  c.device = device;
  log_line("demo: noise-conditional score network (MATH Part 3) on toy:ncsn-gmm");
  return run_train(c, false, out_dir);
}

}  // namespace

int run_demo(const std::string& out_dir, int threads, const std::string& device) {
  RunConfig c;
  c.model = "vae";
  c.data.spec = "mnist";
  c.train.steps = 7000;  // about a minute on 2 cores (docs/results.md)
  c.train.batch = 128;
  c.train.checkpoint_every = 1000;
  c.train.eval_every = 1000;
  // The VAE's MLP is GEMM-bound: one intra-op thread and a BLAS thread per core ran its step
  // 1.3x faster than the general default (docs/results.md). --threads overrides.
  c.threads = threads > 0 ? threads : 1;
  c.blas_threads = threads > 0 ? 1 : static_cast<int>(std::thread::hardware_concurrency());
  c.device = device;
  log_line("demo: Gaussian VAE (MATH 1.4) on MNIST, " + std::to_string(c.train.steps) + " steps");
  const int code = run_train(c, false, out_dir + "/vae");
  if (code != 0) return code;
  demo_bounds(out_dir + "/vae");
  demo_gmm(out_dir + "/gmm");
  if (const int v = demo_vdm(out_dir + "/vdm", threads, device); v != 0) return v;
  if (const int s = demo_score(out_dir + "/score", threads, device); s != 0) return s;
  log_line("demo: done; open " + out_dir + "/vae/report.html, " + out_dir +
           "/vdm/report.html and " + out_dir + "/score/report.html");
  return 0;
}

}  // namespace deepgen::cli
