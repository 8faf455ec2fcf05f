"""The ResNet family's canonical weights (``canonical.py`` names) under each framework's own
parameter names (the family's ``layouts``, ``families/registry.py``), so one common set of weights
can be written in every source's format and read back through its own loader.

=============  ====================================================================================
layout         names
=============  ====================================================================================
torch          torchvision / timm state dict: the canonical names themselves (no layout)
mmpretrain     ``backbone.`` + canonical, the deep stem as ``backbone.stem.{0,1,2}.{conv,bn}``,
               classifier ``head.fc``
paddle         PaddleClas's scheme (``Entry.naming``: legendary, legendary_vd, vc, resnext,
               resnext_vd, wsl: ``converters/paddle_arch.SCHEMES``); BN ``_mean`` / ``_variance``;
               Linear [in, out]
gluoncv        GluonCV's ResNetV1b / ResNext names (``converters/gluoncv.py``'s name mapping), BN
               ``gamma`` / ``beta``
gluon          MXNet Gluon model zoo ``resnetNN_v1`` / ``_v2`` (``save_parameters`` names, also
               GluonCV's v1/v2 and what the ONNX zoo exported): v1 ``features.{0,1}`` stem,
               ``features.{3+s}.{i}.body.{0,1,3,4,6,7}`` + ``.downsample.{0,1}``; v2
               ``features.0`` the input BN (gamma 1, beta 0: not learned), ``features.{1,2}``
               stem, ``features.{4+s}.{i}.bn{k}`` / ``.conv{k}`` / ``.downsample``,
               ``features.9`` the final BN; classifier ``output``; BN ``gamma`` / ``beta``
=============  ====================================================================================
"""

from __future__ import annotations

import numpy as np

from zoocheck.converters.weights.layouts import MXNET_BN
from zoocheck.families.resnet.canonical import blocks, branch_units, shortcut_names, stem_units
from zoocheck.zoo_registry.types import Architecture


def units(arch: Architecture) -> list[tuple[str, str]]:
    """(canonical prefix, role) of every conv-BN unit: role 'stem{k}', '{block path}|branch{k}',
    '{block path}|short'; the block path is (stage, index, global block number)."""
    spec = arch.structure
    out = [(f"{conv}|{norm}", f"stem{k}") for k, (conv, norm, *_) in enumerate(stem_units(spec))]
    for number, (stage, index, prefix, cin, stride) in enumerate(blocks(spec)):
        for k, (unit, *_) in enumerate(branch_units(spec, stage, cin, stride)):
            out.append((f"{prefix}.conv{unit}|{prefix}.bn{unit}", f"{stage},{index},{number}|branch{k}"))
        if spec.projects(stage, index):
            conv, norm = shortcut_names(spec)
            out.append((f"{prefix}.{conv}|{prefix}.{norm}", f"{stage},{index},{number}|short"))
    return out


def to_mmpretrain(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    stem = {}
    if arch.structure.stem != "7x7":
        for k, (conv, norm, *_) in enumerate(stem_units(arch.structure)):
            stem[conv] = f"stem.{k}.conv"
            stem[norm] = f"stem.{k}.bn"
    if arch.structure.shortcut == "avgpool_conv":  # mmpretrain adds no pool at stride 1: [conv, BN] there
        for _, index, prefix, _, stride in blocks(arch.structure):
            if stride == 1 and arch.structure.projects(int(prefix[len("layer")]) - 1, index):
                stem.update({f"{prefix}.downsample.1": f"{prefix}.downsample.0", f"{prefix}.downsample.2": f"{prefix}.downsample.1"})
    out = {}
    for name, value in params.items():
        module, leaf = name.rsplit(".", 1)
        if module == "fc":
            out[f"head.fc.{leaf}"] = value
        else:
            out[f"backbone.{stem.get(module, module)}.{leaf}"] = value
    return out


# MXNet v1 block body index of each canonical unit (the ReLUs sit at 2 and 5)
_GLUON_V1_BODY = {"conv1": "0", "bn1": "1", "conv2": "3", "bn2": "4", "conv3": "6", "bn3": "7"}


_PADDLE_BN = {"weight": "weight", "bias": "bias", "running_mean": "_mean", "running_var": "_variance"}


def to_paddle(params: dict[str, np.ndarray], arch: Architecture, naming: str) -> dict[str, np.ndarray]:
    """Canonical weights (``converters/weights``) under the names of PaddleClas scheme ``naming``."""
    from zoocheck.converters.paddle_arch import SCHEMES

    scheme = SCHEMES[naming]
    renames: dict[str, str] = {}
    for pair, role in units(arch):
        conv, norm = pair.split("|")
        if role.startswith("stem"):
            target = scheme.stem[int(role[len("stem") :])]
        else:
            where, part = role.split("|")
            stage, index, number = map(int, where.split(","))
            block = (
                f"blocks.{number}"
                if scheme.name.startswith("legendary")
                else (f"_conv{stage + 1}_{index}" if scheme.name == "wsl" else f"bb_{stage}_{index}")
            )
            target = f"{block}.{scheme.short if part == 'short' else scheme.units[int(part[len('branch') :])]}"
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
    """Canonical weights (``converters/weights``) under GluonCV's names of scheme ``naming``."""
    from zoocheck.converters.gluoncv import timm_to_gluoncv_name

    norms = frozenset(name.rsplit(".", 1)[0] for name in params if name.endswith(".running_var"))
    out = {}
    for name, value in params.items():
        target = timm_to_gluoncv_name(name, naming, norms)
        if target is not None:
            out[target] = value
    return out


def to_gluon(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    preact = arch.structure.preact
    renames = {"fc": "output"}
    if preact:
        renames.update({"bn_data": "features.0", "conv1": "features.1", "bn1": "features.2", "bn_final": "features.9"})
    else:
        renames.update({"conv1": "features.0", "bn1": "features.1"})
    for stage, index, prefix, cin, stride in blocks(arch.structure):
        block = f"features.{stage + (5 if preact else 4)}.{index}"
        for unit, *_ in branch_units(arch.structure, stage, cin, stride):
            for part in (f"conv{unit}", f"bn{unit}"):
                renames[f"{prefix}.{part}"] = f"{block}.{part}" if preact else f"{block}.body.{_GLUON_V1_BODY[part]}"
        for k in "01":
            renames[f"{prefix}.downsample.{k}"] = f"{block}.downsample" if preact else f"{block}.downsample.{k}"
    out = {}
    for name, value in params.items():
        module, leaf = name.rsplit(".", 1)
        target = renames[module]
        if f"{module}.running_var" in params:
            out[f"{target}.{MXNET_BN[leaf]}"] = value
        else:
            out[f"{target}.{leaf}"] = value
    if "bn_data.running_var" in params:  # MXNet's BatchNorm(scale=False, center=False): gamma 1, beta 0 in the file
        out["features.0.gamma"] = np.ones(3, np.float32)
        out["features.0.beta"] = np.zeros(3, np.float32)
    return out
