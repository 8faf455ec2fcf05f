"""Canonical weights (``canonical.py`` names) under each source's own parameter names, so one common
set of weights can be written in every source's format and read back through its own loader.

=============  ====================================================================================
layout         names
=============  ====================================================================================
torch          torchvision / timm state dict: the canonical names themselves
mmpretrain     ``backbone.`` + canonical, the deep stem as ``backbone.stem.{0,1,2}.{conv,bn}``,
               classifier ``head.fc``
paddle         PaddleClas's scheme (``Entry.naming``: legendary, legendary_vd, vc, resnext,
               resnext_vd, wsl); BN ``_mean`` / ``_variance``; Linear [in, out]: ``to_paddle`` in
               converters/paddle_arch.py, beside the schemes it reads
gluoncv        GluonCV's ResNetV1b / ResNext names, BN ``gamma`` / ``beta``: ``to_gluoncv`` in
               converters/gluoncv.py, beside GluonCV's name mapping
gluon          MXNet Gluon model zoo ``resnetNN_v1`` / ``_v2`` (``save_parameters`` names, also
               GluonCV's v1/v2 and what the ONNX zoo exported): v1 ``features.{0,1}`` stem,
               ``features.{3+s}.{i}.body.{0,1,3,4,6,7}`` + ``.downsample.{0,1}``; v2
               ``features.0`` the input BN (gamma 1, beta 0: not learned), ``features.{1,2}``
               stem, ``features.{4+s}.{i}.bn{k}`` / ``.conv{k}`` / ``.downsample``,
               ``features.9`` the final BN; classifier ``output``; BN ``gamma`` / ``beta``
=============  ====================================================================================
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from zoocheck.converters.weights.canonical import batch_norm_outputs, blocks, branch_units, shortcut_names, stem_units
from zoocheck.zoo_registry.types import Architecture


def units(arch: Architecture) -> list[tuple[str, str]]:
    """(canonical prefix, role) of every conv-BN unit: role 'stem{k}', '{block path}|branch{k}',
    '{block path}|short'; the block path is (stage, index, global block number)."""
    spec = arch.resnet
    out = [(f"{conv}|{norm}", f"stem{k}") for k, (conv, norm, *_) in enumerate(stem_units(spec))]
    for number, (stage, index, prefix, cin, stride) in enumerate(blocks(spec)):
        for k, (unit, *_) in enumerate(branch_units(spec, stage, cin, stride)):
            out.append((f"{prefix}.conv{unit}|{prefix}.bn{unit}", f"{stage},{index},{number}|branch{k}"))
        if spec.projects(stage, index):
            conv, norm = shortcut_names(spec)
            out.append((f"{prefix}.{conv}|{prefix}.{norm}", f"{stage},{index},{number}|short"))
    return out


def to_mmpretrain(params: dict[str, np.ndarray], arch: Architecture) -> dict[str, np.ndarray]:
    stem = {}
    if arch.resnet.stem != "7x7":
        for k, (conv, norm, *_) in enumerate(stem_units(arch.resnet)):
            stem[conv] = f"stem.{k}.conv"
            stem[norm] = f"stem.{k}.bn"
    if arch.resnet.shortcut == "avgpool_conv":  # mmpretrain adds no pool at stride 1: [conv, BN] there
        for _, index, prefix, _, stride in blocks(arch.resnet):
            if stride == 1 and arch.resnet.projects(int(prefix[len("layer")]) - 1, index):
                stem.update({f"{prefix}.downsample.1": f"{prefix}.downsample.0", f"{prefix}.downsample.2": f"{prefix}.downsample.1"})
    out = {}
    for name, value in params.items():
        module, leaf = name.rsplit(".", 1)
        if module == "fc":
            out[f"head.fc.{leaf}"] = value
        else:
            out[f"backbone.{stem.get(module, module)}.{leaf}"] = value
    return out


def layer_modules(arch: Architecture, rename: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]] | None = None) -> dict[str, str]:
    """Canonical graph tensor -> the module of a source's network whose output it is (its batch
    norms: ``canonical.batch_norm_outputs``), in network order. ``rename`` is the source's layout
    (``to_mmpretrain``, ``to_paddle``) for a network under other names than the canonical ones.
    {} for an architecture without a ResNetSpec."""
    if arch.resnet is None:
        return {}
    taps = batch_norm_outputs(arch)
    if rename is None:
        return taps
    # a layout renames parameters one to one, in order: a batch norm's running variance names its module
    renamed = list(rename({f"{norm}.running_var": np.zeros(1, np.float32) for norm in taps.values()}))
    return {tensor: name.rsplit(".", 1)[0] for tensor, name in zip(taps, renamed, strict=True)}


_MXNET_BN = {"weight": "gamma", "bias": "beta", "running_mean": "running_mean", "running_var": "running_var"}
# MXNet v1 block body index of each canonical unit (the ReLUs sit at 2 and 5)
_GLUON_V1_BODY = {"conv1": "0", "bn1": "1", "conv2": "3", "bn2": "4", "conv3": "6", "bn3": "7"}


def to_gluon(params: dict[str, np.ndarray], arch: Architecture) -> dict[str, np.ndarray]:
    preact = arch.resnet.preact
    renames = {"fc": "output"}
    if preact:
        renames.update({"bn_data": "features.0", "conv1": "features.1", "bn1": "features.2", "bn_final": "features.9"})
    else:
        renames.update({"conv1": "features.0", "bn1": "features.1"})
    for stage, index, prefix, cin, stride in blocks(arch.resnet):
        block = f"features.{stage + (5 if preact else 4)}.{index}"
        for unit, *_ in branch_units(arch.resnet, stage, cin, stride):
            for part in (f"conv{unit}", f"bn{unit}"):
                renames[f"{prefix}.{part}"] = f"{block}.{part}" if preact else f"{block}.body.{_GLUON_V1_BODY[part]}"
        for k in "01":
            renames[f"{prefix}.downsample.{k}"] = f"{block}.downsample" if preact else f"{block}.downsample.{k}"
    out = {}
    for name, value in params.items():
        module, leaf = name.rsplit(".", 1)
        target = renames[module]
        if f"{module}.running_var" in params:
            out[f"{target}.{_MXNET_BN[leaf]}"] = value
        else:
            out[f"{target}.{leaf}"] = value
    if "bn_data.running_var" in params:  # MXNet's BatchNorm(scale=False, center=False): gamma 1, beta 0 in the file
        out["features.0.gamma"] = np.ones(3, np.float32)
        out["features.0.beta"] = np.zeros(3, np.float32)
    return out
