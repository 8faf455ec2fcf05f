"""The ViT family's calibrated random weights, zoocheck's one scheme (``converters/weights/random.py``)
carried to a network without batch norm: LayerNorm gamma ~ U(GAMMA_RANGE) and beta ~ N(0, BETA_STD);
the patch embedding and every Linear layer He-normal by fan-in (the q/k/v projection by
``1 / sqrt(dim)``, so that attention logits are about unit scale), their biases N(0, BETA_STD) so a
dropped bias shows; the tokens and position embedding N(0, 0.5); each residual branch's output
projection (``attn.proj``, ``mlp.fc2``) times ``branch_gain(depth)``, so the token stream keeps its
scale through every block and float32 stays close to float64; the classifiers projected and
spread on the calibration batch as every family's (``spread_heads``)."""

from __future__ import annotations

import numpy as np

from zoocheck.converters.weights.random import (
    BETA_STD,
    CLASSIFIER_STD,
    GAMMA_RANGE,
    branch_gain,
    spread_heads,
)
from zoocheck.families.vit.canonical import forward, parameter_shapes, spec_of
from zoocheck.zoo_registry.types import Architecture

TOKEN_STD = 0.5


def draw(arch: Architecture, seed: int, input_size: int) -> dict[str, np.ndarray]:
    spec = spec_of(arch)
    if input_size != spec.image_size:
        raise ValueError(f"{spec.id}: its position embedding is sized for {spec.image_size}-pixel inputs, not {input_size}")
    rng = np.random.default_rng(seed)
    gain = branch_gain(spec.depth)
    params: dict[str, np.ndarray] = {}
    for name, shape in parameter_shapes(arch).items():
        module, leaf = name.rsplit(".", 1)
        if module.startswith("tokens"):
            params[name] = rng.normal(0.0, TOKEN_STD, shape)
        elif module in ("fc", "fc_dist"):
            params[name] = rng.normal(0.0, CLASSIFIER_STD, shape) if leaf == "weight" else np.zeros(shape)
        elif module.endswith(("norm1", "norm2")) or module == "norm":
            params[name] = rng.uniform(*GAMMA_RANGE, shape) if leaf == "weight" else rng.normal(0.0, BETA_STD, shape)
        elif module.endswith(("ls1", "ls2")):
            params[name] = rng.uniform(*GAMMA_RANGE, shape)
        elif leaf == "weight":
            fan_in = int(np.prod(shape[1:]))
            std = 1 / np.sqrt(fan_in) if module.endswith("qkv") else np.sqrt(2.0 / fan_in)
            branch = gain if module.endswith(("attn.proj", "mlp.fc2")) else 1.0
            params[name] = rng.standard_normal(shape, dtype=np.float32) * np.float32(std * branch)
        else:
            params[name] = rng.normal(0.0, BETA_STD, shape)
    spread_heads(arch, params, forward, seed, input_size, ("fc", "fc_dist"))
    return {k: v.astype(np.float32) for k, v in params.items()}
