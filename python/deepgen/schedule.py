"""The VDM's noise schedules γ(t) = −log SNR(t) and the variance-preserving algebra over γ.

Mirrors src/diffusion/schedule.cpp (NoiseSchedule: fixed, learned_linear, learned_net) and the
pieces of src/diffusion/vdm.cpp the samplers and the data mapping use (per_example, posterior,
x_from_eps, eps_from_x, eps_from_v, the 8-bit encoding and decoding). Each formula keeps the
C++ order of operations, so it rounds the same.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

BIN = 2.0 / 256.0  # spacing of the 8-bit values in the model's data space


def sigma2(g):  # σ² = sigmoid(γ)
    return torch.sigmoid(g)


def log_alpha2(g):  # log α² = −softplus(γ), stable for |γ| ≫ 1
    return -F.softplus(g)


def log_sigma2(g):  # log σ² = −softplus(−γ)
    return -F.softplus(-g)


def alpha(g):
    return torch.exp(0.5 * log_alpha2(g))


def sigma(g):
    return torch.exp(0.5 * log_sigma2(g))


def per_example(gamma, x):
    """γ (B) reshaped to broadcast against x (B, ...); a 0-dim γ unchanged."""
    if gamma.dim() == 0:
        return gamma
    return gamma.view(gamma.shape[0], *[1] * (x.dim() - 1))


def posterior(z_t, x, gamma_s, gamma_t):
    """MATH 2d: q(z_s|z_t, x) = N(mean, var) with c = −expm1(γ_s − γ_t)."""
    gs, gt = per_example(gamma_s, z_t), per_example(gamma_t, z_t)
    c = -torch.expm1(gs - gt)
    a_s = alpha(gs)
    mean = torch.exp(0.5 * (log_alpha2(gs) - log_alpha2(gt)) + (gs - gt)) * z_t + a_s * c * x
    return mean, sigma2(gs) * c


def x_from_eps(z_t, eps, gamma_t):
    g = per_example(gamma_t, z_t)
    return (z_t - sigma(g) * eps) / alpha(g)


def eps_from_x(z_t, x, gamma_t):
    g = per_example(gamma_t, z_t)
    return (z_t - alpha(g) * x) / sigma(g)


def eps_from_v(z_t, v, gamma_t):
    g = per_example(gamma_t, z_t)
    return sigma(g) * z_t + alpha(g) * v


def quantize_8bit(x):
    """data::quantize_8bit: values in [0, 1] -> the 8-bit integers k."""
    return torch.round(x * 255).clamp(0, 255).to(torch.long)


def encode_8bit(k):
    """8-bit k -> the model's data space f = 2(k + ½)/256 − 1 (VDM §3.1)."""
    return (2 * k.to(torch.float32) + 1) / 256.0 - 1


def decode_8bit(z_0, gamma_0):
    """The discretised decoder's most probable bin of each dimension of z_0/α_0, int64."""
    y = z_0 * torch.exp(-0.5 * log_alpha2(per_example(gamma_0, z_0)))
    return torch.round((y + 1) / BIN - 0.5).clamp(0, 255).to(torch.long)


class NoiseSchedule(nn.Module):
    """diffusion::NoiseSchedule: γ(t) = γ0 + (γ1 − γ0)·S(t), S the identity (fixed and
    learned_linear) or VDM App. H's monotone net (learned_net: w1, w2, b2, w3). gamma0 and
    log_gap = log(γ1 − γ0) are buffers for "fixed", parameters otherwise."""

    KINDS = ("fixed", "learned_linear", "learned_net")

    def __init__(self, kind="fixed", gamma_min=-13.3, gamma_max=5.0, hidden=1024):
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError("unknown schedule '%s': use %s" % (kind, ", ".join(self.KINDS)))
        self.kind, self.hidden = kind, hidden
        g0 = torch.full((), gamma_min)
        log_gap = torch.full((), math.log(gamma_max - gamma_min))
        if kind == "fixed":
            self.register_buffer("gamma0", g0)
            self.register_buffer("log_gap", log_gap)
            return
        self.gamma0 = nn.Parameter(g0)
        self.log_gap = nn.Parameter(log_gap)
        if kind == "learned_net":
            self.w1 = nn.Parameter(torch.ones(()))
            self.w2 = nn.Parameter(torch.randn(hidden))
            self.b2 = nn.Parameter(torch.zeros(hidden))
            self.w3 = nn.Parameter(torch.randn(hidden))

    def _raw_net(self, t):
        tc = t.unsqueeze(-1)
        w2 = self.w2.abs()
        sig = torch.sigmoid((2 * tc - 1) * w2 + self.b2)
        w3 = self.w3.abs() / float(self.hidden)
        return self.w1.abs() * t + ((2 * sig - 1) * w3).sum(-1)

    def shape(self, t):
        """S(t): t itself for the linear kinds."""
        if self.kind != "learned_net":
            return t
        ends = self._raw_net(torch.tensor([0.0, 1.0], dtype=t.dtype, device=t.device))
        span = ends[1] - ends[0]
        return (self._raw_net(t) - ends[0]) / span

    def gamma(self, t):
        return self.gamma0 + self.log_gap.exp() * self.shape(t)

    def gamma1(self):
        return self.gamma0 + self.log_gap.exp()


def sampling_gammas(schedule, grid, steps):
    """diffusion::sampling_gammas: γ_0 < .. < γ_T at t = i/T ("t") or uniform in η ("eta")."""
    u = torch.linspace(0, 1, steps + 1, dtype=schedule.gamma0.dtype,
                       device=schedule.gamma0.device)
    if grid == "t":
        return schedule.gamma(u)
    if grid == "eta":
        g0, g1 = schedule.gamma0, schedule.gamma1()
        return g0 + (g1 - g0) * u
    raise ValueError("unknown sample_grid '%s': use t, eta" % grid)
