"""The Swin family's canonical weights (``canonical.py`` names) under torchvision's, timm's,
mmpretrain's and PaddleClas's parameter names (the family's ``layouts``, ``families/registry.py``;
mmpretrain's in ``to_mmpretrain``, PaddleClas's in ``to_paddle``: the official code's names,
``layers.{s}`` with V1's patch merging at the end of the stage before, ``head``, Linear weights
[in, out]).

=============================  ==========================  ================================  =========================================
canonical                      torchvision                 timm                              mmpretrain (``backbone.`` but ``head``)
=============================  ==========================  ================================  =========================================
``patch_embed`` / ``.norm``    ``features.0.0`` / ``.0.2``  ``patch_embed.proj`` / ``.norm``  ``patch_embed.projection`` / ``.norm``
``stages.{s}.downsample``      ``features.{2 s}``          ``layers.{s}.downsample``         ``stages.{s - 1}.downsample``
``stages.{s}.blocks.{i}``      ``features.{2 s + 1}.{i}``  ``layers.{s}.blocks.{i}``         ``stages.{s}.blocks.{i}``
``.attn``                      ``.attn``                   ``.attn``                         ``.attn.w_msa``
``.mlp.fc1`` / ``.mlp.fc2``    ``.mlp.0`` / ``.mlp.3``     ``.mlp.fc1`` / ``.mlp.fc2``       ``.ffn.layers.0.0`` / ``.ffn.layers.1``
``norm``                       ``norm``                    ``norm``                          ``norm{last stage}``
``fc``                         ``head``                    ``head.fc``                       ``head.fc``
=============================  ==========================  ================================  =========================================

torchvision keeps each window's relative position index (and V2's coordinates table) in its
state dict: written from the spec (``canonical.relative_position_index``,
``relative_coords_table``); its V2 q/k/v Linear has a bias of 3 C whose key part it zeroes in
the forward: written as the canonical q and v biases around zeros. mmpretrain keeps the position
index too, and its patch merging's norm and reduction are in ``nn.Unfold``'s channel order
(``mmpretrain.merging_order``).
"""

from __future__ import annotations

import numpy as np

from zoocheck.families.swin.canonical import relative_coords_table, relative_position_index, spec_of
from zoocheck.zoo_registry.types import Architecture

_TOP = {
    "torchvision": {"patch_embed": "features.0.0", "patch_embed.norm": "features.0.2", "norm": "norm", "fc": "head"},
    "timm": {"patch_embed": "patch_embed.proj", "patch_embed.norm": "patch_embed.norm", "norm": "norm", "fc": "head.fc"},
    "mmpretrain": {"patch_embed": "backbone.patch_embed.projection", "patch_embed.norm": "backbone.patch_embed.norm", "fc": "head.fc"},
}
_MLP = {
    "torchvision": {"mlp.fc1": "mlp.0", "mlp.fc2": "mlp.3"},
    "timm": {},
    "mmpretrain": {"mlp.fc1": "ffn.layers.0.0", "mlp.fc2": "ffn.layers.1"},
}


def _module(module: str, framework: str) -> str:
    """One canonical module's name under ``framework``."""
    if module in _TOP[framework]:
        return _TOP[framework][module]
    parts = module.split(".")
    if parts[0] != "stages":
        raise ValueError(f"{framework}'s Swin has no counterpart of {module}")
    stage, rest = int(parts[1]), parts[2:]
    if rest[0] == "downsample":
        prefix = {
            "torchvision": f"features.{2 * stage}",
            "timm": f"layers.{stage}.downsample",
            "mmpretrain": f"backbone.stages.{stage - 1}.downsample",
        }
        return ".".join([prefix[framework], *rest[1:]])
    block = {
        "torchvision": f"features.{2 * stage + 1}.{rest[1]}",
        "timm": f"layers.{stage}.blocks.{rest[1]}",
        "mmpretrain": f"backbone.stages.{stage}.blocks.{rest[1]}",
    }[framework]
    unit = ".".join(rest[2:])
    if framework == "mmpretrain" and rest[2] == "attn":
        unit = ".".join(["attn.w_msa", *rest[3:]])
    return f"{block}.{_MLP[framework].get(unit, unit)}"


def _renamed(params: dict[str, np.ndarray], framework: str) -> dict[str, np.ndarray]:
    out = {}
    for name, value in params.items():
        module, _, leaf = name.rpartition(".")
        out[f"{_module(module, framework)}.{leaf}" if module else name] = value
    return out


def tap_modules(arch: Architecture, framework: str) -> dict[str, str]:
    """V1's attention taps (``canonical.layer_outputs``: the canonical module ``attn``, the whole
    window attention in the map's layout, which owns no parameter): torchvision's
    ``ShiftedWindowAttention``, zoocheck's mmpretrain ``ShiftWindowMSA`` and PaddleClas
    ``WindowAttention`` (each puts the windows back and undoes the shift); timm's ``WindowAttention``
    returns windows, and its block does the rest inline: its ``drop_path1`` (an identity in
    evaluation) is handed the result."""
    spec = spec_of(arch)
    if spec.v2:  # the tap is norm1, whose weight names it
        return {}
    rename = _paddle_module if framework == "paddle" else lambda module: _module(module, framework)
    unit = "drop_path1" if framework == "timm" else "attn"
    blocks = [f"stages.{stage}.blocks.{i}" for stage, depth in enumerate(spec.depths) for i in range(depth)]
    # the framework's block: where its norm1 is
    return {f"{b}.attn": f"{rename(f'{b}.norm1').removesuffix('.norm1')}.{unit}" for b in blocks}


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
                    params[f"{attn}.relative_coords_table"] = relative_coords_table(window, window).reshape(
                        1, 2 * window - 1, 2 * window - 1, 2
                    )
                    q, v = params.pop(f"{attn}.q_bias"), params.pop(f"{attn}.v_bias")
                    params[f"{attn}.qkv.bias"] = np.concatenate([q, np.zeros_like(q), v])
    return _renamed(params, "torchvision")


def to_mmpretrain(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    """mmpretrain's names (``families/swin/mmpretrain.py``): the final norm ``backbone.norm{last
    stage}``; V1's patch merging at the end of the stage before (V2's starts its own stage, as the
    canonical names say), its reduction (V1: and norm) in ``nn.Unfold``'s channel order; each
    window's position index and V2's coordinates table (buffers of its checkpoints)."""
    from zoocheck.families.swin.mmpretrain import merging_order

    spec = spec_of(arch)
    params = dict(params)
    if "patch_embed.weight" in params:  # parameters, not layer taps: the merging's order, the buffers
        for stage, depth in enumerate(spec.depths):
            merge = f"stages.{stage}.downsample"
            for name in (
                (f"{merge}.reduction.weight",) if spec.v2 else (f"{merge}.norm.weight", f"{merge}.norm.bias", f"{merge}.reduction.weight")
            ):
                if stage:
                    unfolded = np.empty_like(params[name])
                    unfolded[..., merging_order(spec.width(stage - 1))] = params[name]
                    params[name] = unfolded
            window = spec.stage_window(stage)
            for i in range(depth):
                attn = f"stages.{stage}.blocks.{i}.attn"
                params[f"{attn}.relative_position_index"] = relative_position_index(window)
                if spec.v2:
                    table = relative_coords_table(window, spec.coords_window(stage))
                    params[f"{attn}.relative_coords_table"] = table.reshape(1, 2 * window - 1, 2 * window - 1, 2)
    out = {}
    for name, value in params.items():
        module, _, leaf = name.rpartition(".")
        if module == "norm":
            out[f"backbone.norm{len(spec.depths) - 1}.{leaf}"] = value
        elif spec.v2 and ".downsample" in module:
            out[f"backbone.{module}.{leaf}"] = value
        else:
            out[f"{_module(module, 'mmpretrain')}.{leaf}"] = value
    return out


#: the last parts of the canonical modules whose weights are Linear weights ([out, in] canonical,
#: [in, out] in Paddle)
_LINEAR = tuple(f".{m}" for m in ("qkv", "proj", "fc1", "fc2", "reduction", "fc", "cpb_mlp.0", "cpb_mlp.2"))


def _paddle_module(module: str) -> str:
    """One canonical module's name in PaddleClas's network (``families/swin/paddle.py``)."""
    parts = module.split(".")
    if module == "patch_embed":
        return "patch_embed.proj"
    if module == "fc":
        return "head"
    if parts[0] != "stages":
        return module
    stage = int(parts[1])
    if parts[2] == "downsample":  # at the end of the stage before, as the official code has it
        return ".".join([f"layers.{stage - 1}", *parts[2:]])
    return ".".join([f"layers.{stage}", *parts[2:]])


def to_paddle(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    """PaddleClas's names (``layers.{s}``, the patch merging at the end of the stage before,
    ``head``), each Linear weight transposed to Paddle's [in, out], and the buffers of its
    checkpoints: each window's position index and V2's coordinates table."""
    spec = spec_of(arch)
    out = {}
    for name, value in params.items():
        module, leaf = name.rsplit(".", 1)
        linear = leaf == "weight" and f".{module}".endswith(_LINEAR)
        out[f"{_paddle_module(module)}.{leaf}"] = value.T if linear else value
    if "patch_embed.weight" in params:  # parameters, not layer taps: the buffers
        for stage, depth in enumerate(spec.depths):
            window = spec.stage_window(stage)
            for i in range(depth):
                block = f"layers.{stage}.blocks.{i}"
                out[f"{block}.attn.relative_position_index"] = relative_position_index(window)
                if spec.v2:
                    table = relative_coords_table(window, spec.coords_window(stage))
                    out[f"{block}.attn.relative_coords_table"] = table.reshape(1, 2 * window - 1, 2 * window - 1, 2)
    return out
