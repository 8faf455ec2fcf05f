"""The Swin family's calibrated random weights, zoocheck's one scheme (``converters/weights/random.py``)
carried to a network without batch norm, as the ViT family's (``families/vit/random.py``): LayerNorm
gamma ~ U(GAMMA_RANGE), beta ~ N(0, BETA_STD); the patch embedding, the patch merging and every
Linear layer He-normal by fan-in (q/k/v by ``1 / sqrt(width)``), their biases N(0, BETA_STD); V1's
relative position bias table N(0, 0.5); V2's logit scales log-uniform between 5 and 200 (so
that some are clamped at 100, as the zoos' forwards clamp them) and its position-bias MLP He by
fan-in; each residual branch's output times ``branch_gain(blocks)`` (V1: ``attn.proj`` and
``mlp.fc2``; V2's post-norm branches: the gamma of ``norm1`` and ``norm2``); the classifier
projected and spread on the calibration batch as every family's (``spread_heads``)."""

from __future__ import annotations

import numpy as np

from zoocheck.converters.weights.random import BETA_STD, CLASSIFIER_STD, GAMMA_RANGE, branch_gain, spread_heads
from zoocheck.families.swin.canonical import forward, parameter_shapes, spec_of
from zoocheck.zoo_registry.types import Architecture

TABLE_STD = 0.5
LOGIT_SCALE_RANGE = (np.log(5.0), np.log(200.0))


def draw(arch: Architecture, seed: int, input_size: int) -> dict[str, np.ndarray]:
    spec = spec_of(arch)
    if input_size != spec.image_size:
        raise ValueError(f"{spec.id}: its windows, shifts and masks are those of {spec.image_size}-pixel inputs, not {input_size}")
    rng = np.random.default_rng(seed)
    gain = branch_gain(sum(spec.depths))
    params: dict[str, np.ndarray] = {}
    for name, shape in parameter_shapes(arch).items():
        module, leaf = name.rsplit(".", 1)
        if module == "fc":
            params[name] = rng.normal(0.0, CLASSIFIER_STD, shape) if leaf == "weight" else np.zeros(shape)
        elif module.endswith("norm") or module.endswith(("norm1", "norm2")):
            damped = gain if spec.v2 and module.endswith(("norm1", "norm2")) else 1.0
            params[name] = rng.uniform(*GAMMA_RANGE, shape) * damped if leaf == "weight" else rng.normal(0.0, BETA_STD, shape)
        elif leaf == "relative_position_bias_table":
            params[name] = rng.normal(0.0, TABLE_STD, shape)
        elif leaf == "logit_scale":
            params[name] = rng.uniform(*LOGIT_SCALE_RANGE, shape)
        elif leaf == "weight":
            fan_in = int(np.prod(shape[1:]))
            std = 1 / np.sqrt(fan_in) if module.endswith("qkv") else np.sqrt(2.0 / fan_in)
            branch = gain if not spec.v2 and module.endswith(("attn.proj", "mlp.fc2")) else 1.0
            params[name] = rng.standard_normal(shape, dtype=np.float32) * np.float32(std * branch)
        else:
            params[name] = rng.normal(0.0, BETA_STD, shape)
    spread_heads(arch, params, forward, seed, input_size, ("fc",))
    return {k: v.astype(np.float32) for k, v in params.items()}
