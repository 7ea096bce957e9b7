"""The variational diffusion model: γ schedule, ε-network, the model's data space and sampling.

Mirrors src/diffusion/net.cpp (EpsUNet: the shared U-Net conditioned on γ; EpsMlp for points),
src/diffusion/model.cpp (VdmImpl: "schedule", "net", the points' "data_mean" / "data_std"
buffers, eps() for each prediction, to_model_space / from_model_space, sample) and
src/diffusion/options.cpp + family.cpp (the options and their defaults).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import samplers
from .nets import NoiseEmbedding, UNet, autocast_forward, unet_options, zero_init
from .schedule import (NoiseSchedule, decode_8bit, encode_8bit, eps_from_v, eps_from_x,
                       log_alpha2, quantize_8bit, sampling_gammas)


def default_options(data_shape):
    """VdmOptions' defaults with the family's base (points: the MLP)."""
    return {
        "schedule": "fixed", "gamma_min": -13.3, "gamma_max": 5.0, "schedule_hidden": 1024,
        "architecture": "unet" if len(data_shape) == 3 else "mlp",
        "channels": [32, 64], "blocks": 2, "attention": True, "patch": 2, "fourier": [6, 7],
        "fourier_gate": False, "dropout": 0.0, "hidden": 256, "layers": 3, "prediction": "eps",
        "sampler": "ancestral", "sample_steps": 1000, "sample_grid": "t",
        "data_mean": [], "data_std": [],
    }


class EpsMlp(nn.Module):
    """Points: residual MLP blocks fcN with the γ embedding added through condN inside each."""

    def __init__(self, dim, hidden, layers, noise_min, noise_max, skip=True):
        super().__init__()
        self.skip, self.layers = skip, layers
        self.embed = NoiseEmbedding(hidden // 4, noise_min, noise_max)
        self.add_module("in", nn.Linear(dim, hidden))  # "in" is a Python keyword
        for i in range(layers):
            self.add_module("fc%d" % i, nn.Linear(hidden, hidden))
            self.add_module("cond%d" % i, nn.Linear(hidden, hidden))
        self.out = nn.Linear(hidden, dim)
        zero_init(self.out)

    def forward(self, z, gamma):
        c = self.embed(gamma)
        h = getattr(self, "in")(z)
        for i in range(self.layers):
            fc, cond = getattr(self, "fc%d" % i), getattr(self, "cond%d" % i)
            h = h + fc(F.silu(h + cond(c)))
        out = self.out(F.silu(h))
        return z + out if self.skip else out


class Vdm(nn.Module):
    """diffusion::VdmImpl: schedule + ε-network (+ the points' standardisation buffers)."""

    def __init__(self, options, data_shape):
        super().__init__()
        o = {**default_options(data_shape), **options}
        self.options, self.data_shape = o, list(data_shape)
        self.image = len(data_shape) == 3
        self.precision = "fp32"  # of the network forwards: "fp32" | "bf16" (core/precision.h)
        self.schedule = NoiseSchedule(o["schedule"], o["gamma_min"], o["gamma_max"],
                                      o["schedule_hidden"])
        # The embedding rescales γ over the schedule's starting range; ε̂ = z + net(z) only
        # when the net predicts ε (the base-measure skip).
        noise = dict(noise_min=o["gamma_min"], noise_max=o["gamma_max"],
                     skip=o["prediction"] == "eps")
        if o["architecture"] == "mlp":
            self.net = EpsMlp(data_shape[0], o["hidden"], o["layers"], **noise)
        else:
            self.net = UNet(**unet_options(o, data_shape, **noise))
        if not self.image:
            d = data_shape[0]
            mean = o["data_mean"] or [0.0] * d
            std = o["data_std"] or [1.0] * d
            self.register_buffer("data_mean", torch.tensor(mean, dtype=torch.float32))
            self.register_buffer("data_std", torch.tensor(std, dtype=torch.float32))

    def eps(self, z, gamma):
        """ε̂(z, γ), γ of shape (B), whatever the network predicts (eps, x or v)."""
        out = autocast_forward(self.precision, z, lambda: self.net(z, gamma))
        if self.options["prediction"] == "x":
            return eps_from_x(z, out, gamma)
        if self.options["prediction"] == "v":
            return eps_from_v(z, out, gamma)
        return out

    def to_model_space(self, x):
        """Data units -> the model's space: 8-bit bin centres in (−1, 1), or standardised points."""
        if self.image:
            return encode_8bit(quantize_8bit(x)).to(x.dtype)
        return (x - self.data_mean) / self.data_std

    def from_model_space(self, z_0):
        """z_0 -> data units: the most probable 8-bit value / 255, or the points' units."""
        g0 = self.schedule.gamma0.to(z_0.dtype)
        if self.image:
            return decode_8bit(z_0, g0).to(z_0.dtype) / 255.0
        return z_0 * torch.exp(-0.5 * log_alpha2(g0)) * self.data_std + self.data_mean

    def sample(self, n, sampler=None, steps=None):
        """VdmImpl::sample: z_1 ~ N(0, I) from the CPU generator, `sampler` over `steps` steps
        of the sample_grid (defaults: the run's sampler and sample_steps), in data units."""
        sampler = sampler or self.options["sampler"]
        steps = steps or self.options["sample_steps"]
        g0 = self.schedule.gamma0
        z_1 = torch.randn(n, *self.data_shape, dtype=g0.dtype).to(g0.device)
        gammas = sampling_gammas(self.schedule, self.options["sample_grid"], steps)
        return self.from_model_space(samplers.sample_loop(sampler, self.eps, gammas, z_1))


def nfe(sampler, steps):
    """Network evaluations of `steps` steps of a VDM sampler (what a sample costs)."""
    return samplers.VDM_SAMPLERS[sampler][1] * steps

