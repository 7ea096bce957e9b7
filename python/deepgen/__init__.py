"""deepgen's trained runs in plain PyTorch: the same networks, weights and samplers.

    import deepgen
    m = deepgen.load("runs/vdm")                 # config.json + model.safetensors (or EMA)
    x = m.sample(16, seed=0, steps=50)           # what `deepgen sample --seed 0 --steps 50` draws
    eps_hat = m.network(z, gamma)                # the ε-network itself

Modules: safetensors (the weights file), nets (src/nn: MLP, conv stacks, ResBlock, U-Net),
vae (src/vi), schedule and vdm (src/diffusion), score (src/score), samplers (the samplers of
both), load (src/run: which weights, which options). Needs torch 1.13 and numpy only.
"""
from .load import Model, load, weights_path
from .safetensors import read as read_safetensors

__all__ = ["Model", "load", "read_safetensors", "weights_path"]
