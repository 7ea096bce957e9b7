#!/usr/bin/python3
"""python/deepgen against the deepgen binary: tiny runs of every family, sampled by both.

    export_test.py --deepgen BUILD/bin/deepgen --data DATA_ROOT [--keep DIR]

For each run, `deepgen sample --run R --seed S --n N --out X.npy` and deepgen.load(R).sample(N,
seed=S) must give the same array. Both sides run the same libtorch build (Debian's libtorch1.13,
which python3-torch wraps), the same operations in the same order, and one thread each, so
the arrays are compared bit for bit (tolerance 0) for every family, sampler and precision:
any difference is a mismatch in the maths, the weights or the order of the random draws. The
binary runs with DEEPGEN_FUSED=0 for that: its fused loops (nn/fused.h: GroupNorm → SiLU, softplus)
round differently from the ATen operators the mirror runs, so two more checks sample with them
on (a U-Net's GroupNorm → SiLU, a score MLP's softplus) and compare within a tolerance.

The data root is $DEEPGEN_DATA when set (as the binary reads it), else --data. Without MNIST
the image runs are skipped and the test exits 77 (CTest: skipped) after the point runs pass.
"""
import argparse
import ctypes
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "python"))
import deepgen  # noqa: E402

SKIPPED = 77
FIXTURES = os.path.join(REPO, "tests", "run", "fixtures")
# Small enough that every run trains in seconds on 2 cores; the weights still move off their
# zero initialisation (lr 1e-2), so the networks' outputs depend on every layer.
COMMON = ["--threads", "1", "--precision", "fp32", "--eval-batches", "1", "--lr", "0.01",
          "--log-every", "1"]
TOY = ["--data", "toy:moons", "--toy-train", "512", "--toy-test", "128", "--batch", "64"]
UNET = ["--channels", "8,16", "--blocks", "1"]

# name: (train arguments after `train`, [(sample flags, Python keyword arguments), ...]).
# Every sampler the CLI offers, each with few steps.
MNIST_RUNS = {
    "vae_mlp_ema": (["vae", "--data", "mnist", "--steps", "3", "--batch", "16", "--hidden", "32",
                     "--latent", "4", "--ema", "0.5"],
                    [([], {}), (["--no-ema"], {"ema": False})]),
    "vae_conv_bernoulli": (["vae", "--data", "mnist", "--steps", "3", "--batch", "16",
                            "--arch", "conv", "--conv-channels", "4,8", "--latent", "4",
                            "--likelihood", "bernoulli"], [([], {})]),
    "vae_mlp_logistic": (["vae", "--data", "mnist", "--steps", "3", "--batch", "16",
                          "--hidden", "32", "--latent", "4", "--likelihood", "logistic"],
                         [([], {})]),
    "vae_conv_logistic": (["vae", "--data", "mnist", "--steps", "3", "--batch", "16",
                           "--arch", "conv", "--conv-channels", "4,8", "--latent", "4",
                           "--likelihood", "logistic"], [([], {})]),
    "vdm_unet": (["vdm", "--data", "mnist", "--steps", "3", "--batch", "8", *UNET,
                  "--sample-steps", "3"],
                 [([], {}), (["--precision", "bf16"], {"precision": "bf16"})]
                 + [(["--sampler", s, "--steps", "2"], {"sampler": s, "steps": 2})
                    for s in ("ddim", "dpm2", "dpm3", "dpmpp2m", "dpmpp2m-sde", "heun")]),
    # The gated Fourier features (nn/unet.h): trained at every noise level, sampled through it.
    "vdm_unet_gated": (["vdm", "--data", "mnist", "--steps", "3", "--batch", "8", *UNET,
                        "--fourier-gate", "true", "--sample-steps", "3"], [([], {})]),
    "score_unet": (["score", "--data", "mnist", "--steps", "3", "--batch", "8", *UNET,
                    "--sigma-begin", "1", "--num-sigmas", "2", "--sample-eps", "2e-5",
                    "--steps-per-level", "2"],
                   [([], {}), (["--precision", "bf16"], {"precision": "bf16"}),
                    (["--sampler", "pc", "--sigma-steps", "2"], {"sampler": "pc", "steps": 2}),
                    (["--sampler", "ode", "--sigma-steps", "2"], {"sampler": "ode", "steps": 2}),
                    (["--sampler", "ode", "--sigma-steps", "2", "--ode-solver", "euler"],
                     {"sampler": "ode", "steps": 2, "ode_solver": "euler"})]
                   # The trained default is pc with dpmpp2m-sde (adapt); the other predictors:
                   + [(["--sampler", "pc", "--sigma-steps", "3", "--predictor", p,
                        "--corrector-steps", "1"],
                       {"sampler": "pc", "steps": 3, "predictor": p, "corrector_steps": 1})
                      for p in ("reverse-diffusion", "ancestral")]),
    "score_small_unet": (["score", "--data", "mnist", "--steps", "3", "--batch", "8",
                          "--arch", "small-unet", "--channels", "4,8", "--sigma-begin", "1",
                          "--num-sigmas", "2", "--sample-eps", "2e-5", "--steps-per-level", "2"],
                         [([], {})]),
}
TOY_RUNS = {
    "vae_points": (["vae", *TOY, "--steps", "5", "--hidden", "16", "--latent", "2"],
                   [([], {})]),
    # A learned γ network and v-prediction; the eta grid differs from t for a learned schedule.
    "vdm_points_learned_v": (["vdm", *TOY, "--steps", "5", "--hidden", "16",
                              "--gamma-schedule", "learned_net", "--schedule-hidden", "8",
                              "--prediction", "v", "--sample-steps", "4"],
                             [([], {}), (["--sampler", "ddim", "--sample-grid", "eta"],
                                         {"sampler": "ddim", "sample_grid": "eta"})]),
    "vdm_points_linear_x": (["vdm", *TOY, "--steps", "5", "--hidden", "16",
                             "--gamma-schedule", "learned_linear", "--prediction", "x",
                             "--sample-steps", "4"], [([], {})]),
    "score_points": (["score", *TOY, "--steps", "5", "--hidden", "16,16", "--num-sigmas", "4",
                      "--steps-per-level", "3"],
                     [([], {}), (["--sampler", "pc", "--sigma-steps", "3"],
                                 {"sampler": "pc", "steps": 3}),
                      (["--sampler", "ode", "--sigma-steps", "3"],
                       {"sampler": "ode", "steps": 3})]),
}
# Runs written by an older deepgen (config.json without later options): samples as they are.
FIXTURE_RUNS = ["vae-toy", "vdm-toy", "score-toy"]


class Test:
    def __init__(self, binary, data_root, work):
        self.binary, self.work = binary, work
        self.env = dict(os.environ, DEEPGEN_DATA=data_root, DEEPGEN_FUSED="0")
        self.failures, self.checks = [], 0

    def deepgen(self, args, fused=False):
        env = dict(self.env, DEEPGEN_FUSED="1") if fused else self.env
        r = subprocess.run([self.binary, *args], env=env, capture_output=True, text=True,
                           timeout=300)
        if r.returncode != 0:
            raise RuntimeError("deepgen %s failed (%d): %s" % (" ".join(args), r.returncode,
                                                               r.stderr.strip()[-2000:]))

    def train(self, name, args):
        run = os.path.join(self.work, name)
        self.deepgen(["train", *args, "--out", run, *COMMON])
        return run

    def cpp_sample(self, run, flags, n, seed, fused=False):
        out = os.path.join(self.work, "s%d.npy" % self.checks)
        precision = [] if "--precision" in flags else ["--precision", "fp32"]
        self.deepgen(["sample", "--run", run, "--n", str(n), "--seed", str(seed), "--out", out,
                      "--threads", "1", *precision, *flags], fused=fused)
        return np.load(out)

    def expect(self, ok, what):
        self.checks += 1
        print(("ok    " if ok else "FAIL  ") + what, flush=True)
        if not ok:
            self.failures.append(what)

    def compare(self, name, run, flags, kwargs, n=4, seed=7):
        """C++ and Python samples of the same run and seed must be equal bit for bit."""
        cpp = self.cpp_sample(run, flags, n, seed)
        opts = dict(kwargs)
        model = deepgen.load(run, ema=opts.pop("ema", True),
                             precision=opts.pop("precision", "fp32"))
        py = model.sample(n, seed=seed, **opts).numpy()
        same = cpp.shape == py.shape and cpp.dtype == py.dtype and np.array_equal(cpp, py)
        diff = np.abs(cpp - py).max() if cpp.shape == py.shape else float("nan")
        self.expect(same, "%-22s %-40s %s from %s: max |C++ - Python| = %g"
                    % (name, " ".join(flags) or "(default sampler)", tuple(py.shape),
                       os.path.basename(model.weights_path), diff))
        return cpp, model

    def fused_close(self, name, run, flags, kwargs, n=4, seed=7):
        """With the fused loops the samples move by float32 rounding only. A
        deterministic solver on continuous outputs, so nothing amplifies or quantises it: within
        1e-4 of the largest value (measured ~2e-5; a wrong formula in the fused loops is O(1))."""
        cpp = self.cpp_sample(run, flags, n, seed, fused=True)
        py = deepgen.load(run).sample(n, seed=seed, **kwargs).numpy()
        diff = np.abs(cpp - py).max()
        self.expect(bool(diff <= 1e-4 * np.abs(py).max()),
                    "%-22s %-40s fused loops on: max |C++ - Python| = %g (max |x| %g)"
                    % (name, " ".join(flags), diff, np.abs(py).max()))

    def wrong_weights_differ(self, name, run, cpp, model, n=4, seed=7):
        """A loader that put the right numbers in the wrong places must not pass: the same
        model with each tensor's values shuffled samples differently."""
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for t in model.module.state_dict().values():
                if t.is_floating_point() and t.numel() > 1:
                    t.copy_(t.flatten()[torch.randperm(t.numel(), generator=g)].view_as(t))
        py = model.sample(n, seed=seed).numpy()
        self.expect(not np.array_equal(cpp, py),
                    "%-22s shuffled weights give other samples (%.0f%% of values differ)"
                    % (name, 100.0 * np.mean(cpp != py)))

    def strict_loading(self, run):
        """A weights file lacking a tensor is refused, not silently left at its initial value."""
        model = deepgen.load(run)
        state = model.module.state_dict()
        state.pop(next(iter(state)))
        try:
            model.module.load_state_dict(state, strict=True)
            refused = False
        except RuntimeError:
            refused = True
        self.expect(refused, "strict loading refuses a weights file with a tensor missing")

    def ema_rule(self, run):
        """ema.safetensors only for a run trained with EMA; --no-ema reads model.safetensors."""
        with_ema = deepgen.load(run).weights_path
        without = deepgen.load(run, ema=False).weights_path
        self.expect(with_ema.endswith("ema.safetensors") and without.endswith("model.safetensors"),
                    "EMA rule: the run's EMA weights by default, model.safetensors with ema=False")
        copy = os.path.join(self.work, "ema_left_over")
        shutil.copytree(run, copy)
        cfg_path = os.path.join(copy, "config.json")
        with open(cfg_path) as f:
            cfg = json.load(f)
        cfg["train"]["ema"] = 0.0
        with open(cfg_path, "w") as f:
            json.dump(cfg, f)
        self.expect(deepgen.load(copy).weights_path.endswith("model.safetensors"),
                    "EMA rule: an ema.safetensors of a run trained without EMA is ignored")

    def run_family_set(self, runs):
        for name, (train_args, samples) in runs.items():
            t0 = time.perf_counter()
            run = self.train(name, train_args)
            print("      trained %s in %.1f s" % (name, time.perf_counter() - t0), flush=True)
            for i, (flags, kwargs) in enumerate(samples):
                cpp, model = self.compare(name, run, flags, kwargs)
                if i == 0:
                    self.wrong_weights_differ(name, run, cpp, model)
            if name == "score_unet":
                self.fused_close(name, run, ["--sampler", "ode", "--sigma-steps", "2",
                                             "--ode-solver", "euler"],
                                 {"sampler": "ode", "steps": 2, "ode_solver": "euler"})
            if name == "score_points":  # the MLP's softplus
                self.fused_close(name, run, ["--sampler", "ode", "--sigma-steps", "3"],
                                 {"sampler": "ode", "steps": 3})
            if name == "vae_mlp_ema":
                self.ema_rule(run)
                self.strict_loading(run)


def mnist_present(root):
    files = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")
    return all(os.path.isfile(os.path.join(root, "mnist", f)) or
               os.path.isfile(os.path.join(root, "mnist", f + ".gz")) for f in files)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--deepgen", required=True, help="the deepgen binary")
    ap.add_argument("--data", required=True, help="data root (unless $DEEPGEN_DATA is set)")
    ap.add_argument("--keep", help="keep the runs in this folder (default: a temporary one)")
    a = ap.parse_args()
    # One thread on both sides (the binary gets --threads 1); OpenBLAS pinned as deepgen pins it.
    torch.set_num_threads(1)
    try:
        ctypes.CDLL("libopenblas.so.0").openblas_set_num_threads(1)
    except (OSError, AttributeError):
        pass
    data_root = os.environ.get("DEEPGEN_DATA") or a.data
    work = a.keep or tempfile.mkdtemp(prefix="deepgen_export_")
    os.makedirs(work, exist_ok=True)
    t0 = time.perf_counter()
    test = Test(a.deepgen, data_root, work)
    try:
        test.run_family_set(TOY_RUNS)
        for name in FIXTURE_RUNS:
            run = os.path.join(FIXTURES, name)
            cpp, model = test.compare("fixture " + name, run, [], {})
            test.wrong_weights_differ("fixture " + name, run, cpp, model)
        have_mnist = mnist_present(data_root)
        if have_mnist:
            test.run_family_set(MNIST_RUNS)
        else:
            print("skip  the MNIST runs: no MNIST under %s/mnist (scripts/setup.sh)" % data_root)
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("%d checks, %d failed, %.1f s" % (test.checks, len(test.failures),
                                            time.perf_counter() - t0))
    if test.failures:
        return 1
    return 0 if have_mnist else SKIPPED


if __name__ == "__main__":
    sys.exit(main())
