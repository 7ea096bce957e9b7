#!/usr/bin/python3
"""Python PyTorch peers of bench/bench_peer_steps.cpp: the same four models, trained by the same
step on the same data, so the two step rates can be set side by side. The networks are
python/deepgen's, which mirror deepgen's layer for layer (same parameter names, shapes and
forward maths); the losses and the step are here.

  step_peers.py --model vae|vae2d|score2d|vdm_unet [--threads T] [--blas-threads B]
                [--batch N] [--seconds S] [--warmup N] [--foreach] --json
  step_peers.py --model M --check DIR    # identity check against `bench_peer_steps --dump DIR`

A step is what deepgen's trainer does (src/train/trainer.cpp): take the step's rows of a per-epoch
permutation, index_select them, zero_grad, loss, loss.item(), backward, Adam step, and add the
loss's logged parts to running sums. Prints one JSON line. For vdm_unet it also counts the FLOPs
of one forward (the loss) with torch.profiler(with_flops=True): convolutions and matrix products
only, since the profiler does not count most elementwise ops; a training step is taken as 3x the
forward (the backward computes gradients for both the inputs and the weights of every product).

Needs Debian's python3-torch (1.13) and python3-numpy; run with /usr/bin/python3.
"""
import argparse
import ctypes
import json
import math
import os
import resource
import sys
import time

import torch

# The networks are python/deepgen's, the package that mirrors the C++ ones for trained runs.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from deepgen import safetensors, score, vae, vdm  # noqa: E402
from deepgen.samplers import geometric_sigmas  # noqa: E402
from deepgen.schedule import (encode_8bit, log_alpha2, log_sigma2, per_example,  # noqa: E402
                              quantize_8bit)

LOG_2PI = 1.8378770664093453
DEFAULT_BATCH = {"vae": 128, "vae2d": 64, "score2d": 128, "vdm_unet": 64}


# --- the VAE (src/vi/vae.cpp, vae_model.cpp): Gaussian decoder with one learned σ ----------------
class Vae(vae.Vae):
    """deepgen's VAE (python/deepgen/vae.py) with the trainer's loss: the one-sample ELBO."""

    def __init__(self, shape, hidden, latent, sigmoid_mean):
        super().__init__({"hidden": hidden, "latent": latent,
                          "mean_activation": "sigmoid" if sigmoid_mean else "identity"}, shape)

    def loss(self, x):
        b, latent = x.shape[0], self.options["latent"]
        mu, logvar = self.encode(x)
        eps = torch.randn(1, b, latent)  # draw_latents with k = 1
        z = (mu + (0.5 * logvar).exp() * eps).reshape(b, latent)
        mean = self.decode(z)
        xk = x.unsqueeze(0).expand(1, *x.shape).reshape(x.shape)  # repeat_k(x, 1)
        lv = 2.0 * self.log_sigma_clamped()
        ll = (-0.5 * (LOG_2PI + lv + (xk - mean).pow(2) * (-lv).exp())).reshape(b, self.dim).sum(1)
        recon = (-ll.reshape(1, b).mean(0)).mean()
        kl = (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)).sum(1).mean()
        sigma = self.log_sigma_clamped().exp().detach().squeeze()
        return recon + 1.0 * kl, [recon.detach(), kl.detach(), sigma]


# --- the score MLP for points and the NCSN loss (src/score/net.cpp, losses.cpp) -------------------
class ScoreMLP(score.ScoreMLP):
    """deepgen's score MLP (python/deepgen/score.py) with NCSN's loss over a σ ladder."""

    def __init__(self, dim, hidden, activation, sigmas):
        super().__init__(dim, hidden, activation)
        self.sigmas = sigmas

    def loss(self, x0):
        ladder = torch.tensor(self.sigmas, dtype=torch.float64).to(x0.device, x0.dtype)
        level = torch.randint(len(self.sigmas), (x0.shape[0],), dtype=torch.long)
        sigma = ladder.index_select(0, level)
        z = torch.randn(x0.shape)
        s = sigma.view(x0.shape[0], *[1] * (x0.dim() - 1))
        loss = (0.5 * (s * self(x0 + s * z, sigma) + z).flatten(1).pow(2).sum(1)).mean()
        return loss, [loss.detach()]


# --- the VDM's bound (src/diffusion/vdm.cpp, model.cpp) -------------------------------------------
def sum_per_example(v):
    return v.flatten(1).sum(1)


def forward_marginal(f, gamma):
    g = per_example(gamma, f)
    return torch.exp(0.5 * log_alpha2(g)) * f, torch.sigmoid(g)


def recon_loss_8bit(k, z_0, gamma_0):
    kbin = 2.0 / 256.0
    g = per_example(gamma_0, z_0)
    y = z_0 * torch.exp(-0.5 * log_alpha2(per_example(gamma_0, z_0)))
    precision = torch.exp(-g)
    max_std = math.exp(0.5 * gamma_0.max().item())
    w = min(255, int(math.ceil(11 * max_std / kbin)) + 1)
    offsets = torch.arange(-w, w + 1, dtype=torch.long)
    idx = torch.round((y + 1) / kbin - 0.5).clamp(0, 255).to(torch.long).unsqueeze(-1) + offsets
    valid = (idx >= 0).logical_and(idx <= 255)
    f = encode_8bit(idx.clamp(0, 255)).to(y.dtype)
    logits = -0.5 * precision.unsqueeze(-1) * (y.unsqueeze(-1) - f).pow(2)
    log_norm = torch.logsumexp(logits.masked_fill(valid.logical_not(), -math.inf), -1)
    true_logit = -0.5 * precision * (y - encode_8bit(k).to(y.dtype)).pow(2)
    return sum_per_example(log_norm - true_logit)


class Vdm(vdm.Vdm):
    """deepgen's VDM (python/deepgen/vdm.py) with the MNIST defaults (fixed γ, the ε-U-Net) and
    its training loss: continuous-time diffusion loss with antithetic times, recon and prior."""

    def __init__(self, image):
        super().__init__({}, image)
        self.dim = math.prod(image)

    def loss(self, x):
        f = self.to_model_space(x)
        b = f.shape[0]
        t = torch.remainder(torch.rand(()) + torch.arange(b, dtype=f.dtype) / b, 1.0)
        shape_t, dshape_t = t, torch.ones_like(t)
        gap = self.schedule.log_gap.exp()
        gamma_t, dgamma_t = self.schedule.gamma0 + gap * shape_t, gap * dshape_t
        eps = torch.randn_like(f)
        mean, var = forward_marginal(f, gamma_t)
        eps_hat = self.eps(mean + var.sqrt() * eps, gamma_t)
        diffusion = 0.5 * dgamma_t * sum_per_example((eps - eps_hat).pow(2))
        g0, g1 = self.schedule.gamma0, self.schedule.gamma1()
        mean0, var0 = forward_marginal(f, g0)
        z_0 = mean0 + var0.sqrt() * torch.randn_like(f)
        recon = recon_loss_8bit(quantize_8bit(x), z_0, g0)
        g = per_example(g1, f)
        prior = 0.5 * sum_per_example(torch.sigmoid(-g) * (f.pow(2) - 1)
                                      - log_sigma2(g).expand_as(f))
        per_bit = 1.0 / (self.dim * math.log(2.0))
        total = (diffusion + recon + prior).mean() * per_bit
        return total, [total.detach(), diffusion.mean().detach() * per_bit,
                       recon.mean().detach() * per_bit, prior.mean().detach() * per_bit]


# --- data, model, step ----------------------------------------------------------------------------
def make(name):
    """(model, data): the same seeded torch calls as bench_peer_steps.cpp, so the data are equal."""
    torch.manual_seed(0)
    if name in ("vae", "vdm_unet"):
        data = torch.rand(4096, 1, 28, 28)
    else:  # points: the NCSN toy's two modes 0.2·N((−5,−5), I) + 0.8·N((5,5), I)
        data = (torch.rand(4096, 1) < 0.8).to(torch.float32) * 10 - 5 + torch.randn(4096, 2)
    if name == "vae":
        model = Vae([1, 28, 28], [400], 20, sigmoid_mean=True)
    elif name == "vae2d":  # the CLI's points VAE: identity mean
        model = Vae([2], [128, 128], 2, sigmoid_mean=False)
    elif name == "score2d":
        model = ScoreMLP(2, [128, 128], "softplus", geometric_sigmas(20.0, 0.05, 10))
    else:
        model = Vdm([1, 28, 28])
    return model, data


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())


def make_adam(model, foreach):
    return torch.optim.Adam(model.parameters(), lr=1e-3, foreach=foreach)


class Steps:
    """The trainer's step on (model, data, batch, opt); the global step carries across calls."""

    def __init__(self, model, data, batch, opt):
        self.model, self.data, self.batch, self.opt = model, data, batch, opt
        self.per_epoch = data.shape[0] // batch
        self.gen, self.perm, self.sums, self.step = torch.Generator(), None, None, 0

    def one(self):
        epoch, i = divmod(self.step, self.per_epoch)
        if self.perm is None or i == 0:  # a fresh permutation per epoch, as data::BatchSampler
            self.gen.manual_seed(1 + epoch)
            self.perm = torch.randperm(self.data.shape[0], generator=self.gen)
        idx = self.perm[i * self.batch:(i + 1) * self.batch].clone()
        x = self.data.index_select(0, idx).to(torch.float32)
        for group in self.opt.param_groups:
            group["lr"] = 1e-3
        self.opt.zero_grad()
        loss, parts = self.model.loss(x)
        value = loss.item()
        if not math.isfinite(value):
            sys.exit("step_peers: non-finite loss %r at step %d" % (value, self.step))
        loss.backward()
        self.opt.step()
        if self.sums is None:  # the trainer's running sums of the logged parts
            self.sums = [p.clone() for p in parts]
        else:
            for s, p in zip(self.sums, parts):
                s.add_(p)
        self.step += 1

    def run(self, count=None, seconds=None):
        """count steps, or steps for `seconds`; returns (steps, elapsed seconds)."""
        steps, t0 = 0, time.perf_counter()
        while (steps < count) if count is not None else (time.perf_counter() - t0 < seconds):
            self.one()
            steps += 1
        return steps, time.perf_counter() - t0


def forward_flops(model, x):
    """FLOPs of one loss forward by the profiler: (conv + matrix products, everything counted)."""
    matmul_ops = ("aten::conv2d", "aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")
    cpu = [torch.profiler.ProfilerActivity.CPU]
    with torch.profiler.profile(activities=cpu, with_flops=True) as prof:
        model.loss(x)
    total = matmul = 0
    for e in prof.events():
        parent, counted_above = e.cpu_parent, False
        while parent is not None:  # count each op once, at its outermost counted event
            counted_above = counted_above or (parent.flops or 0) > 0
            parent = parent.cpu_parent
        if counted_above or not e.flops:
            continue
        total += e.flops
        matmul += e.flops if e.name in matmul_ops else 0
    return matmul, total


def set_blas_threads(n):
    """OpenBLAS keeps its own pool beside OpenMP's; deepgen pins it (core/runtime.cpp). -1: none."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0")  # the instance libtorch_cpu already loaded
    except OSError:
        return -1
    if n > 0:
        lib.openblas_set_num_threads(n)
    return lib.openblas_get_num_threads()


# --- identity check against bench_peer_steps --dump DIR -----------------------------------------
def read_safetensors(path):
    return safetensors.read(path)


def check(name, folder, foreach):
    """Our weights and batch, the same noise seed: loss, gradients, and the loss after one step."""
    model, _ = make(name)
    weights, _ = read_safetensors(folder + "/weights.safetensors")
    model.load_state_dict(weights, strict=True)  # every name and shape, per layer, must match
    ref, meta = read_safetensors(folder + "/check.safetensors")
    seed = int(meta["noise_seed"])
    opt = make_adam(model, foreach)
    opt.zero_grad()
    torch.manual_seed(seed)
    loss, _ = model.loss(ref["x"])
    loss.backward()
    grad_err = 0.0
    for pname, p in model.named_parameters():
        g = ref["grad." + pname]
        grad_err = max(grad_err, ((p.grad - g).abs().max() / g.abs().max().clamp_min(1e-30)).item())
    opt.step()
    torch.manual_seed(seed)
    with torch.no_grad():
        after, _ = model.loss(ref["x"])
    ours, ours_after = float(meta["loss"]), float(meta["loss_after_step"])
    return {"model": name, "tensors_matched": len(weights), "parameters": count_parameters(model),
            "loss_ours": ours, "loss_peer": loss.item(),
            "loss_rel_diff": abs(loss.item() - ours) / abs(ours),
            "grad_max_rel_diff": grad_err,
            "loss_after_step_ours": ours_after, "loss_after_step_peer": after.item(),
            "loss_after_step_rel_diff": abs(after.item() - ours_after) / abs(ours_after)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, choices=sorted(DEFAULT_BATCH))
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0: torch default)")
    ap.add_argument("--blas-threads", type=int, default=1,
                    help="OpenBLAS threads (default 1, deepgen's setting; 0: leave OpenBLAS's own)")
    ap.add_argument("--batch", type=int, default=0, help="0: the model's default")
    ap.add_argument("--seconds", type=float, default=5.0, help="timed seconds after warm-up")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    ap.add_argument("--foreach", action="store_true", help="torch's multi-tensor Adam")
    ap.add_argument("--check", metavar="DIR",
                    help="identity check against bench_peer_steps --dump DIR")
    ap.add_argument("--json", action="store_true", help="print one JSON line (the only output)")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    blas = set_blas_threads(a.blas_threads)
    if a.check:
        print(json.dumps(check(a.model, a.check, a.foreach)))
        return 0
    batch = a.batch or DEFAULT_BATCH[a.model]
    model, data = make(a.model)
    opt = make_adam(model, a.foreach)
    stepper = Steps(model, data, batch, opt)
    stepper.run(count=a.warmup)
    steps, secs = stepper.run(seconds=a.seconds)
    row = {"side": "peer", "model": a.model, "parameters": count_parameters(model),
           "steps_per_sec": steps / secs, "steps": steps, "seconds": secs,
           "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
           "threads": torch.get_num_threads(), "blas_threads": blas, "batch": batch,
           "torch": torch.__version__, "adam": "foreach" if a.foreach else "single-tensor"}
    if a.model == "vdm_unet":
        matmul, total = forward_flops(model, data[:batch].clone())
        row.update({"forward_flops": matmul, "forward_flops_all_counted": total,
                    "flops_per_step": 3 * matmul,
                    "flops_note": "profiler FLOPs of conv2d/mm/addmm/bmm in one loss forward; "
                                  "a training step taken as 3x forward"})
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
