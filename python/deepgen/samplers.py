"""The samplers of the VDM and of the score models, step for step as deepgen runs them.

VDM (mirrors src/diffusion/sampler.cpp): one step z_t -> z_s per sampler (ancestral, ddim,
dpm2, dpm3, dpmpp2m, dpmpp2m-sde, heun) over a grid of γ values, run by sample_loop.
Score models (mirrors src/score/langevin.cpp and src/score/sde.cpp): Langevin, annealed
Langevin (NCSN), the VE-SDE predictor-corrector sampler and the probability-flow ODE.

The random draws come from torch's global CPU generator in the C++ order and shapes, so after
torch.manual_seed(seed) a sampler reproduces `deepgen sample --seed seed`.
"""
import math

import torch

from .schedule import alpha, log_alpha2, log_sigma2, per_example, posterior, sigma, x_from_eps


# --- VDM: steps over γ ----------------------------------------------------------------------------
def _dpm_solver1(z, eps_t, gt, gto):
    """DPM-Solver-1 from γ_t to γ_to with ε̂ held at ε̂_t (DDIM written in η = −γ/2)."""
    return (torch.exp(0.5 * (log_alpha2(gto) - log_alpha2(gt))) * z
            - sigma(gto) * torch.expm1(0.5 * (gt - gto)) * eps_t)


def _gamma_between(gamma_t, gamma_s, r):
    return gamma_t - r * (gamma_t - gamma_s)


def _ancestral(z, gamma_t, gamma_s, state):
    eps_hat = state["eps"](z, gamma_t)
    noise = torch.randn(z.shape, dtype=z.dtype).to(z.device)  # the CPU generator, as C++
    mean, var = posterior(z, x_from_eps(z, eps_hat, gamma_t), gamma_s, gamma_t)
    return mean + var.sqrt() * noise


def _ddim(z, gamma_t, gamma_s, state):
    eps_hat = state["eps"](z, gamma_t)
    x_hat = x_from_eps(z, eps_hat, gamma_t)
    gs = per_example(gamma_s, z)
    return torch.exp(0.5 * log_alpha2(gs)) * x_hat + torch.exp(0.5 * log_sigma2(gs)) * eps_hat


def _dpm2(z, gamma_t, gamma_s, state):
    eps, r = state["eps"], 0.5
    gamma_1 = _gamma_between(gamma_t, gamma_s, r)
    gt, gs = per_example(gamma_t, z), per_example(gamma_s, z)
    eps_t = eps(z, gamma_t)
    u = _dpm_solver1(z, eps_t, gt, per_example(gamma_1, z))
    d = eps(u, gamma_1) - eps_t
    return _dpm_solver1(z, eps_t, gt, gs) - sigma(gs) / (2 * r) * torch.expm1(0.5 * (gt - gs)) * d


def _dpm3(z, gamma_t, gamma_s, state):
    eps, r1, r2 = state["eps"], 1.0 / 3, 2.0 / 3
    gamma_1 = _gamma_between(gamma_t, gamma_s, r1)
    gamma_2 = _gamma_between(gamma_t, gamma_s, r2)
    gt, gs, g2 = per_example(gamma_t, z), per_example(gamma_s, z), per_example(gamma_2, z)
    h = 0.5 * (gt - gs)

    def phi(x):  # (e^x − 1)/x − 1, accurate at small steps through expm1
        return torch.expm1(x) / x - 1

    eps_t = eps(z, gamma_t)
    u1 = _dpm_solver1(z, eps_t, gt, per_example(gamma_1, z))
    d1 = eps(u1, gamma_1) - eps_t
    u2 = _dpm_solver1(z, eps_t, gt, g2) - sigma(g2) * (r2 / r1) * phi(r2 * h) * d1
    d2 = eps(u2, gamma_2) - eps_t
    return _dpm_solver1(z, eps_t, gt, gs) - sigma(gs) / r2 * phi(h) * d2


def _multistep(z, gamma_t, gamma_s, state, update):
    """x̂ at z_t, update(x̂, D, h, gt, gs) with D the extrapolated x̂, then x̂ and h kept."""
    x_hat = x_from_eps(z, state["eps"](z, gamma_t), gamma_t)
    gt, gs = per_example(gamma_t, z), per_example(gamma_s, z)
    h = 0.5 * (gt - gs)
    prev, h_prev = state.get("x_hat_prev"), state.get("h_prev")
    # D: x̂ linearly extrapolated in η from the step before; the first step has none.
    d = x_hat + h / (2 * h_prev) * (x_hat - prev) if prev is not None else x_hat
    z_s = update(d, h, gt, gs)
    state["x_hat_prev"] = x_hat
    state["h_prev"] = h
    return z_s


def _dpmpp2m(z, gamma_t, gamma_s, state):
    return _multistep(z, gamma_t, gamma_s, state, lambda d, h, gt, gs: (
        torch.exp(0.5 * (log_sigma2(gs) - log_sigma2(gt))) * z - alpha(gs) * torch.expm1(-h) * d))


def _dpmpp2m_sde(z, gamma_t, gamma_s, state):
    def update(d, h, gt, gs):
        noise = torch.randn(z.shape, dtype=z.dtype).to(z.device)  # the CPU generator, as C++
        keep = -torch.expm1(-2 * h)
        return (torch.exp(0.5 * (log_sigma2(gs) - log_sigma2(gt)) - h) * z + alpha(gs) * keep * d
                + sigma(gs) * keep.sqrt() * noise)
    return _multistep(z, gamma_t, gamma_s, state, update)


def _heun(z, gamma_t, gamma_s, state):
    eps = state["eps"]
    gt, gs = per_example(gamma_t, z), per_example(gamma_s, z)
    x_t = z / alpha(gt)
    d_sigma = torch.exp(0.5 * gs) - torch.exp(0.5 * gt)  # σ̃_s − σ̃_t, σ̃ = e^{γ/2}
    slope_t = eps(z, gamma_t)
    z_euler = alpha(gs) * (x_t + d_sigma * slope_t)
    slope_s = eps(z_euler, gamma_s)
    return alpha(gs) * (x_t + d_sigma * (0.5 * (slope_t + slope_s)))


# name: (step, network evaluations per step, fewest steps); diffusion/sampler.cpp's table.
VDM_SAMPLERS = {
    "ancestral": (_ancestral, 1, 1),
    "ddim": (_ddim, 1, 1),
    "dpm2": (_dpm2, 2, 1),
    "dpm3": (_dpm3, 3, 1),
    "dpmpp2m": (_dpmpp2m, 1, 2),
    "dpmpp2m-sde": (_dpmpp2m_sde, 1, 1),
    "heun": (_heun, 2, 1),
}


def sample_loop(sampler, eps, gammas, z):
    """diffusion::sample_loop: `sampler` from z at gammas[-1] down to gammas[0]; returns z_0.

    eps(z, γ) with γ of shape (B) is the network's ε̂.
    """
    if sampler not in VDM_SAMPLERS:
        raise ValueError("unknown VDM sampler '%s': use %s" % (sampler, ", ".join(VDM_SAMPLERS)))
    step, _, min_steps = VDM_SAMPLERS[sampler]
    steps = gammas.shape[0] - 1
    if steps < max(1, min_steps):
        raise ValueError("VDM sampler %s needs at least %d steps" % (sampler, max(1, min_steps)))
    state, b = {"eps": eps}, z.shape[0]
    for i in range(steps, 0, -1):
        z = step(z, gammas[i].expand(b), gammas[i - 1].expand(b), state)
    return z


# --- score models: Langevin (langevin.cpp) --------------------------------------------------------
def _full(x, sigma_value):
    return torch.full((x.shape[0],), sigma_value, dtype=x.dtype, device=x.device)


def langevin_step(x, score, delta):
    """x + δ·s(x) + √(2δ)·ε (deepgen's step convention, langevin.h)."""
    drift = x + delta * score(x)
    return drift + math.sqrt(2.0 * delta) * torch.randn(x.shape, dtype=x.dtype, device=x.device)


def _check_step(delta, who):
    if not (delta > 0 and math.isfinite(delta)):
        raise ValueError("%s: the step size must be positive and finite" % who)


def langevin(x, score, delta, steps):
    _check_step(delta, "langevin")
    for _ in range(steps):
        x = langevin_step(x, score, delta)
    return x


def tweedie_denoise(x, score, sigma_value):
    """E[x_clean | x] = x + σ²·s(x, σ): the samplers' last step."""
    return x + sigma_value * sigma_value * score(x, _full(x, sigma_value))


def annealed_langevin(x, score, sigmas, steps_per_level, eps, final_denoise=True):
    """Song & Ermon 2019, Alg. 1: steps_per_level steps per σ_i with δ_i = ε·σ_i²/σ_L²."""
    if not sigmas:
        raise ValueError("annealed_langevin: the σ ladder is empty")
    _check_step(eps, "annealed_langevin")
    last = sigmas[-1]
    for s in sigmas:
        level = _full(x, s)
        delta = eps * (s * s) / (last * last)
        for _ in range(steps_per_level):
            x = langevin_step(x, lambda y: score(y, level), delta)
    return tweedie_denoise(x, score, last) if final_denoise else x


# --- score models: the VE SDE (sde.cpp) -----------------------------------------------------------
def _check_grid(sigmas, who):
    if not sigmas:
        raise ValueError("%s: the σ grid is empty" % who)
    for i, s in enumerate(sigmas):
        if not (s > 0 and math.isfinite(s)) or (i > 0 and not s < sigmas[i - 1]):
            raise ValueError("%s: the σ grid must be positive, finite and descending" % who)


def _mean_norm(t):
    """Mean over the batch of the per-example Euclidean norm, as a Python float (C++ .item)."""
    return t.flatten(1).norm(2, 1).mean().item()


def reverse_diffusion_step(x, score, s, s_next):
    """Song et al. 2021, Alg. 2: x + (σ² − σ'²)·s(x, σ) + √(σ² − σ'²)·z."""
    variance = s * s - s_next * s_next
    drift = x + variance * score(x, _full(x, s))
    return drift + math.sqrt(variance) * torch.randn(x.shape, dtype=x.dtype, device=x.device)


def ancestral_ve_step(x, score, s, s_next):
    """The VE process's exact posterior step given x + σ²s: reverse diffusion with noise σ'√(1 − σ'²/σ²)."""
    variance = s * s - s_next * s_next
    drift = x + variance * score(x, _full(x, s))
    return drift + (s_next / s) * math.sqrt(variance) * torch.randn(x.shape, dtype=x.dtype,
                                                                     device=x.device)


def _dpmpp2m_sde_ve(x, score, s, s_next, state):
    """SDE-DPM-Solver++(2M) in the VE process: the ancestral step on the extrapolated D."""
    h, q = math.log(s / s_next), s_next * s_next / (s * s)
    d = x + s * s * score(x, _full(x, s))
    prev = state.get("d_prev")
    d_ex = d + h / (2 * state["h_prev"]) * (d - prev) if prev is not None else d
    state["d_prev"], state["h_prev"] = d, h
    return q * x + (1 - q) * d_ex + s_next * math.sqrt(1 - q) * torch.randn(
        x.shape, dtype=x.dtype, device=x.device)


# score/sde.cpp's predictors: name -> step(x, score, σ, σ', state).
PREDICTORS = {
    "reverse-diffusion": lambda x, score, s, s_next, state: reverse_diffusion_step(x, score, s,
                                                                                   s_next),
    "ancestral": lambda x, score, s, s_next, state: ancestral_ve_step(x, score, s, s_next),
    "dpmpp2m-sde": _dpmpp2m_sde_ve,
}


def langevin_corrector_step(x, score, s, snr):
    """Song et al. 2021, Alg. 4: one ε per step from the batch-mean norms of s and z."""
    sc = score(x, _full(x, s))
    z = torch.randn(x.shape, dtype=x.dtype, device=x.device)
    signal = _mean_norm(sc)
    if not signal > 0:
        return x
    ratio = snr * _mean_norm(z) / signal
    eps = 2.0 * ratio * ratio
    return x + eps * sc + math.sqrt(2.0 * eps) * z


def pc_sampler(x, score, sigmas, corrector_steps, snr, final_denoise=True,
               predictor="reverse-diffusion"):
    _check_grid(sigmas, "pc_sampler")
    if not (snr > 0 and math.isfinite(snr)) or corrector_steps < 0:
        raise ValueError("pc_sampler: snr must be positive and corrector_steps >= 0")
    if predictor not in PREDICTORS:
        raise ValueError("pc_sampler: unknown predictor '%s': use %s"
                         % (predictor, ", ".join(PREDICTORS)))
    predict, state = PREDICTORS[predictor], {}
    for i in range(len(sigmas) - 1):
        x = predict(x, score, sigmas[i], sigmas[i + 1], state)
        for _ in range(corrector_steps):
            x = langevin_corrector_step(x, score, sigmas[i + 1], snr)
    return tweedie_denoise(x, score, sigmas[-1]) if final_denoise else x


def _pf_ode_slope(x, score, s):
    """dx/dσ of the probability-flow ODE: −σ·s(x, σ)."""
    return -s * score(x, _full(x, s))


def _euler(x, score, s, s_next):
    return x + (s_next - s) * _pf_ode_slope(x, score, s)


def _heun_ode(x, score, s, s_next):
    h = s_next - s
    d = _pf_ode_slope(x, score, s)
    d_next = _pf_ode_slope(x + h * d, score, s_next)
    return x + 0.5 * h * (d + d_next)


ODE_SOLVERS = {"euler": _euler, "heun": _heun_ode}


def probability_flow_ode(x, score, sigmas, solver="heun", final_denoise=True):
    _check_grid(sigmas, "probability_flow_ode")
    if solver not in ODE_SOLVERS:
        raise ValueError("unknown ode_solver '%s': use %s" % (solver, ", ".join(ODE_SOLVERS)))
    for i in range(len(sigmas) - 1):
        x = ODE_SOLVERS[solver](x, score, sigmas[i], sigmas[i + 1])
    return tweedie_denoise(x, score, sigmas[-1]) if final_denoise else x


def geometric_sigmas(first, last, levels):
    """exp(linspace(log σ_1, log σ_L, L)) in float64, largest first (score/losses.cpp)."""
    if levels == 1:
        return [first]
    a, b = math.log(first), math.log(last)
    return [math.exp(a + (b - a) * i / (levels - 1)) for i in range(levels)]
