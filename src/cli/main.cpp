// deepgen command line: flags -> config structs -> library. Errors are one line and a non-zero
// exit; data and progress go to stderr, machine-readable results to stdout.
#include <CLI/CLI.hpp>
#include <iostream>

#include "app.h"
#include "deepgen/core/error.h"
#include "deepgen/core/runtime.h"
#include "deepgen/core/version.h"
#include "deepgen/io/files.h"
#include "terminal.h"

namespace dc = deepgen::cli;
using nlohmann::json;

namespace {

struct TrainFlags {
  std::string model, data, out, config_file, device, optimizer, schedule, likelihood, hidden, arch,
      inference, objective, activation, binarize, channels, gamma_schedule, sampler, method;
  int64_t steps = 0, epochs = 0, batch = 0, warmup = 0, checkpoint_every = 0, log_every = 0,
          eval_every = 0, latent = 0, k = 0, kl_warmup = 0, blocks = 0, T = 0, sample_steps = 0,
          patch = 0, num_sigmas = 0, steps_per_level = 0, langevin_steps = 0;
  uint64_t seed = 0;
  int threads = 0, blas_threads = 0, image_size = 0, dist_timeout = 300;
  double lr = 0, ema = 0, grad_clip = 0, sigma = 0, beta = 0, local_lr = 0, gamma_min = 0,
         gamma_max = 0, dropout = 0, sigma_begin = 0, sigma_end = 0, sample_eps = 0, step_size = 0;
  bool resume = false, attention = true, variance_trick = true;
};

std::vector<int64_t> parse_sizes(const std::string& text, const char* flag = "--hidden") {
  std::vector<int64_t> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      out.push_back(std::stoll(item));
    } catch (const std::exception&) {
      throw deepgen::Error(std::string(flag) +
                           " expects comma-separated sizes like 400 or 512,256, got '" + text +
                           "'");
    }
  }
  return out;
}

CLI::App* add_train(CLI::App& app, TrainFlags& f) {
  auto* cmd = app.add_subcommand("train", "Train a model; writes checkpoints, samples, report");
  cmd->add_option("model", f.model, "Model: vae | vdm | score");
  cmd->add_option("--data", f.data,
                  "mnist (default) | fashion-mnist | folder:PATH | toy:NAME | csv:PATH");
  cmd->add_option("--out", f.out, "Run directory")->required();
  cmd->add_option("--steps", f.steps, "Optimiser steps");
  cmd->add_option("--epochs", f.epochs, "Epochs when --steps is not given (default 10)");
  cmd->add_option("--batch", f.batch, "Batch size (default 128)");
  cmd->add_option("--lr", f.lr, "Learning rate (default 1e-3)");
  cmd->add_option("--seed", f.seed, "Random seed");
  cmd->add_option("--threads", f.threads, "Intra-op CPU threads (0: one per core)");
  cmd->add_option("--blas-threads", f.blas_threads,
                  "OpenBLAS threads (0: 1; raise it, with --threads 1, for MLP-only models)");
  cmd->add_option("--device", f.device, "cpu | cuda | cuda:N | auto (default)");
  cmd->add_option("--config", f.config_file, "JSON config; flags override it");
  cmd->add_option("--dist-timeout", f.dist_timeout,
                  "data-parallel (WORLD_SIZE > 1): seconds a rank waits for the others (300)");
  cmd->add_flag("--resume", f.resume, "Continue the run in --out from its checkpoint");
  cmd->add_option("--optimizer", f.optimizer, "adam | adamw");
  cmd->add_option("--schedule", f.schedule, "Learning-rate schedule: constant | cosine");
  cmd->add_option("--warmup", f.warmup, "Linear warm-up steps");
  cmd->add_option("--grad-clip", f.grad_clip, "Max gradient norm (0: off)");
  cmd->add_option("--ema", f.ema, "EMA decay of the weights (0: off)");
  cmd->add_option("--checkpoint-every", f.checkpoint_every,
                  "Steps between checkpoints (default 1000)");
  cmd->add_option("--log-every", f.log_every, "Steps between metrics rows (default 50)");
  cmd->add_option("--eval-every", f.eval_every, "Steps between test evaluations (0: end only)");
  cmd->add_option("--image-size", f.image_size, "folder: resize images to this square size");
  cmd->add_option("--latent", f.latent, "vae: latent dimensions (default 20)");
  cmd->add_option("--hidden", f.hidden, "vae: hidden layer sizes, e.g. 400 (default) or 512,256");
  cmd->add_option("--likelihood", f.likelihood, "vae: gaussian (default) | bernoulli");
  cmd->add_option("--activation", f.activation, "vae: relu (default) | silu | softplus | tanh");
  cmd->add_option("--binarize", f.binarize,
                  "vae bernoulli: dynamic (default) | threshold | none (grey-level targets)");
  cmd->add_option(
      "--sigma", f.sigma,
      "vae: fixed decoder std (0: learned); score: dsm noise std, esm-kde kernel width");
  cmd->add_option("--beta", f.beta, "vae: KL weight (default 1)");
  cmd->add_option("--kl-warmup", f.kl_warmup, "vae: steps over which the KL weight rises to beta");
  cmd->add_option("--arch", f.arch, "vae: mlp (default) | conv (images)");
  cmd->add_option("--inference", f.inference,
                  "vae: amortized (encoder, default) | svi (per-example q, minibatches) | full "
                  "(per-example q, whole set per step: variational EM)");
  cmd->add_option("--local-lr", f.local_lr, "vae svi/full: Adam rate of the per-example q");
  cmd->add_option("--objective", f.objective, "vae: elbo (default) | iwae");
  cmd->add_option("--k", f.k, "vae: samples per example (the IWAE's K; ELBO: averaged)");
  cmd->add_option("--gamma-schedule", f.gamma_schedule,
                  "vdm: fixed (default) | learned_linear | learned_net (γ = −log SNR)");
  cmd->add_option("--gamma-min", f.gamma_min, "vdm: γ(0) = −log SNR_max (default −13.3)");
  cmd->add_option("--gamma-max", f.gamma_max, "vdm: γ(1) = −log SNR_min (default 5)");
  cmd->add_option("--variance-trick", f.variance_trick,
                  "vdm learned_net: train the schedule's shape to minimise the loss variance "
                  "(default true)");
  cmd->add_option("--T", f.T, "vdm: diffusion steps of the loss L_T (0: continuous, default)");
  cmd->add_option("--channels", f.channels, "vdm unet: channels per level, e.g. 32,64,64");
  cmd->add_option("--blocks", f.blocks, "vdm unet: residual blocks per level");
  cmd->add_option("--patch", f.patch, "vdm unet: space-to-depth factor before the first level");
  cmd->add_option("--attention", f.attention, "vdm unet: self-attention in the middle (true)");
  cmd->add_option("--dropout", f.dropout, "vdm: dropout in the residual blocks");
  cmd->add_option("--sampler", f.sampler, "vdm: ancestral (default) | ddim, for the run's samples");
  cmd->add_option("--sample-steps", f.sample_steps, "vdm: sampling steps (default 1000)");
  cmd->add_option("--method", f.method, "score: ncsn (default) | dsm | esm-kde | ssm");
  cmd->add_option("--sigma-begin", f.sigma_begin, "score ncsn: largest noise level σ_1");
  cmd->add_option("--sigma-end", f.sigma_end, "score ncsn: smallest noise level σ_L");
  cmd->add_option("--num-sigmas", f.num_sigmas, "score ncsn: levels L of the geometric ladder");
  cmd->add_option("--steps-per-level", f.steps_per_level,
                  "score ncsn: annealed Langevin steps T per level (default 100)");
  cmd->add_option("--sample-eps", f.sample_eps, "score ncsn: ε of the step δ_i = ε σ_i²/σ_L²");
  cmd->add_option("--langevin-steps", f.langevin_steps,
                  "score dsm/esm-kde/ssm: Langevin steps when sampling");
  cmd->add_option("--step-size", f.step_size, "score dsm/esm-kde/ssm: Langevin step δ");
  return cmd;
}

// Only the flags the user gave, as a JSON patch over the defaults / config file / saved run.
json train_overrides(CLI::App* cmd, const TrainFlags& f) {
  json o = json::object();
  auto given = [&](const char* name) { return cmd->count(name) > 0; };
  if (given("model")) o["model"] = f.model;
  if (given("--data")) o["data"]["spec"] = f.data;
  if (given("--image-size")) o["data"]["image_size"] = f.image_size;
  if (given("--steps")) o["train"]["steps"] = f.steps;
  if (given("--epochs")) o["train"]["epochs"] = f.epochs;
  if (given("--steps") && !given("--epochs")) o["train"]["epochs"] = 0;
  if (given("--epochs") && !given("--steps")) o["train"]["steps"] = 0;
  if (given("--batch")) o["train"]["batch"] = f.batch;
  if (given("--lr")) o["train"]["lr"] = f.lr;
  if (given("--seed")) o["train"]["seed"] = f.seed;
  if (given("--optimizer")) o["train"]["optimizer"] = f.optimizer;
  if (given("--schedule")) o["train"]["schedule"] = f.schedule;
  if (given("--warmup")) o["train"]["warmup"] = f.warmup;
  if (given("--grad-clip")) o["train"]["grad_clip"] = f.grad_clip;
  if (given("--ema")) o["train"]["ema"] = f.ema;
  if (given("--checkpoint-every")) o["train"]["checkpoint_every"] = f.checkpoint_every;
  if (given("--log-every")) o["train"]["log_every"] = f.log_every;
  if (given("--eval-every")) o["train"]["eval_every"] = f.eval_every;
  if (given("--threads")) o["threads"] = f.threads;
  if (given("--blas-threads")) o["blas_threads"] = f.blas_threads;
  if (given("--device")) o["device"] = f.device;
  if (given("--latent")) o["model_options"]["latent"] = f.latent;
  if (given("--hidden")) o["model_options"]["hidden"] = parse_sizes(f.hidden);
  if (given("--likelihood")) o["model_options"]["likelihood"] = f.likelihood;
  if (given("--activation")) o["model_options"]["activation"] = f.activation;
  if (given("--binarize")) o["model_options"]["binarize"] = f.binarize;
  if (given("--sigma")) o["model_options"]["sigma"] = f.sigma;
  if (given("--beta")) o["model_options"]["beta"] = f.beta;
  if (given("--kl-warmup")) o["model_options"]["kl_warmup"] = f.kl_warmup;
  if (given("--arch")) o["model_options"]["architecture"] = f.arch;
  if (given("--inference")) o["model_options"]["inference"] = f.inference;
  if (given("--local-lr")) o["model_options"]["local_lr"] = f.local_lr;
  if (given("--objective")) o["model_options"]["objective"] = f.objective;
  if (given("--k")) o["model_options"]["k"] = f.k;
  if (given("--gamma-schedule")) o["model_options"]["schedule"] = f.gamma_schedule;
  if (given("--gamma-min")) o["model_options"]["gamma_min"] = f.gamma_min;
  if (given("--gamma-max")) o["model_options"]["gamma_max"] = f.gamma_max;
  if (given("--variance-trick")) o["model_options"]["variance_trick"] = f.variance_trick;
  if (given("--T")) o["model_options"]["T"] = f.T;
  if (given("--channels")) o["model_options"]["channels"] = parse_sizes(f.channels, "--channels");
  if (given("--blocks")) o["model_options"]["blocks"] = f.blocks;
  if (given("--patch")) o["model_options"]["patch"] = f.patch;
  if (given("--attention")) o["model_options"]["attention"] = f.attention;
  if (given("--dropout")) o["model_options"]["dropout"] = f.dropout;
  if (given("--sampler")) o["model_options"]["sampler"] = f.sampler;
  if (given("--sample-steps")) o["model_options"]["sample_steps"] = f.sample_steps;
  if (given("--method")) o["model_options"]["method"] = f.method;
  if (given("--sigma-begin")) o["model_options"]["sigma_begin"] = f.sigma_begin;
  if (given("--sigma-end")) o["model_options"]["sigma_end"] = f.sigma_end;
  if (given("--num-sigmas")) o["model_options"]["num_sigmas"] = f.num_sigmas;
  if (given("--steps-per-level")) o["model_options"]["steps_per_level"] = f.steps_per_level;
  if (given("--sample-eps")) o["model_options"]["sample_eps"] = f.sample_eps;
  if (given("--langevin-steps")) o["model_options"]["langevin_steps"] = f.langevin_steps;
  if (given("--step-size")) o["model_options"]["step_size"] = f.step_size;
  return o;
}

json read_json_file(const std::string& path) {
  json j = json::parse(deepgen::io::read_file(path), nullptr, false);
  if (j.is_discarded()) throw deepgen::Error(path + " is not valid JSON");
  return j;
}

json merged(json base, const json& patch) {
  base.merge_patch(patch);
  return base;
}

int train_command(CLI::App* cmd, const TrainFlags& f) {
  const json patch = train_overrides(cmd, f);
  json base = json::object();
  if (f.resume) {
    // Checked before anything runs: a run dir without a checkpoint must fail with one line and
    // leave its config.json as it was.
    const std::string checkpoint = deepgen::train::checkpoint_path(f.out);
    if (!deepgen::io::file_exists(checkpoint))
      throw deepgen::Error("no checkpoint at " + checkpoint + ": nothing to resume in " + f.out +
                           " (drop --resume to start a new run)");
    base = read_json_file(f.out + "/config.json");
    for (const char* key : {"model", "data", "model_options"})
      if (patch.contains(key) && merged(base[key], patch[key]) != base[key])
        throw deepgen::Error(std::string("--resume continues the run as configured, but '") + key +
                             "' differs from " + f.out + "/config.json");
  } else if (!f.config_file.empty()) {
    base = read_json_file(f.config_file);
  }
  if (!f.resume && !patch.contains("model") && !base.contains("model"))
    throw deepgen::Error("train: name the model, e.g. deepgen train vae --data mnist --out runs/x");
  dc::RunConfig config = dc::run_config_from_json(merged(base, patch));
  config.dist_timeout_s = f.dist_timeout;
  return dc::run_train(config, f.resume, f.out);
}

}  // namespace

int main(int argc, char** argv) {
  deepgen::tune_allocator();
  CLI::App app{"deepgen: deep generative models (VAE, VDM, score models) in C++"};
  app.set_version_flag("--version", deepgen::version());
  app.require_subcommand(1);
  app.failure_message(CLI::FailureMessage::simple);

  TrainFlags tf;
  CLI::App* train = add_train(app, tf);

  dc::SampleRequest sr;
  auto* sample = app.add_subcommand("sample", "Draw samples from a trained run");
  sample->add_option("--run", sr.run_dir, "Run directory")->required();
  sample->add_option("--n", sr.n, "Number of samples");
  sample
      ->add_option("--out", sr.out,
                   "Output: FILE.png (image grid, or scatter of 2-D points) or FILE.csv (points)")
      ->required();
  sample->add_option("--seed", sr.seed, "Random seed");
  bool no_ema = false;
  sample->add_flag("--no-ema", no_ema, "Use the raw weights, not the EMA");
  sample->add_option("--sampler", sr.sampler, "vdm: ancestral | ddim (default: the run's)");
  sample->add_option("--steps", sr.steps, "vdm: sampling steps (default: the run's, 1000)");

  dc::EvalRequest er;
  auto* eval =
      app.add_subcommand("eval", "Evaluate a run on its test split; prints one JSON object");
  eval->add_option("--run", er.run_dir, "Run directory")->required();
  eval->add_option("--batch", er.batch, "Evaluation batch size");
  eval->add_option("--max-batches", er.max_batches, "Evaluate on this many batches (0: all)");
  eval->add_option("--seed", er.seed, "Seed of the evaluation noise");
  eval->add_option("--iwae-k", er.iwae_k, "vae: also the IWAE bound with K samples (test NLL)");
  eval->add_flag("--amortization-gap", er.amortization_gap,
                 "vae: ELBO after fitting q per test point minus the encoder's ELBO");
  eval->add_option("--refine-steps", er.refine_steps,
                   "vae: Adam steps fitting q per test point (default 200)");
  eval->add_option("--refine-lr", er.refine_lr, "vae: their rate (default 0.05)");
  eval->add_option("--eval-samples", er.eval_samples,
                   "vdm: (t, ε) draws per test example, averaged (default 1)");
  eval->add_option("--T", er.T,
                   "vdm: the bound with a T-step diffusion loss (that of the T-step ancestral "
                   "sampler; 0: continuous; default: the run's)");
  eval->add_flag("--fid", er.fid,
                 "Classifier-FID of samples against the test set (mnist / fashion-mnist runs; "
                 "the classifier is trained once and cached in the data root)");
  eval->add_option("--fid-samples", er.fid_samples, "Samples for --fid (default 2000)");
  eval->add_option("--sampler", er.sampler, "vdm: sampler of the sample-based metrics");
  eval->add_option("--steps", er.steps, "vdm: its steps");

  dc::LangevinRequest lr;
  auto* lang = app.add_subcommand(
      "langevin",
      "Sample a target with a known score by Langevin dynamics; prints one JSON object");
  lang->add_option("--target", lr.target,
                   "gmm:w,m1,..,mD,s;... | gaussian:m1,..,mD,s | toy:NAME (ncsn-gmm exact; other "
                   "toys: kernel density of their points)")
      ->required();
  lang->add_option("--out", lr.out, "Output directory (samples.csv, samples.png)")->required();
  lang->add_option("--n", lr.n, "Chains (default 2000)");
  lang->add_option("--steps", lr.steps, "Steps (--annealed: per level; default 1000)");
  lang->add_option("--step-size", lr.step_size,
                   "δ in x + δ∇log p + sqrt(2δ)ε; --annealed: ε of δ_i = ε σ_i²/σ_L²");
  lang->add_flag("--annealed", lr.annealed, "Annealed Langevin over a geometric σ ladder");
  lang->add_flag("--mala", lr.mala, "Metropolis-adjusted Langevin (exact; needs a mixture target)");
  lang->add_option("--sigma-begin", lr.sigma_begin, "--annealed: σ_1 (default 20)");
  lang->add_option("--sigma-end", lr.sigma_end, "--annealed: σ_L (default 1)");
  lang->add_option("--levels", lr.levels, "--annealed: L (default 10)");
  lang->add_option("--init-box", lr.init_box, "Chains start uniform in [-b, b]^D (default 8)");
  lang->add_option("--kde-sigma", lr.kde_sigma, "toy targets: kernel width (default 0.1)");
  lang->add_option("--seed", lr.seed, "Random seed");
  lang->add_option("--threads", lr.threads, "Intra-op CPU threads (0: one per core)");

  auto* info = app.add_subcommand("info", "Version, devices, threads and data sets as JSON");

  std::string demo_out = "runs/demo", demo_device = "auto";
  int demo_threads = 0;
  auto* demo = app.add_subcommand("demo", "The main job: train, sample, evaluate, report");
  demo->add_option("--out", demo_out, "Output directory");
  demo->add_option("--threads", demo_threads, "CPU threads (0: measured default)");
  demo->add_option("--device", demo_device, "cpu | cuda | auto");

  dc::FitGmmRequest gr;
  auto* fit = app.add_subcommand("fit", "Fit a model without the training loop; prints JSON");
  fit->require_subcommand(1);
  auto* fit_gmm = fit->add_subcommand("gmm", "Bayesian Gaussian mixture by mean-field CAVI");
  fit_gmm->add_option("--data", gr.data, "toy:NAME | csv:PATH (fits the train split)")->required();
  fit_gmm->add_option("--components", gr.components, "Mixture components K")->required();
  fit_gmm->add_option("--tol", gr.tol, "Stop when the ELBO changes by less than this per point");
  fit_gmm->add_option("--max-iter", gr.max_iter, "Maximum CAVI sweeps (default 100)");
  fit_gmm->add_option("--seed", gr.seed, "Seed of the k-means++ start and of toy data");
  fit_gmm->add_option("--png", gr.png, "Write the fit as a scatter PNG (2-D data)");
  fit_gmm->add_option("--threads", gr.threads, "Intra-op CPU threads (0: one per core)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "deepgen: error: " << e.what() << " (see deepgen --help)" << std::endl;
    return 2;
  }
  try {
    dc::install_stop_handlers();
    if (*train) return train_command(train, tf);
    if (*sample) {
      sr.ema = !no_ema;
      return dc::run_sample(sr);
    }
    if (*eval) return dc::run_eval(er);
    if (*info) return dc::run_info();
    if (*demo) return dc::run_demo(demo_out, demo_threads, demo_device);
    if (*fit_gmm) return dc::run_fit_gmm(gr);
    if (*lang) return dc::run_langevin(lr);
  } catch (const deepgen::Error& e) {
    std::cerr << "deepgen: error: " << e.what() << std::endl;
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "deepgen: internal error: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
