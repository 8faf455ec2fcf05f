"""Canonical weights (``canonical.py`` names) under each source's own parameter names, so one common
set of weights can be written in every source's format and read back through its own loader.

=============  ====================================================================================
layout         names
=============  ====================================================================================
torch          torchvision / timm state dict: the canonical names themselves
mmpretrain     ``backbone.`` + canonical, the deep stem as ``backbone.stem.{0,1,2}.{conv,bn}``,
               classifier ``head.fc``
paddle         PaddleClas's scheme (``Entry.naming``: legendary, legendary_vd, vc, resnext,
               resnext_vd, wsl; paddle_arch.SCHEMES); BN ``_mean`` / ``_variance``; Linear [in, out]
gluoncv        GluonCV's ResNetV1b / ResNext names (converters/gluoncv.py), BN ``gamma`` / ``beta``
=============  ====================================================================================
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from zoocheck.converters.weights.canonical import batch_norm_outputs, blocks, branch_units, shortcut_names, stem_units
from zoocheck.zoo_registry.types import Architecture

_PADDLE_BN = {"weight": "weight", "bias": "bias", "running_mean": "_mean", "running_var": "_variance"}


def _units(arch: Architecture) -> list[tuple[str, str]]:
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


def to_paddle(params: dict[str, np.ndarray], arch: Architecture, naming: str) -> dict[str, np.ndarray]:
    from zoocheck.converters.paddle_arch import SCHEMES

    scheme = SCHEMES[naming]
    renames: dict[str, str] = {}
    for pair, role in _units(arch):
        conv, norm = pair.split("|")
        if role.startswith("stem"):
            target = scheme.stem[int(role[len("stem"):])]
        else:
            where, part = role.split("|")
            stage, index, number = map(int, where.split(","))
            block = f"blocks.{number}" if scheme.name.startswith("legendary") else (
                f"_conv{stage + 1}_{index}" if scheme.name == "wsl" else f"bb_{stage}_{index}")  # fmt: skip
            target = f"{block}.{scheme.short if part == 'short' else scheme.units[int(part[len('branch'):])]}"
        renames[conv] = f"{target}.{scheme.conv}"
        renames[norm] = f"{target}.{scheme.bn}"
    out = {}
    for name, value in params.items():
        module, leaf = name.rsplit(".", 1)
        if module == "fc":
            out[f"{scheme.fc}.{leaf}"] = value.T.copy() if leaf == "weight" else value  # Paddle's Linear is [in, out]
        elif module in renames and renames[module].endswith(scheme.bn):
            out[f"{renames[module]}.{_PADDLE_BN[leaf]}"] = value
        else:
            out[f"{renames[module]}.{leaf}"] = value
    return out


def to_gluoncv(params: dict[str, np.ndarray], arch: Architecture, naming: str) -> dict[str, np.ndarray]:
    from zoocheck.converters.gluoncv import timm_to_gluoncv_name

    norms = frozenset(name.rsplit(".", 1)[0] for name in params if name.endswith(".running_var"))
    out = {}
    for name, value in params.items():
        target = timm_to_gluoncv_name(name, naming, norms)
        if target is not None:
            out[target] = value
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
