"""The Swin family's canonical weights (``canonical.py`` names) under torchvision's and timm's
parameter names (the family's ``layouts``, ``families/registry.py``).

=================================  ==========================  ==============================
canonical                          torchvision                 timm
=================================  ==========================  ==============================
``patch_embed`` / ``.norm``        ``features.0.0`` / ``.0.2``  ``patch_embed.proj`` / ``.norm``
``stages.{s}.downsample``          ``features.{2 s}``          ``layers.{s}.downsample``
``stages.{s}.blocks.{i}``          ``features.{2 s + 1}.{i}``  ``layers.{s}.blocks.{i}``
``.mlp.fc1`` / ``.mlp.fc2``        ``.mlp.0`` / ``.mlp.3``     ``.mlp.fc1`` / ``.mlp.fc2``
``fc``                             ``head``                    ``head.fc``
=================================  ==========================  ==============================

torchvision keeps each window's relative position index (and V2's coordinates table) in its
state dict: written from the spec (``canonical.relative_position_index``,
``relative_coords_table``); its V2 q/k/v Linear has a bias of 3 C whose key part it zeroes in
the forward: written as the canonical q and v biases around zeros.
"""

from __future__ import annotations

import numpy as np

from zoocheck.families.swin.canonical import relative_coords_table, relative_position_index, spec_of
from zoocheck.zoo_registry.types import Architecture

_TOP = {
    "torchvision": {"patch_embed": "features.0.0", "patch_embed.norm": "features.0.2", "norm": "norm", "fc": "head"},
    "timm": {"patch_embed": "patch_embed.proj", "patch_embed.norm": "patch_embed.norm", "norm": "norm", "fc": "head.fc"},
}
_MLP = {"torchvision": {"mlp.fc1": "mlp.0", "mlp.fc2": "mlp.3"}, "timm": {}}


def _module(module: str, framework: str) -> str:
    """One canonical module's name under ``framework``."""
    if module in _TOP[framework]:
        return _TOP[framework][module]
    parts = module.split(".")
    if parts[0] != "stages":
        raise ValueError(f"{framework}'s Swin has no counterpart of {module}")
    stage, rest = int(parts[1]), parts[2:]
    if rest[0] == "downsample":
        prefix = f"features.{2 * stage}" if framework == "torchvision" else f"layers.{stage}.downsample"
        return ".".join([prefix, *rest[1:]])
    block = f"features.{2 * stage + 1}.{rest[1]}" if framework == "torchvision" else f"layers.{stage}.blocks.{rest[1]}"
    unit = ".".join(rest[2:])
    return f"{block}.{_MLP[framework].get(unit, unit)}"


def _renamed(params: dict[str, np.ndarray], framework: str) -> dict[str, np.ndarray]:
    out = {}
    for name, value in params.items():
        module, _, leaf = name.rpartition(".")
        out[f"{_module(module, framework)}.{leaf}" if module else name] = value
    return out


def to_timm(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    return _renamed(params, "timm")


def to_torchvision(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    spec = spec_of(arch)
    if spec.pretrained_window:
        raise ValueError(f"{spec.id}: torchvision's Swin V2 normalises its position-bias coordinates by its own window only")
    params = dict(params)
    if "patch_embed.weight" in params:  # parameters, not layer taps: the buffers and V2's fused bias
        for stage, depth in enumerate(spec.depths):
            window = spec.stage_window(stage)
            for i in range(depth):
                attn = f"stages.{stage}.blocks.{i}.attn"
                params[f"{attn}.relative_position_index"] = relative_position_index(window).reshape(-1)
                if spec.v2:
                    params[f"{attn}.relative_coords_table"] = relative_coords_table(window, window).reshape(1, 2 * window - 1, 2 * window - 1, 2)
                    q, v = params.pop(f"{attn}.q_bias"), params.pop(f"{attn}.v_bias")
                    params[f"{attn}.qkv.bias"] = np.concatenate([q, np.zeros_like(q), v])
    return _renamed(params, "torchvision")
