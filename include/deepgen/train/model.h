#pragma once
// The interface between a model family and the shared trainer, evaluator and CLI.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "deepgen/data/dataset.h"

namespace deepgen::train {

// One training batch: the examples, their rows in the training set, and the optimiser step.
struct TrainBatch {
  at::Tensor x;       // on the module's device
  at::Tensor index;   // int64 rows of the training set (models with per-example state use them)
  int64_t step = 0;   // 0-based step this batch is for (schedules inside a model, e.g. KL warm-up)
  at::Tensor labels;  // int64 (B) class indices, given to a conditional model (classes() > 0)
};

struct LossOutput {
  at::Tensor loss;  // scalar to minimise: mean over the batch
  // Scalars to log (means over the batch), e.g. {"recon", ..}, {"kl", ..}. Read after the step.
  std::vector<std::pair<std::string, at::Tensor>> parts;
};

// A diffusion or score model's probability-flow ODE (BEYOND B3–B4), from which the change of
// variables (ode/likelihood.h) gives log-densities: data x (data units) enter as z(t0) =
// to_state(x), an affine map with log|det ∂z/∂x| = log_det per example; the drift carries z to
// t1, where prior_log_prob gives the density. So log p(x) = prior + ∫∇·drift dt + log_det.
struct ProbabilityFlow {
  std::function<at::Tensor(const at::Tensor& z, double t)> drift;
  double t0 = 0.0, t1 = 1.0;
  std::function<at::Tensor(const at::Tensor& x)> to_state;
  double log_det = 0.0;
  std::function<at::Tensor(const at::Tensor& z1)> prior_log_prob;  // per example (B)
  // Optional, for a model with its own decoder and a bound below t0 (the VDM's p(x|z_0) and its
  // diffusion loss): z(t0) drawn from q(z_t0|x), and per example the rest of the bound, `extra`,
  // such that −log P(x) ≤ E[−log p_ODE(z(t0)) + extra] — a variational dequantisation
  // (t0 = 0: extra = log q(z_0|x) − log p(x|z_0)). Without it, 8-bit data are dequantised
  // uniformly through to_state. `dequantization` says in words what extra holds.
  std::function<std::pair<at::Tensor, at::Tensor>(const at::Tensor& x)> dequantize;
  std::string dequantization;
};

// How inpainting conditions on known pixels (BEYOND B5).
struct InpaintOptions {
  // Diffusion and score models (replacement, Song et al. 2021): RePaint's resampling (Lugmayr et
  // al. 2022): each step is repeated this many times, re-noised in between (1: plain replacement).
  int64_t resample = 1;
  int64_t gibbs_steps = 100;  // VAE: Gibbs rounds through encoder and decoder
  // VAE: the second half of the rounds a Metropolis-Hastings chain on p(z | x_known) (Mattei &
  // Frellsen 2018), or pseudo-Gibbs throughout (Rezende et al. 2014), which keeps every z the
  // encoder draws.
  bool metropolis = true;
  // Conditional models (BEYOND B5): the class of each row of x (int64; undefined: none — the
  // null class ∅ of label dropout for diffusion and score models) and the guidance w.
  at::Tensor labels;
  double guidance = 0.0;
};

// The checks every family's inpaint() makes first (src/train/inpaint.cpp): x (B, data shape),
// mask of x's shape holding only 0 and 1, resample and gibbs_steps at least 1, labels (if any)
// one per row, of a conditional model's `classes`; errors name `who` (the model) and the input.
void check_inpaint_inputs(const std::string& who, const at::Tensor& x, const at::Tensor& mask,
                          const std::vector<int64_t>& data_shape, const InpaintOptions& options,
                          int64_t classes = 0);

class GenerativeModel {
 public:
  virtual ~GenerativeModel() = default;
  virtual std::string name() const = 0;
  virtual torch::nn::Module& module() = 0;
  // Training objective on a batch in data units, on the module's device.
  virtual LossOutput loss(const at::Tensor& x) = 0;
  // The trainer's objective: loss(x) unless the model needs the rows or the step.
  virtual LossOutput train_loss(const TrainBatch& batch) { return loss(batch.x); }
  // After the shared optimiser's step: state the model updates itself, e.g. per-example
  // variational parameters that only the batch's rows may touch.
  virtual void after_step(const TrainBatch& /*batch*/) {}
  // Test metrics on a batch (means over the batch). Runs without gradients.
  virtual LossOutput evaluate(const at::Tensor& x) { return loss(x); }
  // The test metrics of a batch with its labels: a conditional model's −log p(x|y).
  virtual LossOutput test_loss(const TrainBatch& batch) { return evaluate(batch.x); }
  // n samples in data units and data shape, on the module's device. A conditional model draws
  // the classes uniformly and guides by its own guidance option.
  virtual at::Tensor sample(int64_t n) = 0;
  // The classes a conditional model generates (nn/condition.h); 0: unconditional.
  virtual int64_t classes() const { return 0; }
  // One sample of each class in labels (int64, on the module's device) under classifier-free
  // guidance w (BEYOND B5). Only for classes() > 0.
  virtual at::Tensor sample_classes(const at::Tensor& labels, double guidance);
  // Why the model cannot inpaint (complete images given some of their pixels), "" if it can.
  virtual std::string inpaint_blocker() const { return "a " + name() + " model cannot inpaint"; }
  // x (B, data shape) in data units and mask (B, data shape) of 1 where a value is known:
  // samples of the unknown values given the known ones, which are returned exactly.
  virtual at::Tensor inpaint(const at::Tensor& x, const at::Tensor& mask,
                             const InpaintOptions& options);
  // Why the model cannot train data-parallel (state outside its parameters that ranks would
  // update apart), or "" when it can.
  virtual std::string data_parallel_blocker() const { return {}; }
  // Data a model keeps beside its weights, given the training set after it is made: the
  // kernel density's points of esm-kde (MATH 3.2a). Not saved: the run reloads its data.
  virtual void keep_training_data(const data::Dataset& /*train*/) {}
  // Whether --precision auto runs this model's network in bf16 (core/precision.h). Measured
  // (bench/bench_precision, one thread, AVX-512 + bf16 CPU): the image U-Nets train 1.44-1.47x
  // faster per step in bf16; the VAE's MLP gains 1.5x too, but its Gaussian decoder's likelihood
  // feels the rounding (63.7 against 61.9 nats after 200 MNIST steps), and 2-D MLPs gain
  // nothing (each step is dispatch-bound), so those stay float32 unless bf16 is asked for.
  virtual bool gains_from_bf16() const { return false; }
  // Why the model has no probability-flow ODE (e.g. a VAE), or "" when probability_flow() gives
  // one.
  virtual std::string probability_flow_blocker() const {
    return "a " + name() + " model has no probability-flow ODE";
  }
  // The flow; a conditional model's of the classes `labels`, one per row of the states it will
  // be given (undefined: ∅), so its density is p(x|y). t0 > 0 starts it later, for a model
  // whose dequantize bounds the part [0, t0] another way (the VDM); others throw Error.
  virtual ProbabilityFlow probability_flow(const at::Tensor& /*labels*/, double /*t0*/) {
    return {};
  }
  // Model's reconstruction of x, or an undefined tensor when the model has none.
  virtual at::Tensor reconstruct(const at::Tensor& /*x*/) { return {}; }
};

}  // namespace deepgen::train
