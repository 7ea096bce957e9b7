// Subcommands: flags from the option tables in, run-layer calls out. No family is named here:
// `deepgen train NAME` has one subcommand per registered family (run/families.h).
#include "commands.h"

#include <iostream>

#include "deepgen/core/json_text.h"
#include "deepgen/data/options.h"
#include "deepgen/io/files.h"
#include "deepgen/run/compare.h"
#include "deepgen/run/config.h"
#include "deepgen/run/families.h"
#include "deepgen/run/inpaint.h"
#include "deepgen/train/checkpoint.h"
#include "deepgen/train/options.h"
#include "tables.h"
#include "terminal.h"

namespace deepgen::cli {

using nlohmann::json;

namespace {

// The flags every `train` command line takes, whichever family it trains.
void add_common_train_flags(FlagSet& flags, CLI::App& cmd) {
  const char* groups[] = {"Run", "Training", "Data", "Runtime"};
  for (size_t i = 0; i < 4; ++i)
    flags.add(cmd, option_tables()[i].specs, kTrain, groups[i], option_tables()[i].defaults);
}

// The family one of whose training options has the flag --name, or null.
const train::Family* family_with_flag(const std::string& name) {
  for (const auto* f : run::families())
    for (const auto& s : f->options)
      if (s.flag == name && (s.commands & kTrain)) return f;
  return nullptr;
}

// Arguments CLI11 left over: a model that does not exist, or another family's flag.
void check_extras(const CLI::App& cmd, const std::string& model) {
  for (const std::string& arg : cmd.remaining()) {
    if (arg.rfind("--", 0) != 0) {
      if (model.empty()) run::family(arg);  // throws, naming the available models
      throw Error("deepgen train " + model + " takes no argument '" + arg + "'");
    }
    const std::string name = arg.substr(2, arg.find('=') - 2);
    if (const train::Family* f = family_with_flag(name))
      throw Error("--" + name + " is an option of " + f->name +
                  (model.empty()
                       ? " models: name the model, deepgen train " + f->name +
                             " ... (see deepgen train " + f->name + " --help)"
                       : ", not of " + model + " (see deepgen train " + model + " --help)"));
    throw Error("unknown flag " + arg + " (see deepgen train " + model + " --help)");
  }
}

// sample / eval: a training option of a model is named as such (it cannot change now).
void check_run_extras(const CLI::App& cmd) {
  for (const std::string& arg : cmd.remaining()) {
    const std::string name = arg.rfind("--", 0) == 0 ? arg.substr(2, arg.find('=') - 2) : "";
    if (const train::Family* f = name.empty() ? nullptr : family_with_flag(name))
      throw Error("--" + name + " is fixed when a " + f->name + " model is trained; deepgen " +
                  cmd.get_name() + " cannot change it (see deepgen " + cmd.get_name() + " --help)");
    throw Error("deepgen " + cmd.get_name() + ": unexpected argument '" + arg + "' (see deepgen " +
                cmd.get_name() + " --help)");
  }
}

json read_json_file(const std::string& path) { return parse_json_text(io::read_file(path), path); }

json merged(json base, const json& patch) {
  base.merge_patch(patch);
  return base;
}

// The configuration a train command line asks for: the saved run (resume), or a config file,
// or the defaults, with the given flags over it.
json train_config(const TrainCommand& cmd, const json& patch) {
  if (!cmd.resume) return cmd.config.empty() ? patch : merged(read_json_file(cmd.config), patch);
  // Checked before anything runs: a run dir without a checkpoint must fail with one line and
  // leave its config.json as it was.
  const std::string checkpoint = train::checkpoint_path(cmd.out);
  if (!io::file_exists(checkpoint))
    throw Error("no checkpoint at " + checkpoint + ": nothing to resume in " + cmd.out +
                " (drop --resume to start a new run)");
  json base = run::saved_config(read_json_file(cmd.out + "/config.json"));
  // Sampling options (a VDM's sampler, steps) do not change what is trained: they may change.
  json fixed = patch;
  if (fixed.contains("model_options") && base.contains("model"))
    for (const auto& spec : run::family(base["model"].get<std::string>()).options)
      if (spec.commands & kSample) fixed["model_options"].erase(spec.key);
  for (const char* key : {"model", "data", "model_options"})
    if (fixed.contains(key) && merged(base[key], fixed[key]) != base[key])
      throw Error(std::string("--resume continues the run as configured, but '") + key +
                  "' differs from " + cmd.out + "/config.json");
  return merged(base, patch);
}

}  // namespace

Commands::Commands(CLI::App& app) {
  add_train(app);

  sample_ = app.add_subcommand("sample", "Draw samples from a trained run");
  flags_.add(*sample_, run::sample_option_table().specs(), kSample, "Sampling",
             table_defaults(run::sample_option_table()));
  sample_->allow_extras();
  eval_ = app.add_subcommand("eval", "Evaluate a run on its test split; prints one JSON object");
  eval_->allow_extras();
  flags_.add(*eval_, run::eval_option_table().specs(), kEval, "Evaluation",
             table_defaults(run::eval_option_table()));
  for (const auto* f : run::families()) {
    flags_.add(*sample_, f->options, kSample, f->name + " runs", family_defaults(*f));
    flags_.add(*eval_, f->options, kEval, f->name + " runs", family_defaults(*f));
  }
  // Process settings over the run's config.json; without the flag the run's own apply.
  flags_.add(*sample_, run::runtime_option_table().specs(), kSample, "Runtime (default: the run's)",
             {});
  flags_.add(*eval_, run::runtime_option_table().specs(), kEval, "Runtime (default: the run's)",
             {});
  add_inpaint(app);

  langevin_ = app.add_subcommand(
      "langevin",
      "Sample a target with a known score by Langevin dynamics; prints one JSON object");
  flags_.add(*langevin_, langevin_option_table().specs(), kTrain, "Langevin",
             table_defaults(langevin_option_table()));
  info_ = app.add_subcommand("info", "Version, devices, threads and data sets as JSON");
  demo_ = app.add_subcommand("demo", "The main job: train, sample, evaluate, report");
  flags_.add(*demo_, demo_option_table().specs(), kTrain, "Demo",
             table_defaults(demo_option_table()));
  auto* fit = app.add_subcommand("fit", "Fit a model without the training loop; prints JSON");
  fit->require_subcommand(1);
  fit_gmm_ = fit->add_subcommand("gmm", "Bayesian Gaussian mixture by mean-field CAVI");
  flags_.add(*fit_gmm_, fit_gmm_option_table().specs(), kTrain, "Fit",
             table_defaults(fit_gmm_option_table()));
  compare_ = app.add_subcommand(
      "compare", "Likelihoods of several runs of one data set in one table; prints JSON");
  flags_.add(*compare_, run::compare_option_table().specs(), kTrain, "Compare",
             table_defaults(run::compare_option_table()));
  options_ = app.add_subcommand("options", "Every option: flag, config.json key, default, help");
  options_->add_flag("--markdown", markdown_, "As the Markdown of docs/options.md");
}

void Commands::add_train(CLI::App& app) {
  train_ = app.add_subcommand("train", "Train a model; writes checkpoints, samples, report");
  train_->require_subcommand(0, 1);
  train_->allow_extras();
  add_common_train_flags(flags_, *train_);
  for (const auto* f : run::families()) {
    CLI::App* sub = train_->add_subcommand(f->name, f->summary);
    sub->allow_extras();
    add_common_train_flags(flags_, *sub);
    flags_.add(*sub, f->options, kTrain, f->name + " model", family_defaults(*f));
    train_families_.push_back(sub);
  }
}

int Commands::run() {
  if (*train_) return train();
  if (*sample_) return sample();
  if (*eval_) return eval();
  if (*inpaint_) return inpaint();
  if (*info_) return run_info();
  if (*options_) return run_options(markdown_);
  if (*demo_) {
    DemoRequest r;
    flags_.apply(*demo_, demo_option_table(), r);
    return run_demo(r);
  }
  if (*compare_) {
    run::CompareRequest r;
    flags_.apply(*compare_, run::compare_option_table(), r);
    std::cout << run::compare_runs(r).dump() << std::endl;
    return 0;
  }
  if (*fit_gmm_) {
    FitGmmRequest r;
    flags_.apply(*fit_gmm_, fit_gmm_option_table(), r);
    return run_fit_gmm(r);
  }
  if (*langevin_) {
    LangevinRequest r;
    flags_.apply(*langevin_, langevin_option_table(), r);
    return run_langevin(r);
  }
  return 0;
}

int Commands::train() {
  std::string model;
  const CLI::App* family_cmd = nullptr;
  for (auto* sub : train_families_)
    if (*sub) model = sub->get_name(), family_cmd = sub;
  check_extras(*train_, "");
  if (family_cmd) check_extras(*family_cmd, model);
  TrainCommand cmd;
  json patch = json::object();
  for (const CLI::App* app : {static_cast<const CLI::App*>(train_), family_cmd}) {
    if (!app) continue;
    flags_.apply(*app, train_command_table(), cmd);
    for (const auto& g : flags_.given(*app))
      if (g.spec.section != train_command_table().section())
        run::set_in_config(patch, g.spec, g.value);
  }
  if (cmd.out.empty()) throw Error("train: --out DIR is required (the run directory)");
  if (!model.empty()) patch["model"] = model;
  // One length: --steps alone means steps, --epochs alone means epochs.
  if (patch.contains("train")) {
    json& t = patch["train"];
    if (t.contains("steps") && !t.contains("epochs")) t["epochs"] = 0;
    if (t.contains("epochs") && !t.contains("steps")) t["steps"] = 0;
  }
  const json config = train_config(cmd, patch);
  if (!config.contains("model"))
    throw Error("train: name the model, e.g. deepgen train vae --data mnist --out runs/x");
  return train_on_console(
      {run::run_config_from_json(config), cmd.out, cmd.resume, cmd.dist_timeout},
      [this](const std::string& line) { log_line(message(line)); });
}

json Commands::family_overrides(const CLI::App& cmd, const std::string& run_dir) const {
  const std::string model = run::load_run_config(run_dir).model;
  json overrides = json::object();
  const std::vector<FlagSet::Given> given = flags_.given(cmd);
  // A flag several families share (--sampler) is given once per family: the run's own applies.
  auto is_models = [&](const std::string& flag) {
    for (const auto& g : given)
      if (g.flag == flag && g.spec.section == model) return true;
    return false;
  };
  auto owners = [&](const std::string& flag) {  // "vdm and score" for a flag both declare
    std::string s;
    for (const auto& g : given)
      if (g.flag == flag) s += (s.empty() ? "" : " and ") + g.spec.section;
    return s;
  };
  for (const auto& g : given) {
    if (g.spec.section == "sample" || g.spec.section == "eval") continue;
    if (g.spec.section == run::inpaint_option_table().section()) continue;
    if (g.spec.section == run::runtime_option_table().section()) continue;
    if (g.spec.section != model && is_models(g.flag)) continue;
    if (g.spec.section != model)
      throw Error(g.flag + " applies to " + owners(g.flag) + " runs, not to " + run_dir + " (a " +
                  model + " run)");
    overrides[g.spec.key] = g.value;
  }
  return overrides;
}

json Commands::runtime_overrides(const CLI::App& cmd) const {
  json runtime = json::object();
  for (const auto& g : flags_.given(cmd))
    if (g.spec.section == run::runtime_option_table().section()) runtime[g.spec.key] = g.value;
  return runtime;
}

int Commands::sample() {
  check_run_extras(*sample_);
  run::SampleRequest r;
  flags_.apply(*sample_, run::sample_option_table(), r);
  if (r.run.empty() || r.out.empty()) throw Error("sample: --run DIR and --out FILE are required");
  const std::string out =
      run::sample_run(r, family_overrides(*sample_, r.run), runtime_overrides(*sample_), log_line);
  log_line("wrote " +
           (r.per_class > 0 ? std::to_string(r.per_class) + " samples of each class"
                            : std::to_string(r.n) + " samples") +
           " to " + out);
  return 0;
}

int Commands::eval() {
  check_run_extras(*eval_);
  run::EvalRequest r;
  flags_.apply(*eval_, run::eval_option_table(), r);
  if (r.run.empty()) throw Error("eval: --run DIR is required");
  const json out =
      run::eval_run(r, family_overrides(*eval_, r.run), log_line, runtime_overrides(*eval_));
  std::cout << out.dump() << std::endl;
  return 0;
}

// Like sample: the run's sampling options may be given (a VDM's --steps, a score run's
// --steps-per-level), and the process settings over the run's.
void Commands::add_inpaint(CLI::App& app) {
  inpaint_ = app.add_subcommand(
      "inpaint", "Complete images (or points) given some of their values; writes a folder");
  inpaint_->allow_extras();
  flags_.add(*inpaint_, run::inpaint_option_table().specs(), kSample, "Inpainting",
             table_defaults(run::inpaint_option_table()));
  for (const auto* f : run::families())
    flags_.add(*inpaint_, f->options, kSample, f->name + " runs", family_defaults(*f));
  flags_.add(*inpaint_, run::runtime_option_table().specs(), kSample,
             "Runtime (default: the run's)", {});
}

int Commands::inpaint() {
  check_run_extras(*inpaint_);
  run::InpaintRequest r;
  flags_.apply(*inpaint_, run::inpaint_option_table(), r);
  if (r.run.empty() || r.out.empty()) throw Error("inpaint: --run DIR and --out DIR are required");
  const run::InpaintSummary s = run::inpaint_run(r, family_overrides(*inpaint_, r.run),
                                                 runtime_overrides(*inpaint_), log_line);
  log_line("wrote " + std::to_string(s.samples) + " completion(s) of each of " +
           std::to_string(s.inputs) + " inputs to " + s.out + " (" + s.to_json().dump() + ")");
  return 0;
}

}  // namespace deepgen::cli
