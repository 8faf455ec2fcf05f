"""The tiny family's weights under the ``tiny-seq`` source's names (an ``nn.Sequential``:
``features.{0,1,3,4}``, ``classifier``); the ``tiny-torch`` source uses the canonical names."""

from __future__ import annotations

SEQUENTIAL = {"conv1": "features.0", "bn1": "features.1", "conv2": "features.3", "bn2": "features.4", "fc": "classifier"}


def to_sequential(params: dict, arch, naming: str = "") -> dict:
    out = {}
    for name, value in params.items():
        module, leaf = name.rsplit(".", 1)
        out[f"{SEQUENTIAL[module]}.{leaf}"] = value
    return out
