"""The VAE family: q(z|x) = N(mu, diag σ²), p(z) = N(0, I), a Gaussian or Bernoulli decoder.

Mirrors src/vi/vae.cpp (VaeImpl: the encoder, decoder and log_sigma, parameter for parameter),
src/vi/vae_model.cpp (VaeModel::sample), src/vi/vae_options.cpp and src/vi/family.cpp (the
options and their defaults) and src/vi/local.cpp (the per-example q of svi / full inference,
kept as buffers "local.*" so such runs load too).
"""
import math

import torch
import torch.nn as nn

from .nets import ConvDecoder, ConvEncoder, MLP, autocast_forward

MIN_LOG_SIGMA = -6.9  # σ ≥ 1e-3 (vae.cpp's kMinLogSigma)


def default_options(data_shape):
    """VaeOptions' defaults, with the family's base: points get an identity decoder mean."""
    return {
        "hidden": [400], "latent": 20, "activation": "relu", "likelihood": "gaussian",
        "sigma": 0.0, "sigma_init": 0.1,
        "mean_activation": "sigmoid" if len(data_shape) == 3 else "identity",
        "architecture": "mlp", "conv_channels": [32, 64], "inference": "amortized",
        "num_points": 0,
    }


class LocalPosteriors(nn.Module):
    """vi::LocalPosteriors: the (N, 2·latent) table of per-example q and its Adam state."""

    def __init__(self, n, latent):
        super().__init__()
        self.register_buffer("psi", torch.zeros(n, 2 * latent))
        self.register_buffer("exp_avg", torch.zeros(n, 2 * latent))
        self.register_buffer("exp_avg_sq", torch.zeros(n, 2 * latent))
        self.register_buffer("steps", torch.zeros(n, dtype=torch.int64))


class Vae(nn.Module):
    """vi::VaeImpl. options: the run's model_options (missing keys take default_options)."""

    def __init__(self, options, data_shape):
        super().__init__()
        o = {**default_options(data_shape), **options}
        if o.get("latents"):
            raise ValueError("this VAE has %d stochastic layers (latents %s); python/deepgen "
                             "loads one-layer VAEs only" % (len(o["latents"]), o["latents"]))
        self.options, self.data_shape = o, list(data_shape)
        self.precision = "fp32"  # of the network forwards: "fp32" | "bf16" (core/precision.h)
        self.dim = math.prod(data_shape)
        self.conv = o["architecture"] == "conv"
        latent, act = o["latent"], o["activation"]
        if o["inference"] == "amortized":
            self.encoder = (ConvEncoder(self.data_shape, 2 * latent, o["conv_channels"], act)
                            if self.conv else MLP(self.dim, o["hidden"], 2 * latent, act))
        else:
            self.encoder = None
            self.local = LocalPosteriors(o["num_points"], latent)
        # The logistic decoder outputs means, then per-pixel log-scales: twice the channels.
        self.logistic = o["likelihood"] == "logistic"
        self.decoder_shape = list(data_shape)
        if self.logistic:
            self.decoder_shape[0] *= 2
        self.decoder = (ConvDecoder(self.decoder_shape, latent, o["conv_channels"], act)
                        if self.conv else
                        MLP(latent, o["hidden"][::-1], math.prod(self.decoder_shape), act))
        # One shared σ: a parameter when learned (sigma 0), a buffer when fixed.
        learned = o["sigma"] == 0.0 and not self.logistic
        init = torch.full((1,), math.log(o["sigma"] if o["sigma"] > 0 else o["sigma_init"]))
        if learned:
            self.log_sigma = nn.Parameter(init)
        else:
            self.register_buffer("log_sigma", init)

    def log_sigma_clamped(self):
        return self.log_sigma.clamp_min(MIN_LOG_SIGMA)

    def encode(self, x):
        """(mu, log σ²) of q(z|x), each (B, latent); amortised inference only."""
        if self.encoder is None:
            raise ValueError("this VAE was trained with per-example q (%s): it has no encoder"
                             % self.options["inference"])
        x_in = x if self.conv else x.reshape(x.shape[0], self.dim)
        h = autocast_forward(self.precision, x, lambda: self.encoder(x_in))
        mu, logvar = h.chunk(2, 1)
        return mu, logvar

    def decode(self, z):
        """The Gaussian mean (sigmoid or identity), or the Bernoulli logits, in data shape."""
        out = autocast_forward(self.precision, z, lambda: self.decoder(z))
        out = out.reshape(z.shape[0], *self.decoder_shape)
        o = self.options
        if o["likelihood"] == "gaussian" and o["mean_activation"] == "sigmoid":
            out = torch.sigmoid(out)
        return out

    def sample(self, n):
        """VaeModel::sample: images give the decoder's mean (Bernoulli: its probabilities),
        points a draw x ~ p(x|z) (the mean plus σ noise)."""
        log_sigma = self.log_sigma_clamped()
        z = torch.randn(n, self.options["latent"], dtype=log_sigma.dtype, device=log_sigma.device)
        out = self.decode(z)
        if self.options["likelihood"] == "bernoulli":
            return torch.sigmoid(out)
        if self.logistic:  # the means, clamped to the pixels' range
            return out.chunk(2, 1)[0].clamp(0.0, 1.0)
        if len(self.data_shape) == 3:
            return out
        return out + log_sigma.exp() * torch.randn_like(out)
