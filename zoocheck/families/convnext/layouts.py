"""The ConvNeXt families' canonical weights (``canonical.py`` names) under torchvision's, timm's,
mmpretrain's and (V1) PaddleClas's parameter names (the families' ``layouts``,
``families/registry.py``; PaddleClas's in ``to_paddle``: ``downsample_layers.{s}``, ``stages.{s}.{i}``
with ``dwconv``, ``pwconv1/2``, ``gamma``, ``norm``, ``head``, Linear weights [in, out]).

=========================  ==========================  ===========================  ===============================
canonical                  torchvision                 timm                         mmpretrain
=========================  ==========================  ===========================  ===============================
``stem.conv`` / ``.norm``  ``features.0.0`` / ``.1``   ``stem.0`` / ``stem.1``      ``backbone.downsample_layers.0.0``
                                                                                    / ``.0.1``
``stage{s}.downsample``    ``features.{2s-2}.0`` /     ``stages.{s-1}.downsample``  ``backbone.downsample_layers.
``.norm`` / ``.conv``      ``.1``                      ``.0`` / ``.1``              {s-1}.0`` / ``.1``
``stage{s}.{i}``           ``features.{2s-1}.{i}``     ``stages.{s-1}.blocks.{i}``  ``backbone.stages.{s-1}.{i}``
``.dw`` / ``.norm``        ``.block.0`` / ``.block.2``  ``.conv_dw`` / ``.norm``    ``.depthwise_conv`` / ``.norm``
``.fc1`` / ``.fc2``        ``.block.3`` / ``.block.5``  ``.mlp.fc1`` / ``.mlp.fc2``  ``.pointwise_conv1`` / ``2``
``.grn``                   --                          ``.mlp.grn``                 ``.grn`` (``gamma``, ``beta``)
``.layer_scale.weight``    ``.layer_scale`` [C, 1, 1]  ``.gamma``                   ``.gamma``
``head.norm`` / ``fc``     ``classifier.0`` / ``.2``   ``head.norm`` / ``head.fc``  ``backbone.norm3`` / ``head.fc``
=========================  ==========================  ===========================  ===============================

timm's atto to nano (``conv_mlp``) hold ``fc1`` / ``fc2`` as 1x1 convolutions: [out, in, 1, 1],
whose outputs are channels first (``channels_first_taps``).
"""

from __future__ import annotations

import numpy as np

from zoocheck.families.convnext.canonical import blocks, layer_outputs
from zoocheck.zoo_registry.types import Architecture

#: timm's sizes whose pointwise layers are 1x1 convolutions (``conv_mlp=True`` in convnext.py)
TIMM_CONV_MLP = frozenset({"zepto", "atto", "femto", "pico", "nano"})


def _renamed(
    params: dict[str, np.ndarray], names: dict[str, str], shapes: dict[str, tuple[int, ...]] | None = None
) -> dict[str, np.ndarray]:
    """``params`` under ``names`` (canonical name -> framework name), reshaped where ``shapes``
    (framework name -> shape) says."""
    shapes = shapes or {}
    out = {}
    for name, value in params.items():
        target = names[name]
        out[target] = value.reshape(shapes[target]) if target in shapes else value
    return out


def _modules(arch: Architecture, stem: tuple[str, str], downsample, block, units: dict[str, str], head: tuple[str, str]) -> dict[str, str]:
    """canonical module -> framework module: ``stem`` (conv, norm), ``downsample(s)`` (norm, conv),
    ``block(s, i)`` the block's prefix with ``units`` under it, ``head`` (norm, fc)."""
    out = {"stem.conv": stem[0], "stem.norm": stem[1], "head.norm": head[0], "fc": head[1]}
    for b in blocks(arch.structure):
        if b.index == 0 and b.stage > 1:
            norm, conv = downsample(b.stage)
            out.update({f"stage{b.stage}.downsample.norm": norm, f"stage{b.stage}.downsample.conv": conv})
        out.update({f"{b.prefix}.{unit}": f"{block(b.stage, b.index)}.{module}" for unit, module in units.items()})
    return out


def _leaf_names(params: dict[str, np.ndarray], modules: dict[str, str], leaves: dict[str, str] | None = None) -> dict[str, str]:
    """canonical parameter -> framework parameter, module by module; ``leaves`` renames a
    ``<unit>.<leaf>`` (``layer_scale.weight`` -> ``gamma``) where the framework names it otherwise."""
    leaves = leaves or {}
    out = {}
    for name in params:
        module, leaf = name.rsplit(".", 1)
        unit = module.rsplit(".", 1)[-1]
        if f"{unit}.{leaf}" in leaves:
            out[name] = f"{modules[module].rsplit('.', 1)[0]}.{leaves[f'{unit}.{leaf}']}"
        else:
            out[name] = f"{modules[module]}.{leaf}"
    return out


def channels_first_taps(arch: Architecture, framework: str) -> frozenset[str]:
    """The ``layer_outputs`` taps (each block's ``fc2``, channels last in the canonical graph) that
    ``framework``'s network hands over channels first: timm's ``conv_mlp`` 1x1 convolutions
    (``TIMM_CONV_MLP``); every other zoo's ``fc2`` is a Linear on the channels-last map."""
    if framework != "timm" or arch.structure.size not in TIMM_CONV_MLP:
        return frozenset()
    return frozenset(layer_outputs(arch))


def to_torchvision(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    units = {"dw": "block.0", "norm": "block.2", "fc1": "block.3", "fc2": "block.5", "layer_scale": "layer_scale"}
    modules = _modules(
        arch,
        ("features.0.0", "features.0.1"),
        lambda s: (f"features.{2 * s - 2}.0", f"features.{2 * s - 2}.1"),
        lambda s, i: f"features.{2 * s - 1}.{i}",
        units,
        ("classifier.0", "classifier.2"),
    )
    names = _leaf_names(params, modules, {"layer_scale.weight": "layer_scale"})
    shapes = {names[k]: (v.shape[0], 1, 1) for k, v in params.items() if k.endswith(".layer_scale.weight")}
    return _renamed(params, names, shapes)


def to_timm(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    units = {"dw": "conv_dw", "norm": "norm", "fc1": "mlp.fc1", "grn": "mlp.grn", "fc2": "mlp.fc2", "layer_scale": "gamma"}
    modules = _modules(
        arch,
        ("stem.0", "stem.1"),
        lambda s: (f"stages.{s - 1}.downsample.0", f"stages.{s - 1}.downsample.1"),
        lambda s, i: f"stages.{s - 1}.blocks.{i}",
        units,
        ("head.norm", "head.fc"),
    )
    names = _leaf_names(params, modules, {"layer_scale.weight": "gamma"})
    shapes = {}
    if arch.structure.size in TIMM_CONV_MLP:
        shapes = {names[k]: (*v.shape, 1, 1) for k, v in params.items() if k.endswith((".fc1.weight", ".fc2.weight"))}
    return _renamed(params, names, shapes)


def to_mmpretrain(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    units = {
        "dw": "depthwise_conv",
        "norm": "norm",
        "fc1": "pointwise_conv1",
        "grn": "grn",
        "fc2": "pointwise_conv2",
        "layer_scale": "gamma",
    }
    modules = _modules(
        arch,
        ("backbone.downsample_layers.0.0", "backbone.downsample_layers.0.1"),
        lambda s: (f"backbone.downsample_layers.{s - 1}.0", f"backbone.downsample_layers.{s - 1}.1"),
        lambda s, i: f"backbone.stages.{s - 1}.{i}",
        units,
        ("backbone.norm3", "head.fc"),
    )
    return _renamed(
        params, _leaf_names(params, modules, {"layer_scale.weight": "gamma", "grn.weight": "grn.gamma", "grn.bias": "grn.beta"})
    )


def to_paddle(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    """PaddleClas's names (``families/convnext/paddle.py``), each Linear weight transposed to
    Paddle's [in, out]."""
    units = {"dw": "dwconv", "norm": "norm", "fc1": "pwconv1", "fc2": "pwconv2", "layer_scale": "gamma"}
    modules = _modules(
        arch,
        ("downsample_layers.0.0", "downsample_layers.0.1"),
        lambda s: (f"downsample_layers.{s - 1}.0", f"downsample_layers.{s - 1}.1"),
        lambda s, i: f"stages.{s - 1}.{i}",
        units,
        ("norm", "head"),
    )
    names = _leaf_names(params, modules, {"layer_scale.weight": "gamma"})
    linear = {k for k in params if k.endswith((".fc1.weight", ".fc2.weight")) or k == "fc.weight"}
    return {names[k]: (v.T if k in linear else v) for k, v in params.items()}
