// TrainOptions declared once: config.json's "train" section, the flags, help and checks.
#include "deepgen/train/options.h"

#include "deepgen/core/options.h"

namespace deepgen::train {

namespace {

OptimizerOptions& opt(TrainOptions& t) { return t.optimizer; }

OptionTable<TrainOptions> make_table() {
  OptionTable<TrainOptions> t("train");
  using O = TrainOptions;
  t.add("steps", &O::steps, "Optimiser steps (0: epochs decides)").min(0);
  t.add("epochs", &O::epochs, "Epochs, when steps is 0").min(0);
  t.add("batch", &O::batch, "Batch size (the global batch when data-parallel)").min(1);
  t.add("seed", &O::seed, "Random seed of the weights, the batches and the noise");
  t.add("ema", &O::ema_decay, "EMA decay of the weights (0: off)").min(0);
  t.add("checkpoint_every", &O::checkpoint_every, "Steps between checkpoints").min(1);
  t.add("log_every", &O::log_every, "Steps between metrics.jsonl rows").min(1);
  t.add("eval_every", &O::eval_every, "Steps between test evaluations (0: at the end only)").min(0);
  t.add("eval_batches", &O::eval_batches, "Test batches per evaluation (0: the whole test set)")
      .min(0);
  t.add("final_eval_batches", &O::final_eval_batches,
        "The run's eval.json after training: test batches of 500 (0: the whole test set)")
      .min(0);
  t.add("spike_factor", &O::spike_factor,
        "Report a loss spike when a log window's mean loss exceeds the best by this × |best| "
        "(0: off)")
      .min(0);
  auto o = [](auto member) {
    return [member](TrainOptions & x) -> auto& { return opt(x).*member; };
  };
  using P = OptimizerOptions;
  t.add_with<std::string>("optimizer", o(&P::name), "Optimiser").choices({"adam", "adamw"});
  t.add_with<double>("lr", o(&P::lr), "Learning rate").greater(0);
  t.add_with<double>("beta1", o(&P::beta1), "Adam β1").min(0);
  t.add_with<double>("beta2", o(&P::beta2), "Adam β2").min(0);
  t.add_with<double>("eps", o(&P::eps), "Adam ε").greater(0);
  t.add_with<double>("weight_decay", o(&P::weight_decay), "Weight decay (adamw: decoupled)").min(0);
  t.add_with<std::string>("schedule", o(&P::schedule), "Learning-rate schedule after warm-up")
      .choices({"constant", "cosine"});
  t.add_with<int64_t>("warmup", o(&P::warmup), "Linear learning-rate warm-up steps").min(0);
  t.add_with<double>("min_lr_factor", o(&P::min_lr_factor),
                     "cosine: the floor, as a fraction of lr")
      .min(0);
  t.add_with<double>("grad_clip", o(&P::grad_clip), "Max global gradient norm (0: off)").min(0);
  return t;
}

}  // namespace

const OptionTable<TrainOptions>& train_option_table() {
  static const OptionTable<TrainOptions> table = make_table();
  return table;
}

}  // namespace deepgen::train
