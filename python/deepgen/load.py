"""deepgen.load(run_dir): a trained run's model with its weights, ready to sample.

Mirrors src/run/config.cpp (saved_config: what an older config.json left implicit),
src/run/model.cpp (load_trained_model: which weights file), src/run/outputs.cpp (draw_samples:
seed the global generator, sample, return CPU tensors), src/run/requests.cpp (sample_run: only
the family's sampling options may change for a trained run) and src/core/precision.cpp
(resolve_precision: what "auto" means).
"""
import json
import os

import torch

from . import nets, safetensors, score, vae, vdm

# The options `deepgen sample` may override (kSample in the families' option tables).
SAMPLING_OPTIONS = {
    "vae": (),
    "vdm": ("sampler", "sample_steps", "sample_grid"),
    "score": ("sampler", "steps_per_level", "sample_eps", "sigma_steps", "predictor",
              "corrector_steps", "snr", "ode_solver", "langevin_steps", "step_size",
              "final_denoise", "init_box"),
}


def saved_config(config):
    """run::saved_config: a run saved without "precision" was trained in float32; a score run
    saved without "architecture" has NCSN's small U-Net."""
    config = dict(config)
    config.setdefault("precision", "fp32")
    if config.get("model") == "score":
        config["model_options"] = dict(config.get("model_options", {}))
        config["model_options"].setdefault("architecture", "small-unet")
    return config


def weights_path(run_dir, config, ema=True):
    """run::load_trained_model's rule: ema.safetensors only when asked for (not --no-ema), the
    run was trained with EMA (train.ema > 0) and the file exists; else model.safetensors (an
    ema.safetensors left in the folder by an earlier run is not this run's)."""
    ema_file = os.path.join(run_dir, "ema.safetensors")
    if ema and config.get("train", {}).get("ema", 0.0) > 0 and os.path.isfile(ema_file):
        return ema_file
    return os.path.join(run_dir, "model.safetensors")


def _cpu_has_bf16():
    """core::detect_bf16_support for the CPU: avx512_bf16 or amx_bf16 among its flags."""
    flags = nets.cpu_flags()
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(name, family, options, data_shape, device):
    """core::resolve_precision: "auto" is bf16 where the device computes it natively and the
    network gains from it (the image U-Nets of vdm and score), else fp32."""
    if name in ("fp32", "bf16"):
        return name
    if name != "auto":
        raise ValueError("unknown precision '%s': use fp32, bf16 or auto" % name)
    image = len(data_shape) == 3
    gains = (family == "score" and image) or (
        family == "vdm" and image and options.get("architecture", "unet") == "unet")
    if device.type == "cuda":
        native = torch.cuda.is_bf16_supported()
    else:
        native = _cpu_has_bf16()
    return "bf16" if native and gains else "fp32"


class Model:
    """A trained run: `module` holds exactly the weights file's tensors, `network` is the
    family's network (VAE: the whole VAE with encode / decode; VDM: the ε-network ε̂(z, γ);
    score: s(x, σ)), `family_model` the family's object (vae.Vae, vdm.Vdm, score.ScoreModel)."""

    def __init__(self, run_dir, config, family_model, module, network, weights, metadata):
        self.run_dir, self.config, self.family = run_dir, config, config["model"]
        self.family_model, self.module, self.network = family_model, module, network
        self.weights_path, self.metadata = weights, metadata
        self.data_shape = list(config["data_shape"])

    @property
    def options(self):
        """The model options in effect (config.json's, with defaults for missing keys)."""
        return self.family_model.options

    @property
    def precision(self):
        return self.family_model.precision

    def _overrides(self, steps, sampler, options):
        allowed = SAMPLING_OPTIONS[self.family]
        for key in options:
            if key not in allowed:
                raise ValueError("%s: option '%s' is fixed when the model is trained (sampling "
                                 "options: %s)" % (self.family, key, ", ".join(allowed) or "none"))
        out = dict(options)
        if sampler is not None:
            if self.family == "vae":
                raise ValueError("vae: there is one way to sample a VAE; no sampler to choose")
            out["sampler"] = sampler
        if steps is not None:
            out[self._steps_option(out.get("sampler", self.options.get("sampler")))] = steps
        return out

    def _steps_option(self, sampler):
        """Which option `steps` sets: vdm sample_steps (`deepgen sample --steps`); score:
        steps_per_level (ncsn annealed), langevin_steps (the single-σ methods), sigma_steps
        (pc and ode)."""
        if self.family == "vdm":
            return "sample_steps"
        if self.family == "score":
            if sampler != "annealed":
                return "sigma_steps"
            return "steps_per_level" if self.options["method"] == "ncsn" else "langevin_steps"
        raise ValueError("vae: a VAE sample is one decoder pass; there are no steps to set")

    def sample(self, n, seed=0, steps=None, sampler=None, **options):
        """n samples in data units as a float32 CPU tensor, (n, C, H, W) or (n, D): what
        `deepgen sample --run R --n n --seed seed [--steps S] [--sampler X]` writes to .npy.
        Other sampling options by their config.json names, e.g. sample_grid="eta"."""
        overrides = self._overrides(steps, sampler, options)
        saved = self.family_model.options
        self.family_model.options = {**saved, **overrides}
        try:
            with torch.no_grad():
                torch.manual_seed(seed)  # run::draw_samples seeds the global generator
                return self.family_model.sample(n).cpu()
        finally:
            self.family_model.options = saved


def _run_and_weights(path, ema):
    """(run_dir, config, weights file) of a run directory, or of a weights file that carries its
    run's config in __metadata__ (deepgen writes it there; older files lack it)."""
    if os.path.isdir(path):
        config_file = os.path.join(path, "config.json")
        if not os.path.isfile(config_file):
            raise FileNotFoundError("no run at %s (missing config.json)" % path)
        with open(config_file) as f:
            config = saved_config(json.load(f))
        return path, config, weights_path(path, config, ema)
    if not os.path.isfile(path):
        raise FileNotFoundError("no run or weights file at %s" % path)
    _, metadata = safetensors.read(path)
    if "config" not in metadata:
        raise ValueError("%s carries no run config in its metadata: load its run directory"
                         % path)
    return os.path.dirname(path), saved_config(json.loads(metadata["config"])), path


def load(path, ema=True, precision=None, device="cpu"):
    """The run in `path` (a run directory, or a .safetensors file whose metadata holds the
    run's config): its family and options, its weights loaded strictly (every name and shape
    must match), in eval mode.

    ema: False is `deepgen sample --no-ema` (a weights file given directly is used as it is).
    precision: None takes the run's ("fp32", "bf16" or "auto", resolved as deepgen does); a
    value is `--precision`. device: where the network runs (deepgen's "auto" would pick CUDA
    when available; the CPU is the default here).
    """
    run_dir, config, weights = _run_and_weights(path, ema)
    family, shape = config.get("model"), list(config["data_shape"])
    options = config.get("model_options", {})
    device = torch.device(device)
    # Building the networks draws their initial weights: keep the caller's random stream.
    with torch.random.fork_rng(devices=[]):
        if family == "vae":
            family_model = module = network = vae.Vae(options, shape)
        elif family == "vdm":
            family_model = module = vdm.Vdm(options, shape)
            network = module.net
        elif family == "score":
            family_model = score.ScoreModel(options, shape)
            module = network = family_model.network
        else:
            raise ValueError("%s: unknown model '%s' (vae, vdm, score)" % (path, family))
    if not os.path.isfile(weights):
        raise FileNotFoundError("run %s has no weights yet (missing %s)" % (run_dir, weights))
    tensors, metadata = safetensors.read(weights)
    module.load_state_dict(tensors, strict=True)
    module.to(device).eval()
    family_model.precision = resolve_precision(
        precision or config["precision"], family, family_model.options, shape, device)
    return Model(run_dir, config, family_model, module, network, weights, metadata)
