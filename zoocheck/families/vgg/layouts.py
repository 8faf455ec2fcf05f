"""The VGG family's canonical weights (``canonical.py`` names) under torchvision's, timm's and
GluonCV's parameter names (the family's ``layouts``, ``families/registry.py``).

============  =====================================================================================
layout        names
============  =====================================================================================
torchvision   ``features.{i}`` (one Sequential: per conv ``Conv2d`` [, ``BatchNorm2d``], ``ReLU``,
              a ``MaxPool2d`` after each stage), ``classifier.{0,3,6}`` (Linear)
timm          torchvision's ``features``; ``pre_logits.fc1`` (a 7x7 convolution: ``head.fc1``'s
              matrix as [4096, 512, 7, 7]), ``pre_logits.fc2`` (1x1 convolution), ``head.fc``
gluoncv       MXNet's model zoo's (``gluoncv.py``): torchvision's ``features`` indices, batch norms
              ``gamma`` / ``beta``; the two 4096 Dense layers (torchvision's matrices) continue
              ``features`` (each followed by its dropout), ``output`` the classifier
============  =====================================================================================
"""

from __future__ import annotations

import numpy as np

from zoocheck.converters.weights.layouts import MXNET_BN, renamed
from zoocheck.families.vgg.canonical import FEATURE_SIDE, convs
from zoocheck.zoo_registry.types import Architecture

_TORCHVISION_HEAD = {"head.fc1": "classifier.0", "head.fc2": "classifier.3", "fc": "classifier.6"}
_TIMM_HEAD = {"head.fc1": "pre_logits.fc1", "head.fc2": "pre_logits.fc2", "fc": "head.fc"}


def _feature_modules(arch: Architecture) -> dict[str, str]:
    """Canonical conv / batch-norm module -> its index in torchvision's (= timm's, = MXNet's)
    ``features``."""
    spec = arch.structure
    out, index = {}, 0
    for stage, k, _, _ in convs(spec):
        out[f"stage{stage}.conv{k}"] = f"features.{index}"
        if spec.batch_norm:
            out[f"stage{stage}.bn{k}"] = f"features.{index + 1}"
        index += 3 if spec.batch_norm else 2
        if k == spec.layers[stage - 1]:
            index += 1  # the stage's max-pool
    return out


def to_torchvision(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    return renamed(params, {**_feature_modules(arch), **_TORCHVISION_HEAD})


def to_timm(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    out = renamed(params, {**_feature_modules(arch), **_TIMM_HEAD})
    for layer, side in (("pre_logits.fc1.weight", FEATURE_SIDE), ("pre_logits.fc2.weight", 1)):
        if layer in out:  # a convolution over the whole map: the matrix, channel-major
            out[layer] = out[layer].reshape(out[layer].shape[0], -1, side, side)
    return out


def to_gluoncv(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    features = _feature_modules(arch)
    # after the last stage's max-pool, which follows its last conv's ReLU
    first_dense = int(list(features.values())[-1].rsplit(".", 1)[1]) + 3
    modules = {**features, "head.fc1": f"features.{first_dense}", "head.fc2": f"features.{first_dense + 2}", "fc": "output"}
    out = {}
    for name, value in params.items():
        module, leaf = name.rsplit(".", 1)
        out[f"{modules[module]}.{MXNET_BN[leaf] if f'{module}.running_var' in params else leaf}"] = value
    return out
