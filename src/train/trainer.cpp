#include "deepgen/train/trainer.h"

#include <chrono>
#include <filesystem>

#include "deepgen/core/error.h"
#include "deepgen/core/rng.h"
#include "deepgen/data/loader.h"
#include "deepgen/dist/comm.h"
#include "deepgen/io/files.h"
#include "deepgen/io/metrics.h"
#include "deepgen/train/checkpoint.h"
#include "deepgen/train/ema.h"
#include "deepgen/train/flat_adam.h"

namespace deepgen::train {

std::string checkpoint_path(const std::string& run_dir) { return run_dir + "/checkpoint.pt"; }
std::string weights_path(const std::string& run_dir) { return run_dir + "/model.safetensors"; }
std::string ema_weights_path(const std::string& run_dir) { return run_dir + "/ema.safetensors"; }
std::string metrics_path(const std::string& run_dir) { return run_dir + "/metrics.jsonl"; }

namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kEvalSeed = 0x5eed5eedULL;  // evaluation noise is the same at every call

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
  // Means over the window; the loss is already the ranks' mean, the parts are reduced here
  // (every rank logs the same parts in the same order, so one all-reduce serves them all).
  io::MetricRow mean(dist::Communicator& comm) const {
    io::MetricRow row{{"loss", loss_sum_ / count_}};
    if (parts_.empty()) return row;
    std::vector<at::Tensor> sums;
    for (const auto& [name, sum] : parts_) sums.push_back(sum.to(at::kDouble).reshape({1}));
    at::Tensor all = at::cat(sums).cpu();
    comm.allreduce_sum({all});
    all.div_(comm.world() * count_);
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

void check_options(const TrainOptions& o, const data::Dataset& train_data) {
  if (o.run_dir.empty()) throw Error("training needs a run directory (--out DIR)");
  if (o.batch <= 0) throw Error("--batch must be positive");
  if (o.steps < 0 || o.epochs < 0) throw Error("--steps and --epochs must be >= 0");
  if (o.steps == 0 && o.epochs == 0)
    throw Error("set the training length: --steps N or --epochs N");
  if (o.batch > train_data.size())
    throw Error("--batch " + std::to_string(o.batch) + " exceeds the " +
                std::to_string(train_data.size()) + " training examples of " + train_data.name);
  if (o.checkpoint_every <= 0 || o.log_every <= 0)
    throw Error("--checkpoint-every and --log-every must be positive");
  validate(o.optimizer);
}

// Every rank draws its own noise; rank 0's stream is the single-process one.
uint64_t rank_seed(uint64_t seed, int rank) {
  return rank == 0 ? seed : mix_seed(seed, 0x7a4b0000ULL + static_cast<uint64_t>(rank));
}

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
        comm_(o.comm ? o.comm : dist::single_process()),
        writer_(comm_->rank() == 0),
        sampler_(train_data.size(), o.batch, o.seed, comm_->rank(), comm_->world()) {
    total_ = o.steps > 0 ? o.steps : o.epochs * sampler_.batches_per_epoch();
    optimizer_ = make_optimizer(o.optimizer, module_);
    flat_ = dynamic_cast<FlatAdam*>(optimizer_.get());
    if (comm_->world() > 1) check_data_parallel();
    if (o.ema_decay > 0) ema_ = std::make_unique<Ema>(module_, o.ema_decay);
  }

  TrainResult run() {
    io::make_dirs(o_.run_dir);
    start();
    module_.train();
    const auto t0 = Clock::now();
    const int64_t first = step_;
    while (step_ < total_) {
      if (stop_requested()) return interrupt();
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
    if (o_.resume && writer_)
      s = load_checkpoint(checkpoint_path(o_.run_dir), module_, ema_.get(), *optimizer_);
    if (comm_->world() > 1) broadcast_state(s);
    if (o_.resume) {
      step_ = s.step;
      set_global_rng_state(s.rng);
      if (writer_) io::truncate_metrics(metrics, static_cast<double>(step_));
      message("resumed from step " + std::to_string(step_) + " of " + std::to_string(total_));
    } else {
      seed_global(rank_seed(mix_seed(o_.seed, 1), comm_->rank()));
      if (writer_) std::filesystem::remove(metrics);
    }
  }

  void check_data_parallel() {
    const std::string blocker = model_.data_parallel_blocker();
    if (!blocker.empty()) throw Error("data-parallel training (WORLD_SIZE > 1): " + blocker);
    if (!flat_)
      throw Error(
          "data-parallel training needs the parameters in one buffer (one dtype and device)");
  }

  // Rank 0's model, EMA, optimiser state, step and every rank's random state (on resume) reach
  // every rank, so all ranks start the same and each continues its own noise stream.
  void broadcast_state(CheckpointState& s) {
    std::vector<at::Tensor> tensors{flat_->flat().values()};
    for (const at::Tensor& b : module_.buffers()) tensors.push_back(b);
    if (ema_)
      for (const at::Tensor& t : ema_->shadow()) tensors.push_back(t);
    for (const at::Tensor& t : flat_->state_tensors()) tensors.push_back(t);
    torch::NoGradGuard no_grad;
    comm_->broadcast(tensors);
    if (!o_.resume) return;
    at::Tensor ranks;  // rank 0's checkpoint: (saved world, generator state bytes)
    if (writer_) ranks = s.rng_ranks.defined() ? s.rng_ranks : s.rng.unsqueeze(0);
    at::Tensor head = torch::tensor(
        {s.step, writer_ ? ranks.size(0) : int64_t{0}, writer_ ? ranks.size(1) : int64_t{0}});
    comm_->broadcast({head});
    s.step = head[0].item<int64_t>();
    const int64_t saved_world = head[1].item<int64_t>();
    at::Tensor all =
        writer_ ? ranks.contiguous() : at::empty({saved_world, head[2].item<int64_t>()}, at::kByte);
    comm_->broadcast({all});
    if (comm_->rank() < saved_world) {
      s.rng = all[comm_->rank()].clone();
      return;
    }
    seed_global(rank_seed(mix_seed(o_.seed, 1 + static_cast<uint64_t>(s.step)), comm_->rank()));
    s.rng = global_rng_state();
    message("the checkpoint has the random state of " + std::to_string(saved_world) +
            " rank(s); this rank starts a fresh noise stream");
  }

  // With several ranks the flag is the reduced one of the last step, so all stop together.
  bool stop_requested() {
    if (comm_->world() > 1) return stop_all_;
    return cb_.should_stop && cb_.should_stop();
  }

  void train_step() {
    const double lr = learning_rate(o_.optimizer, step_, total_);
    set_learning_rate(*optimizer_, lr);
    TrainBatch batch;
    batch.index = sampler_.indices(step_);
    batch.x = data::gather(train_data_, batch.index, o_.device);
    batch.index = batch.index.to(o_.device);
    batch.step = step_;
    zero_grad(*optimizer_);
    LossOutput out = model_.train_loss(batch);
    double loss = out.loss.item<double>();
    if (comm_->world() == 1 && !std::isfinite(loss)) nan_error(loss);
    out.loss.backward();
    if (comm_->world() > 1) loss = reduce_gradients(loss);
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

  // Averages the gradients over ranks (bucketed, one flat buffer) together with the loss and
  // the stop flag: a non-finite loss on any rank makes the mean non-finite on every rank, so all
  // ranks stop at the same step. Returns the ranks' mean loss.
  double reduce_gradients(double loss) {
    const bool stop = cb_.should_stop && cb_.should_stop();
    at::Tensor scalars = torch::tensor({loss, stop ? 1.0 : 0.0}, at::kDouble);
    const at::Tensor& grads = flat_->flat().grads();
    std::vector<at::Tensor> bufs = dist::buckets(grads, o_.bucket_elems);
    bufs.push_back(scalars);
    comm_->allreduce_sum(bufs);
    grads.div_(comm_->world());
    stop_all_ = scalars[1].item<double>() > 0;
    const double mean = scalars[0].item<double>() / comm_->world();
    if (!std::isfinite(mean)) nan_error(mean);
    return mean;
  }

  [[noreturn]] void nan_error(double loss) {
    const std::string ckpt = checkpoint_path(o_.run_dir);
    std::string keep = io::file_exists(ckpt) ? "the last good checkpoint is kept at " + ckpt
                                             : "no checkpoint was written yet";
    throw Error("non-finite training loss (" + std::to_string(loss) + ") at step " +
                std::to_string(step_ + 1) + "; training stopped and " + keep +
                ". Lower --lr, set --grad-clip, or check the data for NaN/Inf");
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
    cb_.on_progress(p);
  }

  void log_row(Clock::time_point t0, int64_t first) {
    io::MetricRow row = window_.mean(*comm_);
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    row["step"] = static_cast<double>(step_);
    row["epoch"] = static_cast<double>(sampler_.epoch_of(step_ - 1));
    row["lr"] = learning_rate(o_.optimizer, step_ - 1, total_);
    row["steps_per_sec"] = secs > 0 ? (step_ - first) / secs : 0.0;
    if (o_.optimizer.grad_clip > 0) row["grad_norm"] = last_grad_norm_;
    if (writer_) io::append_metrics(metrics_path(o_.run_dir), row);
    result_.last_metrics = row;
    window_.reset();
  }

  // Evaluation draws its noise from a fixed seed and restores the training stream afterwards,
  // so evaluating never changes what training does.
  void run_eval() {
    if (!test_data_) return;
    at::Tensor rng = global_rng_state();
    seed_global(rank_seed(kEvalSeed, comm_->rank()));
    std::map<std::string, double> m;
    {
      EmaScope scope(ema_.get(), module_);
      module_.eval();
      m = evaluate(model_, *test_data_, o_.batch, o_.device, o_.eval_batches, comm_.get());
      module_.train();
    }
    set_global_rng_state(rng);
    io::MetricRow row{{"step", static_cast<double>(step_)}};
    result_.test_metrics.clear();
    for (const auto& [k, v] : m) row["test/" + k] = result_.test_metrics["test/" + k] = v;
    if (writer_) io::append_metrics(metrics_path(o_.run_dir), row);
  }

  // Every rank takes part (its random state goes into the checkpoint); rank 0 writes.
  void save(const std::string& what) {
    CheckpointState state{step_, global_rng_state(), {}};
    if (comm_->world() > 1) state.rng_ranks = comm_->allgather(state.rng);
    if (!writer_) return;
    save_weights(weights_path(o_.run_dir), module_);
    if (ema_) {
      EmaScope scope(ema_.get(), module_);
      save_weights(ema_weights_path(o_.run_dir), module_);
    }
    save_checkpoint(checkpoint_path(o_.run_dir), module_, ema_.get(), *optimizer_, state);
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
  std::shared_ptr<dist::Communicator> comm_;
  bool writer_;  // rank 0: the one that writes files
  data::BatchSampler sampler_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  FlatAdam* flat_ = nullptr;  // optimizer_ when it is the flat one
  std::unique_ptr<Ema> ema_;
  int64_t total_ = 0, step_ = 0;
  double ewma_loss_ = 0.0, last_grad_norm_ = 0.0;
  bool have_ewma_ = false, stop_all_ = false;
  Window window_;
  TrainResult result_;
};

}  // namespace

TrainResult train(GenerativeModel& model, const data::Dataset& train_data,
                  const data::Dataset* test_data, const TrainOptions& options,
                  const TrainCallbacks& callbacks) {
  check_options(options, train_data);
  return Run(model, train_data, test_data, options, callbacks).run();
}

std::map<std::string, double> evaluate(GenerativeModel& model, const data::Dataset& data,
                                       int64_t batch, c10::Device device, int64_t max_batches,
                                       dist::Communicator* comm) {
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
    LossOutput out = model.evaluate(data::gather(data, idx, device));
    sums["loss"] += out.loss.item<double>() * len;
    for (const auto& [name, value] : out.parts) sums[name] += value.item<double>() * len;
    seen += len;
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
