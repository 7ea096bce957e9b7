// The evaluation envelope, samples and reconstructions of a trained run.
#include "deepgen/run/outputs.h"

#include <c10/core/InferenceMode.h>

#include "deepgen/core/error.h"
#include "deepgen/core/rng.h"
#include "deepgen/core/runtime.h"
#include "deepgen/data/options.h"
#include "deepgen/eval/fid.h"
#include "deepgen/eval/metrics.h"
#include "deepgen/io/files.h"
#include "deepgen/io/image.h"
#include "deepgen/io/plot.h"
#include "deepgen/run/model.h"
#include "deepgen/run/run_dir.h"
#include "deepgen/train/trainer.h"

namespace deepgen::run {

using nlohmann::json;

at::Tensor draw_samples(train::GenerativeModel& model, int64_t n, uint64_t seed) {
  c10::InferenceMode guard;
  seed_global(seed);
  return model.sample(n).to(torch::kCPU);
}

at::Tensor draw_class_samples(train::GenerativeModel& model, const at::Tensor& labels,
                              uint64_t seed, double guidance) {
  c10::InferenceMode guard;
  seed_global(seed);
  const c10::Device device = model.module().parameters().front().device();
  return model.sample_classes(labels.to(device), guidance).to(torch::kCPU);
}

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

json evaluation(train::GenerativeModel& model, const RunConfig& c, const data::Dataset& test,
                int64_t batch, int64_t max_batches, uint64_t seed,
                const train::EvalProgress& progress) {
  const c10::Device device = resolve_device(c.runtime.device);
  seed_global(seed);
  model.module().eval();
  json metrics = train::evaluate(model, test, batch, device, max_batches, nullptr, progress);
  json out{{"model", c.model},
           {"data", c.data.spec},
           {"split", "test"},
           {"examples", max_batches > 0 ? std::min(test.size(), batch * max_batches) : test.size()},
           {"units", family_of(c).units},
           {"metrics", metrics}};
  json kinds = json::object();  // every likelihood printed says what it is
  for (const auto& [key, kind] : family_of(c).likelihoods(c.model_options))
    if (metrics.contains(key)) kinds[key] = kind;
  out["likelihoods"] = kinds;
  if (test.kind == data::Kind::points) {
    const json sampling = family_of(c).sampling(c.model_options);
    if (!sampling.is_null()) out["sampling"] = sampling;
    const int64_t n = std::min<int64_t>(2000, test.size());
    at::Tensor s = draw_samples(model, n, seed + 1);
    out["energy_distance"] = eval::energy_distance(s, test.rows(0, n));
    out["energy_distance_samples"] = n;
  }
  return out;
}

namespace {

// The project's classifier of the run's data set (cached in the data root), for `metric`.
eval::TrainedClassifier data_classifier(const RunConfig& c, const std::string& metric,
                                        const std::function<void(const std::string&)>& log) {
  if (c.data.spec != "mnist" && c.data.spec != "fashion-mnist")
    throw Error(metric +
                " asks the classifier of mnist or fashion-mnist images; this run was "
                "trained on " +
                c.data.spec);
  return eval::load_or_train_classifier(c.data.spec, data::data_root(), {}, log);
}

}  // namespace

json fid_metric(train::GenerativeModel& model, const RunConfig& c, const data::Dataset& test,
                int64_t samples, uint64_t seed,
                const std::function<void(const std::string&)>& log) {
  if (samples < eval::kMinFidImages)
    throw Error("classifier-FID needs at least " + std::to_string(eval::kMinFidImages) +
                " samples (" + option_ref("eval", "fid_samples") + "), got " +
                std::to_string(samples));
  const eval::TrainedClassifier classifier = data_classifier(c, "classifier-FID", log);
  std::vector<at::Tensor> parts;
  for (int64_t done = 0, i = 0; done < samples; done += 500, ++i)
    parts.push_back(draw_samples(model, std::min<int64_t>(500, samples - done), seed + 7 * i));
  const eval::FidResult f = eval::classifier_fid(classifier, torch::cat(parts), test.values());
  json out{{"fid", f.fid},
           {"precision", f.precision_recall.precision},
           {"recall", f.precision_recall.recall},
           {"precision_recall_k", f.precision_recall.k},
           {"samples", f.n_samples},
           {"reference", "test split (" + std::to_string(f.n_reference) + " images)"},
           {"classifier_test_accuracy", f.classifier_accuracy},
           {"sample_class_histogram", f.sample_class_histogram}};
  if (!f.warning.empty()) out["warning"] = f.warning;
  const json sampling = family_of(c).sampling(c.model_options);
  if (!sampling.is_null()) out["sampling"] = sampling;
  return out;
}

namespace {

// Rows alternate: up to 8 test images, then their reconstructions.
void write_reconstructions(train::GenerativeModel& model, const RunConfig& c,
                           const data::Dataset& test, const std::string& path) {
  const int64_t cols = std::min<int64_t>(8, test.size());
  const int64_t n = std::min<int64_t>(32, test.size()) / cols * cols;
  at::Tensor x = test.rows(0, n);
  at::Tensor recon;
  {
    torch::NoGradGuard no_grad;  // not InferenceMode: per-example inference fits q by gradients
    recon = model.reconstruct(x.to(resolve_device(c.runtime.device)));
  }
  if (!recon.defined()) return;
  recon = recon.to(torch::kCPU).reshape(x.sizes());
  std::vector<at::Tensor> rows;
  for (int64_t i = 0; i < n; i += cols) {
    rows.push_back(x.slice(0, i, i + cols));
    rows.push_back(recon.slice(0, i, i + cols));
  }
  io::write_png(path, io::image_grid(torch::cat(rows), cols));
}

// The same picture as samples.png with axes in data units, for the report.
std::string scatter_svg(const at::Tensor& test, const at::Tensor& samples) {
  auto series = [](const std::string& name, const at::Tensor& p) {
    const at::Tensor d = p.to(torch::kDouble).contiguous();
    const auto a = d.accessor<double, 2>();
    io::Series s{name, {}, {}};
    for (int64_t i = 0; i < a.size(0); ++i) {
      s.x.push_back(a[i][0]);
      s.y.push_back(a[i][1]);
    }
    return s;
  };
  io::ChartOptions o{"Samples over test data", "x₁ (data units)", "x₂ (data units)"};
  o.scatter = true;
  o.height = 480;
  return io::line_chart_svg({series("test data", test), series("samples", samples)}, o);
}

}  // namespace

nlohmann::json class_accuracy_metric(train::GenerativeModel& model, const RunConfig& c,
                                     int64_t per_class, uint64_t seed, double guidance,
                                     const std::function<void(const std::string&)>& log) {
  eval::TrainedClassifier classifier = data_classifier(c, "class accuracy", log);
  if (model.classes() != eval::kClassCount)
    throw Error("class accuracy needs a conditional run of the " +
                std::to_string(eval::kClassCount) + " classes: train it with --conditional");
  std::vector<double> shares;
  double sum = 0;
  for (int64_t k = 0; k < model.classes(); ++k) {
    data::Dataset drawn;
    drawn.kind = data::Kind::image;
    drawn.labels = torch::full({per_class}, k, torch::kLong);
    drawn.x = draw_class_samples(model, drawn.labels, seed + static_cast<uint64_t>(k), guidance);
    shares.push_back(eval::classifier_accuracy(classifier.model, drawn));
    sum += shares.back();
  }
  return {{"accuracy", sum / static_cast<double>(shares.size())},
          {"per_class", shares},
          {"samples_per_class", per_class},
          {"guidance", guidance},
          {"classifier_test_accuracy", classifier.test_accuracy}};
}

void write_outputs(train::GenerativeModel& model, const RunConfig& c, const data::Splits& data,
                   const std::string& run_dir) {
  const RunDir dir(run_dir);
  json ev = evaluation(model, c, data.test, 500, c.train.final_eval_batches, c.train.seed);
  io::write_file_atomic(dir.eval(), ev.dump(2) + "\n");
  if (data.train.kind == data::Kind::points) {
    at::Tensor samples = draw_samples(model, 2000, c.train.seed);
    write_csv(dir.samples_csv(), samples);
    if (samples.size(1) == 2) {  // test data in grey, samples in blue
      const at::Tensor test = data.test.rows(0, std::min<int64_t>(2000, data.test.size()));
      io::write_png(dir.samples_png(), io::scatter_image({test, samples}));
      io::write_file_atomic(dir.samples_svg(), scatter_svg(test, samples));
    }
    return;
  }
  at::Tensor samples = draw_samples(model, 64, c.train.seed);
  io::write_png(dir.samples_png(), io::image_grid(samples, 8));
  write_reconstructions(model, c, data.test, dir.reconstructions());
}

}  // namespace deepgen::run
