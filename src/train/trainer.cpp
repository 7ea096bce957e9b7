#include "deepgen/train/trainer.h"

#include <chrono>
#include <filesystem>

#include "data_parallel.h"
#include "deepgen/core/error.h"
#include "deepgen/core/json_text.h"
#include "deepgen/core/options.h"
#include "deepgen/core/rng.h"
#include "deepgen/data/loader.h"
#include "deepgen/dist/comm.h"
#include "deepgen/io/files.h"
#include "deepgen/io/metrics.h"
#include "deepgen/train/checkpoint.h"
#include "deepgen/train/ema.h"
#include "deepgen/train/options.h"
#include "deepgen/train/spike.h"

namespace deepgen::train {

std::string checkpoint_path(const std::string& run_dir) { return run_dir + "/checkpoint.pt"; }
std::string weights_path(const std::string& run_dir) { return run_dir + "/model.safetensors"; }
std::string ema_weights_path(const std::string& run_dir) { return run_dir + "/ema.safetensors"; }
std::string metrics_path(const std::string& run_dir) { return run_dir + "/metrics.jsonl"; }
std::string spike_checkpoint_path(const std::string& run_dir) {
  return run_dir + "/checkpoint-before-spike.pt";
}
std::string divergence_path(const std::string& run_dir) { return run_dir + "/diverged.json"; }

namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kEvalSeed = 0x5eed5eedULL;  // evaluation noise is the same at every call

// The labels of rows idx for a conditional model, else undefined (its adapt refused unlabelled
// data, so a conditional model always finds them).
at::Tensor labels_for(const GenerativeModel& model, const data::Dataset& data,
                      const at::Tensor& idx, c10::Device device) {
  if (model.classes() == 0 || !data.labels.defined()) return {};
  return data.labels.index_select(0, idx.cpu()).to(device);
}

// Sums of the loss and its parts over the steps since the last metrics row. Parts stay tensors
// so that logging them costs no device sync per step.
class Window {
 public:
  void add(double loss, const LossOutput& out) {
    loss_sum_ += loss;
    for (const auto& [name, value] : out.parts) {
      at::Tensor v = value.detach();
      auto it = parts_.find(name);
      if (it == parts_.end())
        parts_.emplace(name, v.clone());
      else
        it->second.add_(v);
    }
    ++count_;
  }
  // Means over the window; the loss is already the ranks' mean, the parts are averaged over
  // ranks here (every rank logs the same parts in the same order, so one reduction serves all).
  io::MetricRow mean(DataParallel& parallel) const {
    io::MetricRow row{{"loss", loss_sum_ / count_}};
    if (parts_.empty()) return row;
    std::vector<at::Tensor> sums;
    for (const auto& [name, sum] : parts_) sums.push_back(sum.to(at::kDouble).reshape({1}));
    at::Tensor all = at::cat(sums).cpu();
    parallel.average(all, count_);
    int64_t i = 0;
    for (const auto& [name, sum] : parts_) row[name] = all[i++].item<double>();
    return row;
  }
  int64_t count() const { return count_; }
  void reset() { *this = Window(); }

 private:
  double loss_sum_ = 0.0;
  int64_t count_ = 0;
  std::map<std::string, at::Tensor> parts_;
};

class Run {
 public:
  Run(GenerativeModel& model, const data::Dataset& train_data, const data::Dataset* test_data,
      const TrainOptions& o, const TrainCallbacks& cb)
      : model_(model),
        module_(model.module()),
        train_data_(train_data),
        test_data_(test_data),
        o_(o),
        cb_(cb),
        parallel_(o.comm, o.bucket_elems, cb),
        sampler_(train_data.size(), o.batch, o.seed, parallel_.rank(), parallel_.world()) {
    total_ = o.steps > 0 ? o.steps : o.epochs * sampler_.batches_per_epoch();
    optimizer_ = make_optimizer(o.optimizer, module_);
    parallel_.attach(model_, *optimizer_);
    if (o.ema_decay > 0) ema_ = std::make_unique<Ema>(module_, o.ema_decay);
  }

  TrainResult run() {
    io::make_dirs(o_.run_dir);
    start();
    module_.train();
    const auto t0 = Clock::now();
    const int64_t first = step_;
    while (step_ < total_) {
      if (parallel_.stop_requested()) return interrupt();
      train_step();
      report_progress(t0, first);
      if (step_ % o_.log_every == 0 || step_ == total_) log_row(t0, first);
      if (o_.eval_every > 0 && step_ % o_.eval_every == 0 && step_ != total_) run_eval();
      if (step_ % o_.checkpoint_every == 0 && step_ != total_) save("checkpoint");
    }
    if (test_data_) run_eval();
    save("final checkpoint");
    result_.step = step_;
    return result_;
  }

 private:
  void start() {
    const std::string metrics = metrics_path(o_.run_dir);
    CheckpointState s;
    if (o_.resume && parallel_.writer()) check_divergence();
    if (o_.resume && parallel_.writer())
      s = load_checkpoint(checkpoint_path(o_.run_dir), module_, ema_.get(), *optimizer_);
    parallel_.broadcast_state(module_, ema_.get());
    if (o_.resume) {
      parallel_.share_checkpoint(s, o_.seed);
      if (s.step < 0 || s.step > total_)
        throw Error("the checkpoint is at step " + std::to_string(s.step) + " but the run has " +
                    std::to_string(total_) + ": give " + option_ref("train", "steps") + " above " +
                    std::to_string(std::max<int64_t>(s.step, 0)) + " to train on (" +
                    checkpoint_path(o_.run_dir) + ")");
      step_ = checkpoint_step_ = s.step;
      set_global_rng_state(s.rng);
      if (parallel_.writer()) io::truncate_metrics(metrics, static_cast<double>(step_));
      message("resumed from step " + std::to_string(step_) + " of " + std::to_string(total_));
    } else {
      seed_global(parallel_.rank_seed(mix_seed(o_.seed, 1)));
      if (parallel_.writer()) std::filesystem::remove(metrics);
    }
  }

  void train_step() {
    const double lr = learning_rate(o_.optimizer, step_, total_);
    set_learning_rate(*optimizer_, lr);
    TrainBatch batch;
    batch.index = sampler_.indices(step_);
    batch.x = data::gather(train_data_, batch.index, o_.device);
    batch.labels = labels_for(model_, train_data_, batch.index, o_.device);
    batch.index = batch.index.to(o_.device);
    batch.step = step_;
    zero_grad(*optimizer_);
    LossOutput out = model_.train_loss(batch);
    const double local_loss = out.loss.item<double>();
    out.loss.backward();
    const double loss = parallel_.reduce(local_loss);  // the ranks' mean
    if (!std::isfinite(loss)) nan_error(loss);         // on every rank at the same step
    if (o_.optimizer.grad_clip > 0)
      last_grad_norm_ = clip_grad_norm(*optimizer_, o_.optimizer.grad_clip);
    optimizer_->step();
    model_.after_step(batch);
    if (ema_) ema_->update(module_, step_);
    ++step_;
    window_.add(loss, out);
    ewma_loss_ = have_ewma_ ? 0.9 * ewma_loss_ + 0.1 * loss : loss;
    have_ewma_ = true;
  }

  // The weights are already lost at this step; what is left to decide is which checkpoint to
  // go back to (one written during a spike holds finite but diverging weights) and how to keep
  // a plain --resume from walking into the same divergence (diverged.json, read by start()).
  [[noreturn]] void nan_error(double loss) {
    const std::string ckpt = checkpoint_path(o_.run_dir);
    const std::string before = spike_checkpoint_path(o_.run_dir);
    std::string keep = "no checkpoint was written yet";
    if (spike_.in_spike() && io::file_exists(before))
      keep = "the loss had been spiking since step " + std::to_string(spike_step_) +
             ", so checkpoint.pt (step " + std::to_string(checkpoint_step_) +
             ") may hold diverging weights; the one before the spike is " + before +
             ": copy it over checkpoint.pt,";
    else if (io::file_exists(ckpt))
      keep = "the last good checkpoint is kept at " + ckpt + ";";
    if (parallel_.writer()) {
      nlohmann::json d{{"step", step_ + 1},
                       {"loss", std::isnan(loss) ? "nan"
                                : loss > 0       ? "inf"
                                                 : "-inf"},
                       {"lr", o_.optimizer.lr},
                       {"grad_clip", o_.optimizer.grad_clip},
                       {"checkpoint_step", checkpoint_step_}};
      io::write_file_atomic(divergence_path(o_.run_dir), d.dump(2) + "\n");
    }
    throw Error("non-finite training loss (" + std::to_string(loss) + ") at step " +
                std::to_string(step_ + 1) + "; training stopped and " + keep +
                " then resume with a lower " + option_ref("train", "lr") + " or a " +
                option_ref("train", "grad_clip") +
                " (a plain resume would repeat it and is refused), or check the data for NaN/Inf");
  }

  // A run that diverged resumes only with a lower learning rate or a tighter clip; the marker
  // goes once it does, so the new values (saved in config.json) are what a later resume checks.
  void check_divergence() {
    const std::string path = divergence_path(o_.run_dir);
    if (!io::file_exists(path)) return;
    const nlohmann::json d = parse_json_text(io::read_file(path), path);
    double lr = 0.0, clip = 0.0;
    try {
      lr = d.at("lr").get<double>();
      clip = d.at("grad_clip").get<double>();
    } catch (const nlohmann::json::exception&) {
      throw Error(path + " is not a divergence record of deepgen's: delete it to resume");
    }
    const double new_clip = o_.optimizer.grad_clip;
    const bool tighter_clip = new_clip > 0 && (clip <= 0 || new_clip < clip);
    if (o_.optimizer.lr >= lr && !tighter_clip) {
      const std::string lr_ref = option_ref("train", "lr"),
                        clip_ref = option_ref("train", "grad_clip");
      char lr_text[32], clip_text[32];
      std::snprintf(lr_text, sizeof lr_text, " %g and ", lr);
      std::snprintf(clip_text, sizeof clip_text, " %g", clip);
      throw Error("this run diverged at step " + std::to_string(d.value("step", int64_t{0})) +
                  " with " + lr_ref + lr_text + clip_ref + clip_text + ": resume with a lower " +
                  lr_ref + " or a smaller " + clip_ref + " (delete " + path +
                  " to repeat it as it was)");
    }
    std::filesystem::remove(path);
    message("resuming a run that diverged at step " + std::to_string(d.value("step", int64_t{0})) +
            " with new optimiser settings");
  }

  void report_progress(Clock::time_point t0, int64_t first) {
    if (!cb_.on_progress) return;
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    Progress p;
    p.step = step_;
    p.total = total_;
    p.epoch = sampler_.epoch_of(step_ - 1);
    p.loss = ewma_loss_;
    p.steps_per_sec = secs > 0 ? (step_ - first) / secs : 0.0;
    p.eta_seconds = p.steps_per_sec > 0 ? (total_ - step_) / p.steps_per_sec : 0.0;
    p.spike_step = spike_step_;
    cb_.on_progress(p);
  }

  void log_row(Clock::time_point t0, int64_t first) {
    window_steps_ = window_.count();
    io::MetricRow row = window_.mean(parallel_);
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    row["step"] = static_cast<double>(step_);
    row["epoch"] = static_cast<double>(sampler_.epoch_of(step_ - 1));
    row["lr"] = learning_rate(o_.optimizer, step_ - 1, total_);
    row["steps_per_sec"] = secs > 0 ? (step_ - first) / secs : 0.0;
    if (o_.optimizer.grad_clip > 0) row["grad_norm"] = last_grad_norm_;
    if (spike_.observe(step_, row["loss"])) report_spike(row["loss"]);
    if (spike_.in_spike()) row["spike"] = 1.0;
    if (parallel_.writer()) io::append_metrics(metrics_path(o_.run_dir), row);
    result_.last_metrics = row;
    window_.reset();
  }

  // Keeps the last checkpoint, which precedes the spike (or falls in its window, then said so),
  // since the next regular checkpoint would overwrite it with the diverged weights.
  void report_spike(double mean) {
    spike_step_ = step_;
    const int64_t from = std::max<int64_t>(0, step_ - window_steps_);
    std::string keep = "no checkpoint was written before it";
    const std::string ckpt = checkpoint_path(o_.run_dir);
    if (checkpoint_step_ > 0 && io::file_exists(ckpt)) {
      if (parallel_.writer())
        io::write_file_atomic(spike_checkpoint_path(o_.run_dir), io::read_file(ckpt));
      keep = "the checkpoint of step " + std::to_string(checkpoint_step_) +
             (checkpoint_step_ > from ? " (inside the spike's window)" : "") + " is kept as " +
             spike_checkpoint_path(o_.run_dir) +
             "; to go on from it, copy it over checkpoint.pt and resume with a lower " +
             option_ref("train", "lr") + " or " + option_ref("train", "grad_clip");
    }
    char numbers[160];
    std::snprintf(numbers, sizeof numbers,
                  "mean loss %.4g over steps %lld-%lld, best %.4g at step %lld", mean,
                  static_cast<long long>(from + 1), static_cast<long long>(step_), spike_.best(),
                  static_cast<long long>(spike_.best_step()));
    message("loss spike at step " + std::to_string(step_) + ": " + numbers + "; " + keep);
  }

  // Evaluation draws its noise from a fixed seed and restores the training stream afterwards,
  // so evaluating never changes what training does.
  void run_eval() {
    if (!test_data_) return;
    at::Tensor rng = global_rng_state();
    seed_global(parallel_.rank_seed(kEvalSeed));
    std::map<std::string, double> m;
    {
      EmaScope scope(ema_.get(), module_);
      module_.eval();
      m = evaluate(model_, *test_data_, o_.batch, o_.device, o_.eval_batches, &parallel_.comm());
      module_.train();
    }
    set_global_rng_state(rng);
    io::MetricRow row{{"step", static_cast<double>(step_)}};
    result_.test_metrics.clear();
    for (const auto& [k, v] : m) row["test/" + k] = result_.test_metrics["test/" + k] = v;
    if (parallel_.writer()) io::append_metrics(metrics_path(o_.run_dir), row);
  }

  // Every rank takes part (its random state goes into the checkpoint); rank 0 writes.
  void save(const std::string& what) {
    CheckpointState state{step_, global_rng_state(), {}};
    state.rng_ranks = parallel_.gather_rng(state.rng);
    if (!parallel_.writer()) return;
    // The checkpoint first: should a write fail (a full disk), the weights are never ahead of it.
    save_checkpoint(checkpoint_path(o_.run_dir), module_, ema_.get(), *optimizer_, state);
    auto meta = o_.weights_metadata;
    meta["weights"] = "model";
    save_weights(weights_path(o_.run_dir), module_, meta);
    if (ema_) {
      EmaScope scope(ema_.get(), module_);
      meta["weights"] = "ema";
      save_weights(ema_weights_path(o_.run_dir), module_, meta);
    }
    checkpoint_step_ = step_;
    message(what + " written at step " + std::to_string(step_));
  }

  TrainResult interrupt() {
    save("interrupted: checkpoint");
    result_.outcome = Outcome::interrupted;
    result_.step = step_;
    return result_;
  }

  void message(const std::string& m) {
    if (cb_.on_message) cb_.on_message(m);
  }

  GenerativeModel& model_;
  torch::nn::Module& module_;
  const data::Dataset& train_data_;
  const data::Dataset* test_data_;
  const TrainOptions& o_;
  const TrainCallbacks& cb_;
  DataParallel parallel_;  // what the ranks exchange; trivial with one process
  data::BatchSampler sampler_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<Ema> ema_;
  int64_t total_ = 0, step_ = 0;
  LossSpikeDetector spike_{o_.spike_factor};
  int64_t spike_step_ = 0, checkpoint_step_ = 0, window_steps_ = 0;
  double ewma_loss_ = 0.0, last_grad_norm_ = 0.0;
  bool have_ewma_ = false;
  Window window_;
  TrainResult result_;
};

}  // namespace

void check_options(const TrainOptions& o, const data::Dataset& train_data) {
  if (o.run_dir.empty()) throw Error("training needs a run directory (TrainOptions::run_dir)");
  train_option_table().validate(o);
  if (o.steps == 0 && o.epochs == 0)
    throw Error("set the training length: " + option_ref("train", "steps") + " N or " +
                option_ref("train", "epochs") + " N");
  if (o.batch > train_data.size())
    throw Error(option_ref("train", "batch") + " " + std::to_string(o.batch) + " exceeds the " +
                std::to_string(train_data.size()) + " examples of the training split of " +
                train_data.name.substr(0, train_data.name.rfind('/')) + ": lower it");
  validate(o.optimizer);
}

TrainResult train(GenerativeModel& model, const data::Dataset& train_data,
                  const data::Dataset* test_data, const TrainOptions& options,
                  const TrainCallbacks& callbacks) {
  check_options(options, train_data);
  return Run(model, train_data, test_data, options, callbacks).run();
}

std::map<std::string, double> evaluate(GenerativeModel& model, const data::Dataset& data,
                                       int64_t batch, c10::Device device, int64_t max_batches,
                                       dist::Communicator* comm, const EvalProgress& progress) {
  torch::NoGradGuard no_grad;
  const int64_t n = data.size();
  if (n == 0) throw Error("cannot evaluate on the empty data set " + data.name);
  int64_t count = (n + batch - 1) / batch;
  if (max_batches > 0) count = std::min(count, max_batches);
  // Shard only when every rank gets a batch: the reduction needs every rank's metric names.
  const int world = comm != nullptr && count >= comm->world() ? comm->world() : 1;
  const int rank = world > 1 ? comm->rank() : 0;
  std::map<std::string, double> sums;
  int64_t seen = 0;
  for (int64_t b = rank; b < count; b += world) {
    const int64_t start = b * batch;
    const int64_t len = std::min(batch, n - start);
    at::Tensor idx = torch::arange(start, start + len, torch::kInt64);
    TrainBatch test;
    test.x = data::gather(data, idx, device);
    test.labels = labels_for(model, data, idx, device);
    LossOutput out = model.test_loss(test);
    sums["loss"] += out.loss.item<double>() * len;
    for (const auto& [name, value] : out.parts) sums[name] += value.item<double>() * len;
    seen += len;
    if (progress) progress((b - rank) / world + 1, (count - rank + world - 1) / world);
  }
  if (world > 1) {
    std::vector<double> values{static_cast<double>(seen)};
    for (const auto& [k, v] : sums) values.push_back(v);
    at::Tensor all = torch::tensor(values, at::kDouble);
    comm->allreduce_sum({all});
    seen = static_cast<int64_t>(all[0].item<double>());
    int64_t i = 1;
    for (auto& [k, v] : sums) v = all[i++].item<double>();
  }
  for (auto& [k, v] : sums) v /= seen;
  return sums;
}

}  // namespace deepgen::train
