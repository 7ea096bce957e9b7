// inpaint: a trained run's model completes the unknown values of given images or points.
#include "deepgen/run/inpaint.h"

#include <c10/core/InferenceMode.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "deepgen/core/error.h"
#include "deepgen/core/rng.h"
#include "deepgen/data/files.h"
#include "deepgen/data/options.h"
#include "deepgen/io/files.h"
#include "deepgen/io/image.h"
#include "deepgen/io/npy.h"
#include "deepgen/run/classes.h"
#include "requests_internal.h"

namespace deepgen::run {

using nlohmann::json;

const OptionTable<InpaintRequest>& inpaint_option_table() {
  static const OptionTable<InpaintRequest> table = [] {
    OptionTable<InpaintRequest> t("inpaint");
    using R = InpaintRequest;
    t.add("run", &R::run, "Run directory").commands(kSample);
    t.add("images", &R::images,
          "What to complete: FILE.png or DIR (PNG/JPEG images of the run's size) for image "
          "runs, FILE.csv for point runs (default: the first n of the run's test split)")
        .commands(kSample);
    t.add("mask", &R::mask,
          "Which values are known: top | bottom | left | right (that half is unknown; points: "
          "top/left the first, bottom/right the last half of the coordinates) | random:P (each "
          "pixel unknown with probability P) | FILE.png (white, >= 128, is known; the images' "
          "size)")
        .commands(kSample);
    t.add("out", &R::out,
          "Output folder, new or empty: inpaint.png (a row per input: truth, masked input with "
          "the unknown pixels grey, completions), inpainted.npy (completions in data units, n x "
          "samples x data shape), inpaint.json (their error on the unknown values)")
        .commands(kSample);
    t.add("n", &R::n, "Inputs to complete (the first n images or points)").min(1).commands(kSample);
    t.add("seed", &R::seed, "Random seed (of the completions and of a random: mask)")
        .commands(kSample);
    t.add("resample", &R::resample,
          "Diffusion runs: RePaint's resampling, each step taken this many times with re-noising "
          "between (1: plain replacement; score runs take 1)")
        .min(1)
        .commands(kSample);
    t.add("gibbs_steps", &R::gibbs_steps, "VAE runs: Gibbs rounds through encoder and decoder")
        .min(1)
        .commands(kSample);
    t.add("gibbs", &R::gibbs,
          "VAE runs: metropolis (half the rounds pseudo-Gibbs, then a Metropolis-Hastings chain "
          "on p(z | known pixels) with the encoder as its proposal, which samples the model's own "
          "conditional whatever the encoder's error; Mattei & Frellsen 2018) or pseudo (every "
          "encoder draw kept; Rezende et al. 2014)")
        .choices({"metropolis", "pseudo"})
        .commands(kSample);
    t.add("samples", &R::samples, "Completions of each input").min(1).commands(kSample);
    t.add("class", &R::class_name,
          "Conditional runs: complete every input as this class (a name, or an index; "
          "without it diffusion and score runs use the null class of label dropout, and a "
          "conditional VAE needs it)")
        .commands(kSample);
    return t;
  }();
  return table;
}

json InpaintSummary::to_json() const {
  return {{"out", out},
          {"inputs", inputs},
          {"samples", samples},
          {"unknown_fraction", unknown_fraction},
          {"masked_mse", unknown_fraction > 0 ? json(masked_mse) : json()}};
}

namespace {

bool is_picture(const std::string& path) {
  return ends_with(path, ".png") || ends_with(path, ".jpg") || ends_with(path, ".jpeg");
}

std::string size_text(const std::vector<int64_t>& shape) {
  std::string s;
  for (int64_t d : shape) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

[[noreturn]] void unknown_spec(const std::string& spec) {
  throw Error("inpaint: " + option_ref("inpaint", "mask") + " '" + spec +
              "' is unknown: use top, bottom, left, right, random:P (0 <= P <= 1) or FILE.png");
}

// random:P's P, in [0, 1].
double unknown_probability(const std::string& spec) {
  const std::string p = spec.substr(7);
  size_t used = 0;
  double v = -1;
  try {
    v = std::stod(p, &used);
  } catch (const std::exception&) {
    unknown_spec(spec);
  }
  if (used != p.size() || !(v >= 0 && v <= 1)) unknown_spec(spec);
  return v;
}

// 1 (known) but for the first (or last) ⌈size/2⌉ entries along `dim`.
at::Tensor half_known(const std::vector<int64_t>& shape, int64_t dim, bool first) {
  const int64_t size = shape[dim], unknown = (size + 1) / 2;
  at::Tensor known = torch::ones(shape);
  known.narrow(dim, first ? 0 : size - unknown, unknown).zero_();
  return known;
}

// A PNG of the images' height and width: white (>= 128, the channels' mean) is known.
at::Tensor mask_image(const std::string& path, const std::vector<int64_t>& shape) {
  const at::Tensor pixels = io::read_image(path).to(torch::kFloat).mean(2);  // (H, W)
  const std::vector<int64_t> size{pixels.size(0), pixels.size(1)}, want{shape[2], shape[3]};
  if (size != want)
    throw Error("inpaint: the mask " + path + " is " + size_text(size) + " but the images are " +
                size_text(want) + ": draw the mask at " + size_text(want));
  return (pixels >= 128).to(torch::kFloat).expand(shape).contiguous();
}

// The first n rows of the given file or folder, or of the run's test split, as float32 in data
// units, checked against the run's data shape.
at::Tensor load_inputs(const InpaintRequest& r, const RunConfig& c) {
  const bool images = c.data_shape.size() == 3;
  const std::string given = option_ref("inpaint", "images");
  at::Tensor x;
  if (r.images.empty()) {
    x = data::load_data(c.data).test.values();
  } else if (!images) {
    if (!ends_with(r.images, ".csv"))
      throw Error("inpaint: run " + r.run + " models points: give them to " + given +
                  " as FILE.csv");
    x = data::read_csv_points(r.images);
  } else if (is_picture(r.images)) {
    x = data::as_values(io::read_image(r.images).permute({2, 0, 1}).unsqueeze(0));
  } else {
    x = data::as_values(data::load_image_folder(r.images, 0));
  }
  x = x.narrow(0, 0, std::min<int64_t>(r.n, x.size(0))).to(torch::kFloat).contiguous();
  const std::vector<int64_t> one(x.sizes().begin() + 1, x.sizes().end());
  if (one != c.data_shape)
    throw Error("inpaint: " + (r.images.empty() ? "the test split" : r.images) + " holds " +
                size_text(one) + (images ? " images" : " points") + " but run " + r.run +
                " models " + size_text(c.data_shape) + ": give " + given + " of that size");
  return x;
}

// Each input's row of the picture: the truth, the masked input (unknown pixels mid-grey), then
// its completions.
at::Tensor picture(const at::Tensor& x, const at::Tensor& mask, const at::Tensor& completions) {
  const at::Tensor masked = at::where(mask.to(torch::kBool), x, 0.5);
  return torch::cat({x.unsqueeze(1), masked.unsqueeze(1), completions}, 1).flatten(0, 1);
}

// The files in `out` (new or empty), written beside it and renamed into place at once.
void write_folder(const std::string& out, const std::function<void(const std::string&)>& write) {
  namespace fs = std::filesystem;
  std::string dir = out;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  const fs::path folder(dir);
  if (folder.has_parent_path()) io::make_dirs(folder.parent_path().string());
  const std::string tmp = dir + ".tmp." + std::to_string(::getpid());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  try {
    io::make_dirs(tmp);
    write(tmp);
    fs::rename(tmp, folder);  // replaces an empty folder
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace

at::Tensor inpaint_mask(const std::string& spec, const std::vector<int64_t>& shape, uint64_t seed) {
  const bool images = shape.size() == 4;
  const int64_t rows = images ? 2 : 1, cols = images ? 3 : 1;
  if (spec == "top" || spec == "bottom") return half_known(shape, rows, spec == "top");
  if (spec == "left" || spec == "right") return half_known(shape, cols, spec == "left");
  if (spec.rfind("random:", 0) == 0) {
    const double p = unknown_probability(spec);
    std::vector<int64_t> draw = shape;
    if (images) draw[1] = 1;  // a pixel's channels together
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    return (torch::rand(draw, gen) >= p).to(torch::kFloat).expand(shape).contiguous();
  }
  if (is_picture(spec)) {
    if (!images)
      throw Error("inpaint: a mask image is for image runs; give points runs " +
                  option_ref("inpaint", "mask") + " top, bottom, left, right or random:P");
    return mask_image(spec, shape);
  }
  unknown_spec(spec);
}

InpaintSummary inpaint_run(const InpaintRequest& r, const json& overrides, const json& runtime,
                           const std::function<void(const std::string&)>& log) {
  inpaint_option_table().validate(r);
  if (r.run.empty() || r.out.empty())
    throw Error("inpaint: give the run and the output folder (" + option_ref("inpaint", "run") +
                " DIR, " + option_ref("inpaint", "out") + " DIR)");
  io::check_new_folder(r.out);  // before the work, not after
  const RunConfig c = configured(r.run, overrides, runtime, kSample, log);
  std::vector<int64_t> one{1};
  one.insert(one.end(), c.data_shape.begin(), c.data_shape.end());
  inpaint_mask(r.mask, one, r.seed);  // a bad spec or mask size fails before any work
  auto model = ready_model(c, r.run, true, log).first;
  if (const std::string why = model->inpaint_blocker(); !why.empty()) throw Error(why);
  const at::Tensor x = load_inputs(r, c);
  const at::Tensor mask = inpaint_mask(r.mask, x.sizes().vec(), r.seed);
  const int64_t n = x.size(0), k = r.samples;
  const at::Tensor xs = x.repeat_interleave(k, 0), ms = mask.repeat_interleave(k, 0);
  train::InpaintOptions how{r.resample, r.gibbs_steps, r.gibbs == "metropolis"};
  how.labels = requested_labels(r.run, model->classes(), r.class_name, n * k, 0);
  how.guidance = c.model_options.value("guidance", 0.0);
  const ProgressScope scope(progress_lines(log));
  at::Tensor out;
  {
    c10::InferenceMode guard;
    seed_global(r.seed);
    const c10::Device device = model->module().parameters().front().device();
    out = model->inpaint(xs.to(device), ms.to(device), how).to(torch::kCPU, torch::kFloat);
  }
  std::vector<int64_t> grouped{n, k};
  grouped.insert(grouped.end(), c.data_shape.begin(), c.data_shape.end());
  const at::Tensor completions = out.reshape(grouped);
  const at::Tensor unknown = ms == 0;
  InpaintSummary s{r.out, n, k, unknown.to(torch::kDouble).mean().item<double>(), 0.0};
  if (s.unknown_fraction > 0)
    s.masked_mse =
        (out - xs).masked_select(unknown).to(torch::kDouble).pow(2).mean().item<double>();
  json summary = s.to_json();
  summary["run"] = r.run;
  summary["mask"] = r.mask;
  if (how.labels.defined()) {
    summary["class"] = r.class_name;
    summary["guidance"] = how.guidance;
  }
  summary["images"] = r.images.empty() ? "test split" : r.images;
  write_folder(r.out, [&](const std::string& dir) {
    if (c.data_shape.size() == 3)
      io::write_png(dir + "/inpaint.png", io::image_grid(picture(x, mask, completions), k + 2));
    else if (c.data_shape == std::vector<int64_t>{2})
      io::write_png(dir + "/inpaint.png", io::scatter_image({x, out}));
    io::write_npy(dir + "/inpainted.npy", completions);
    io::write_file_atomic(dir + "/inpaint.json", summary.dump(2) + "\n");
  });
  return s;
}

}  // namespace deepgen::run
