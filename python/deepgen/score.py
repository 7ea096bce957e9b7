"""Score models s_θ(x, σ) ≈ ∇ₓ log p_σ(x) and their samplers' settings.

Mirrors src/score/net.cpp (ScoreMLP for points; ScoreUNet, NCSN's small U-Net, "small-unet";
ScoreEpsUNet, the shared U-Net as an ε-network in variance-preserving form, "unet"),
src/score/model.cpp (which network, the σ ladder, the start of each sampler, the sampler by
name, the clamp of images) and src/score/options.cpp (the options and their defaults).

The saved weights are the network's alone: its parameters sit at the top of the file.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import samplers
from .nets import (MLP, ResBlock, UNet, autocast_forward, conv3, group_norm,
                   network_memory_format, unet_options, upsample2)


def default_options(data_shape):
    """ScoreOptions' defaults: NCSN's MNIST settings for images, its 2-D toy's for points."""
    image = len(data_shape) == 3
    return {
        "method": "ncsn", "sigma": 0.1,
        "sigma_begin": 1.0 if image else 20.0, "sigma_end": 0.01 if image else 0.05,
        "num_sigmas": 10, "hidden": [128, 128], "activation": "softplus",
        "architecture": "unet", "channels": [32, 64], "blocks": 2, "attention": True,
        "patch": 2, "fourier": [6, 7], "fourier_gate": False, "dropout": 0.0,
        "steps_per_level": 100, "sample_eps": 2e-5 if image else 2.5e-4,
        "langevin_steps": 1000, "step_size": 1e-3, "sampler": "annealed", "sigma_steps": 100,
        "corrector_steps": 1, "predictor": "reverse-diffusion", "snr": 0.16, "ode_solver": "heun",
        "final_denoise": True, "init_box": 8.0,
    }


def _column(sigma, x):
    """(B) -> (B, 1, ..., 1), to broadcast a per-example σ against x."""
    return sigma.to(x.dtype).reshape(x.shape[0], *[1] * (x.dim() - 1))


class ScoreMLP(nn.Module):
    """Points (B, D): an MLP on [x/√(1+σ²), log σ], output divided by σ."""

    def __init__(self, dim, hidden, activation):
        super().__init__()
        self.mlp = MLP(dim + 1, hidden, dim, activation)

    def forward(self, x, sigma):
        s = sigma.to(x.dtype).reshape(-1, 1)
        return self.mlp(torch.cat([x / (1 + s.pow(2)).sqrt(), s.log()], 1)) / s


class ScoreUNet(nn.Module):
    """small-unet: NCSN's two-level U-Net on 2x − 1, log σ embedded (embed1, embed2) and added
    in every residual block, output divided by σ."""

    def __init__(self, image, channels):
        super().__init__()
        if len(image) != 3 or len(channels) != 2 or image[1] % 4 or image[2] % 4:
            raise ValueError("small-unet takes images with sides divisible by 4 and two widths")
        c, c0, c1 = image[0], channels[0], channels[1]
        e = 4 * c0
        self.embed1 = nn.Linear(1, e)
        self.embed2 = nn.Linear(e, e)
        self.add_module("in", conv3(c, c0))  # "in" is a Python keyword
        self.block0 = ResBlock(c0, c0, e)
        self.down1 = conv3(c0, c1, 2)
        self.block1 = ResBlock(c1, c1, e)
        self.down2 = conv3(c1, c1, 2)
        self.middle = ResBlock(c1, c1, e)
        self.up1 = ResBlock(2 * c1, c1, e)
        self.up0 = ResBlock(c1 + c0, c0, e)
        self.out_norm = group_norm(c0)
        self.out = conv3(c0, c)

    def forward(self, x, sigma):
        log_sigma = sigma.to(x.dtype).reshape(-1, 1).log()
        e = self.embed2(F.silu(self.embed1(log_sigma)))
        x_in = (2 * x - 1).contiguous(memory_format=network_memory_format(x))
        h0 = self.block0(getattr(self, "in")(x_in), e)  # H
        h1 = self.block1(self.down1(h0), e)  # H/2
        h = self.middle(self.down2(h1), e)  # H/4
        h = self.up1(torch.cat([upsample2(h), h1], 1), e)  # H/2
        h = self.up0(torch.cat([upsample2(h), h0], 1), e)  # H
        return self.out(F.silu(self.out_norm(h))) / _column(sigma, x)


def noise_level(sigma):
    """γ = log σ'² = 2 log(2σ), σ' = 2σ the noise of 2x − 1: of a float or a tensor."""
    return 2 * (torch.log(2 * sigma) if torch.is_tensor(sigma) else math.log(2 * sigma))


class ScoreEpsUNet(UNet):
    """unet: the shared U-Net as the ε-network of z = (2x − 1)/√(1 + 4σ²) conditioned on
    γ = log 4σ², its embedding spanning the ladder [σ_min, σ_max] (a unit margin around a single
    σ); the score is s = −ε̂/σ."""

    def __init__(self, unet, sigma_min, sigma_max):
        margin = 0.0 if sigma_min < sigma_max else 1.0
        super().__init__(**unet, skip=True, noise_min=noise_level(sigma_min) - margin,
                         noise_max=noise_level(sigma_max) + margin)

    def forward(self, x, sigma):
        s = _column(sigma, x)
        z = (2 * x - 1) / (1 + 4 * s * s).sqrt()
        eps = super().forward(z, noise_level(sigma.to(x.dtype)))
        return -eps / s


class ScoreModel:
    """score::ScoreModel's network and sampling. `network` is the module the weights load into."""

    SAMPLERS = ("annealed", "pc", "ode")

    def __init__(self, options, data_shape):
        o = {**default_options(data_shape), **options}
        self.options, self.data_shape = o, list(data_shape)
        self.image = len(data_shape) == 3
        self.precision = "fp32"  # of the network forwards: "fp32" | "bf16" (core/precision.h)
        self.sigmas = (samplers.geometric_sigmas(o["sigma_begin"], o["sigma_end"],
                                                 o["num_sigmas"])
                       if o["method"] == "ncsn" else [o["sigma"]])
        if not self.image:
            self.network = ScoreMLP(data_shape[0], o["hidden"], o["activation"])
        elif o["architecture"] == "small-unet":
            self.network = ScoreUNet(self.data_shape, o["channels"])
        else:
            # The embedding spans the ladder (ncsn), else the one σ the method trains at.
            ladder = o["method"] == "ncsn"
            sigma = o["sigma"] if o["sigma"] > 0 else 1.0
            self.network = ScoreEpsUNet(unet_options(o, data_shape),
                                        o["sigma_end"] if ladder else sigma,
                                        o["sigma_begin"] if ladder else sigma)

    def score(self, x, sigma):
        """s_θ(x, σ) with sigma of shape (B)."""
        return autocast_forward(self.precision, x, lambda: self.network(x, sigma))

    def _at_sigma(self, sigma):
        s = sigma if sigma > 0 else 1.0  # ssm on clean data: σ = 1 sets only the net's scale
        return lambda x: self.score(x, torch.full((x.shape[0],), s, dtype=x.dtype,
                                                  device=x.device))

    def _param(self):
        return next(self.network.parameters())

    def _box_start(self, n):
        p = self._param()
        u = torch.rand(n, *self.data_shape, dtype=p.dtype, device=p.device)
        return u if self.image else (2 * u - 1) * self.options["init_box"]

    def _prior_start(self, n):
        """The VE prior N(c, σ_1²I), c = ½ for images, 0 for points."""
        p = self._param()
        z = torch.randn(n, *self.data_shape, dtype=p.dtype, device=p.device)
        return (0.5 if self.image else 0.0) + self.sigmas[0] * z

    def _sigma_grid(self):
        return samplers.geometric_sigmas(self.sigmas[0], self.sigmas[-1],
                                         self.options["sigma_steps"] + 1)

    def sample(self, n):
        """n samples in data units by options["sampler"]; images clamped to [0, 1]."""
        o = self.options
        if o["sampler"] != "annealed" and o["method"] != "ncsn":
            raise ValueError("score: sampler %s integrates over a σ ladder, which only method "
                             "ncsn has (the others sample with annealed)" % o["sampler"])
        if o["sampler"] == "annealed":
            x = self._box_start(n)
            if o["method"] == "ncsn":
                x = samplers.annealed_langevin(x, self.score, self.sigmas, o["steps_per_level"],
                                               o["sample_eps"], o["final_denoise"])
            else:
                net = self._at_sigma(o["sigma"])
                x = samplers.langevin(x, net, o["step_size"], o["langevin_steps"])
                if o["final_denoise"] and o["sigma"] > 0:
                    x = x + o["sigma"] * o["sigma"] * net(x)
        elif o["sampler"] == "pc":
            x = samplers.pc_sampler(self._prior_start(n), self.score, self._sigma_grid(),
                                    o["corrector_steps"], o["snr"], o["final_denoise"],
                                    o["predictor"])
        elif o["sampler"] == "ode":
            x = samplers.probability_flow_ode(self._prior_start(n), self.score,
                                              self._sigma_grid(), o["ode_solver"],
                                              o["final_denoise"])
        else:
            raise ValueError("unknown score sampler '%s': use %s"
                             % (o["sampler"], ", ".join(self.SAMPLERS)))
        return x.clamp(0, 1) if self.image else x
