"""The building blocks every family's network is made of, as deepgen builds them.

Mirrors src/nn/: mlp.cpp (MLP, activations), conv.cpp (the VAE's conv encoder / decoder),
blocks.cpp (conv3, GroupNorm, ResBlock) and unet.cpp (the shared noise-conditional U-Net:
Fourier features, the noise embedding, attention). Parameter names, shapes and the order of
every arithmetic operation follow the C++ code, so weights saved by deepgen load with
strict=True and a forward gives the same floats on the same torch build.

Modules are created in the C++ construction order (the order of the initial random draws) and
registered in the C++ registration order (the order of named_parameters()).
"""
import functools
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

ACTIVATIONS = {
    "relu": torch.relu,
    "silu": F.silu,
    "softplus": F.softplus,
    "tanh": torch.tanh,
}


@functools.lru_cache(maxsize=None)
def cpu_flags():
    """The CPU's feature flags from /proc/cpuinfo (empty where it cannot be read), read once:
    network_memory_format asks at every network evaluation."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def network_memory_format(x):
    """core::network_memory_format: channels-last for a bf16 network (autocast on) on a CPU
    with AMX, whose tile convolutions take NHWC; contiguous (NCHW) elsewhere. Applied to the
    first convolution's input, so every later activation follows its layout."""
    if x.device.type == "cpu" and torch.is_autocast_cpu_enabled() and \
            torch.get_autocast_cpu_dtype() == torch.bfloat16 and "amx_bf16" in cpu_flags():
        return torch.channels_last
    return torch.contiguous_format


def to_network_dtype(x):
    """core::to_network_dtype: x in autocast's type while autocast is on (bf16 networks)."""
    if x.device.type == "cpu" and torch.is_autocast_cpu_enabled():
        return x.to(torch.get_autocast_cpu_dtype())
    if x.device.type == "cuda" and torch.is_autocast_enabled():
        return x.to(torch.get_autocast_gpu_dtype())
    return x


def autocast_forward(precision, x, forward):
    """core/precision.h's autocast_forward: forward() under autocast to bfloat16 on x's device
    when the precision is "bf16" (a no-op under "fp32"), its result cast back to x's dtype, so
    what a loss or a sampler reads is never bfloat16. Only network forwards run under it."""
    if precision != "bf16":
        return forward().to(x.dtype)
    with torch.autocast(x.device.type, dtype=torch.bfloat16):
        out = forward()
    return out.to(x.dtype)


def activate(name, x):
    """nn::activate: the activation named in the options."""
    if name not in ACTIVATIONS:
        raise ValueError("unknown activation '%s': use %s" % (name, ", ".join(ACTIVATIONS)))
    return ACTIVATIONS[name](x)


class MLP(nn.Module):
    """nn::MLP: Linear -> activation, repeated, then a final Linear; parameters layers.N."""

    def __init__(self, n_in, hidden, n_out, activation="relu"):
        super().__init__()
        activate(activation, torch.zeros(1))  # reject a bad name at construction, as C++ does
        widths = [n_in, *hidden, n_out]
        self.activation = activation
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))

    def forward(self, x):
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i != last:
                x = activate(self.activation, x)
        return x


# --- conv.cpp: the VAE's DCGAN-style stacks -------------------------------------------------------
def _base_shape(image, channels):
    scale = 1 << len(channels)
    return [channels[-1], image[1] // scale, image[2] // scale]


def _check_conv(image, channels):
    scale = 1 << len(channels)
    if len(image) != 3 or image[1] % scale or image[2] % scale:
        raise ValueError("conv nets halve the image %d times: %s does not divide"
                         % (len(channels), image))


class ConvEncoder(nn.Module):
    """nn::ConvEncoder: 4x4 stride-2 convolutions (convs.N), then a Linear head: image -> vector."""

    def __init__(self, image, vector, channels=(32, 64), activation="relu"):
        super().__init__()
        _check_conv(image, channels)
        self.activation = activation
        convs, c_in = [], image[0]
        for c in channels:
            convs.append(nn.Conv2d(c_in, c, 4, stride=2, padding=1))
            c_in = c
        self.convs = nn.ModuleList(convs)
        self.head = nn.Linear(math.prod(_base_shape(image, channels)), vector)

    def forward(self, x):
        for conv in self.convs:
            x = activate(self.activation, conv(x))
        return self.head(x.flatten(1))


class ConvDecoder(nn.Module):
    """nn::ConvDecoder: a Linear head to the smallest map, then 4x4 stride-2 transposed
    convolutions (deconvs.N) back to the image, with no output activation."""

    def __init__(self, image, vector, channels=(32, 64), activation="relu"):
        super().__init__()
        _check_conv(image, channels)
        self.activation = activation
        self.base = _base_shape(image, channels)
        self.head = nn.Linear(vector, math.prod(self.base))
        deconvs = []
        for i in reversed(range(len(channels))):
            out = image[0] if i == 0 else channels[i - 1]
            deconvs.append(nn.ConvTranspose2d(channels[i], out, 4, stride=2, padding=1))
        self.deconvs = nn.ModuleList(deconvs)

    def forward(self, z):
        h = activate(self.activation, self.head(z)).reshape(z.shape[0], *self.base)
        last = len(self.deconvs) - 1
        for i, deconv in enumerate(self.deconvs):
            h = deconv(h)
            if i != last:
                h = activate(self.activation, h)
        return h


# --- blocks.cpp -----------------------------------------------------------------------------------
def conv3(c_in, c_out, stride=1):
    """3x3 convolution, padding 1: the same resolution, or half of it with stride 2."""
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1)


class GroupNorm(nn.GroupNorm):
    """nn::GroupNormImpl: GroupNorm in float32 whatever its input's type (bf16 networks)."""

    def forward(self, x):
        if x.dtype in (torch.bfloat16, torch.float16):
            x = x.float()
        return super().forward(x)


def group_norm(channels):
    """Up to 8 groups that divide the channels (GroupNorm needs an exact split)."""
    return GroupNorm(math.gcd(channels, 8), channels)


def softmax_float(x, dim):
    """nn::softmax_float: in float32 when x is bfloat16 or half, else in x's type."""
    if x.dtype in (torch.bfloat16, torch.float16):
        return torch.softmax(x, dim, dtype=torch.float32)
    return torch.softmax(x, dim)


def upsample2(x):
    """(B, C, H, W) -> (B, C, 2H, 2W), each value repeated 2x2 (at::upsample_nearest2d)."""
    return F.interpolate(x, size=(x.shape[2] * 2, x.shape[3] * 2), mode="nearest")


def zero_init(module):
    """Zeroes every parameter: a zero output layer makes its block start as the identity."""
    with torch.no_grad():
        for p in module.parameters():
            p.zero_()


class ResBlock(nn.Module):
    """nn::ResBlock: GroupNorm -> SiLU -> conv3x3, plus the embedding projected onto the
    channels, then GroupNorm -> SiLU -> [dropout] -> conv3x3, plus the skip (x or a 1x1 conv).

    projection: the projection's name ("project", or the VDM U-Net's "cond"); dropout None
    registers no Dropout (it has no parameters either way).
    """

    def __init__(self, c_in, c_out, embed, projection="project", projection_bias=True,
                 zero=False, dropout=None):
        super().__init__()
        self.projection = projection
        self.norm1 = group_norm(c_in)
        self.conv1 = conv3(c_in, c_out)
        self.add_module(projection, nn.Linear(embed, c_out, bias=projection_bias))
        self.norm2 = group_norm(c_out)
        self.dropout = nn.Dropout(dropout) if dropout is not None else None
        self.conv2 = conv3(c_out, c_out)
        if zero:
            zero_init(getattr(self, projection))
            zero_init(self.conv2)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else None

    def forward(self, x, embedding):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + getattr(self, self.projection)(embedding).unsqueeze(-1).unsqueeze(-1)
        h = F.silu(self.norm2(h))
        if self.dropout is not None:
            h = self.dropout(h)
        h = self.conv2(h)
        return h + (self.skip(x) if self.skip is not None else x)


# --- unet.cpp -------------------------------------------------------------------------------------
def fourier_features(z, exponents, noise_var=None):
    """VDM App. B: z with sin/cos(2^n·2π·z) for n in exponents, along channels; with noise_var
    (B) each pair times exp(−½(2^n·2π)²·noise_var) (nn::UNetOptions::fourier_gate)."""
    parts = [z]
    for n in exponents:
        omega = math.ldexp(2 * math.pi, n)
        angle = z * omega
        if noise_var is None:
            parts += [torch.sin(angle), torch.cos(angle)]
            continue
        gate = torch.exp(-0.5 * omega * omega * noise_var.to(z.dtype)).view(-1, 1, 1, 1)
        parts += [torch.sin(angle) * gate, torch.cos(angle) * gate]
    return torch.cat(parts, 1)


def timestep_embedding(t, dim):
    """Transformer-style sinusoidal embedding (B) -> (B, dim) of 1000·t."""
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=t.dtype, device=t.device)
                      * (-math.log(10000.0) / max(half - 1, 1)))
    args = 1000.0 * t.unsqueeze(1) * freqs.unsqueeze(0)
    emb = torch.cat([torch.sin(args), torch.cos(args)], 1)
    if dim % 2 == 1:
        emb = F.pad(emb, (0, 1))
    return emb


class NoiseEmbedding(nn.Module):
    """nn::NoiseEmbedding: the noise level rescaled to about [0, 1], its sinusoidal embedding,
    then two SiLU layers l1, l2: (B) -> (B, 4·dim)."""

    def __init__(self, dim, noise_min, noise_max):
        super().__init__()
        self.dim, self.noise_min, self.noise_max = dim, noise_min, noise_max
        self.l1 = nn.Linear(dim, 4 * dim)
        self.l2 = nn.Linear(4 * dim, 4 * dim)

    def forward(self, noise):
        t = (noise - self.noise_min) / (self.noise_max - self.noise_min)
        return F.silu(self.l2(F.silu(self.l1(timestep_embedding(t, self.dim)))))


class Attention(nn.Module):
    """nn::Attention: single-head self-attention over all positions, zero-initialised proj."""

    def __init__(self, c):
        super().__init__()
        self.norm = group_norm(c)
        self.qkv = nn.Conv2d(c, 3 * c, 1)
        self.proj = nn.Conv2d(c, c, 1)
        zero_init(self.proj)

    def forward(self, x):
        c = x.shape[1]
        q, k, v = self.qkv(self.norm(x)).flatten(2).chunk(3, 1)  # each (B, C, HW)
        w = softmax_float(torch.bmm(q.transpose(1, 2), k) / math.sqrt(float(c)), -1)
        h = torch.bmm(v, w.transpose(1, 2)).view(x.shape)
        return x + self.proj(h)


UNET_DEFAULTS = {  # nn::UNetOptions
    "channels": [32, 64], "blocks": 2, "attention": True, "patch": 2, "fourier": [6, 7],
    "fourier_gate": False, "dropout": 0.0, "skip": True, "noise_min": -13.3, "noise_max": 5.0,
}


class UNet(nn.Module):
    """nn::UNetLayers: the noise-conditional image U-Net, z (B, C, H, W) and a noise level (B)
    -> (B, C, H, W). Its layers sit at the top of this module ("embed", "conv_in", "down", ...),
    as C++ registers them into the network that owns them.

    data_shape: {C, H, W}; the other keyword arguments are nn::UNetOptions' (UNET_DEFAULTS).
    """

    def __init__(self, data_shape, channels=(32, 64), blocks=2, attention=True, patch=2,
                 fourier=(6, 7), dropout=0.0, skip=True, noise_min=-13.3, noise_max=5.0,
                 fourier_gate=False):
        super().__init__()
        ch = list(channels)
        factor = patch * (1 << (len(ch) - 1))
        if len(data_shape) != 3 or data_shape[1] % factor or data_shape[2] % factor:
            raise ValueError("a %d-level U-Net with patch %d needs images with height and width "
                             "divisible by %d, got %s" % (len(ch), patch, factor, data_shape))
        self.channels, self.blocks, self.patch = ch, blocks, patch
        self.fourier, self.skip, self.fourier_gate = list(fourier), skip, fourier_gate
        levels, cond, p2 = len(ch), 4 * ch[0], patch * patch
        c_in = p2 * data_shape[0] * (1 + 2 * len(self.fourier))

        def res_block(a, b):  # VDM's block: "cond" without bias, zero-initialised, dropout
            return ResBlock(a, b, cond, projection="cond", projection_bias=False, zero=True,
                            dropout=dropout)

        # Built in the C++ construction order (the initial draws), registered in its
        # registration order (named_parameters): embed, conv_in, mid1, attn, mid2, down, ...
        self.embed = NoiseEmbedding(ch[0], noise_min, noise_max)
        self.conv_in = conv3(c_in, ch[0])
        down, downsample, up, upsample = [], [], [], []
        skips, cur = [ch[0]], ch[0]
        for i in range(levels):
            for _ in range(blocks):
                down.append(res_block(cur, ch[i]))
                cur = ch[i]
                skips.append(cur)
            if i + 1 < levels:
                downsample.append(conv3(cur, cur, 2))
                skips.append(cur)
        self.mid1 = res_block(cur, cur)
        self.attn = Attention(cur) if attention else None
        self.mid2 = res_block(cur, cur)
        for i in reversed(range(levels)):
            for _ in range(blocks + 1):
                up.append(res_block(cur + skips.pop(), ch[i]))
                cur = ch[i]
            if i > 0:
                upsample.append(conv3(cur, cur))
        self.down, self.downsample = nn.ModuleList(down), nn.ModuleList(downsample)
        self.up, self.upsample = nn.ModuleList(up), nn.ModuleList(upsample)
        self.norm_out = group_norm(cur)
        self.conv_out = conv3(cur, p2 * data_shape[0])
        zero_init(self.conv_out)

    def forward(self, z, noise):
        c = self.embed(noise)
        levels = len(self.channels)
        features = fourier_features(z, self.fourier,
                                    torch.sigmoid(noise) if self.fourier_gate else None)
        if self.patch > 1:
            features = F.pixel_unshuffle(features, self.patch)
        with torch.autocast(features.device.type, enabled=False):  # core::Float32Scope
            h0 = self.conv_in(features)
        skips = [to_network_dtype(h0).contiguous(memory_format=network_memory_format(features))]
        h, block = skips[-1], 0
        for i in range(levels):
            for _ in range(self.blocks):
                h = self.down[block](h, c)
                block += 1
                skips.append(h)
            if i + 1 < levels:
                h = self.downsample[i](h)
                skips.append(h)
        h = self.mid1(h, c)
        if self.attn is not None:
            h = self.attn(h)
        h = self.mid2(h, c)
        block = 0
        for i in reversed(range(levels)):
            for _ in range(self.blocks + 1):
                h = self.up[block](torch.cat([h, skips.pop()], 1), c)
                block += 1
            if i > 0:
                h = self.upsample[levels - 1 - i](upsample2(h))
        # core::Float32Scope: the output layer in float32, autocast off.
        with torch.autocast(h.device.type, enabled=False):
            out = self.conv_out(F.silu(self.norm_out(h)))
        if self.patch > 1:
            out = F.pixel_shuffle(out, self.patch)
        return z + out if self.skip else out


def unet_options(options, data_shape, **fixed):
    """The U-Net's keyword arguments from a family's flat config options (nn/unet_options.h)."""
    keys = ("channels", "blocks", "attention", "patch", "fourier", "fourier_gate", "dropout")
    kwargs = {k: options.get(k, UNET_DEFAULTS[k]) for k in keys}
    kwargs.update(fixed)
    return dict(data_shape=list(data_shape), **kwargs)
