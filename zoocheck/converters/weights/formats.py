"""One writer per on-disk weights format, for canonical weights: a common set of weights for an
architecture written the way each source publishes it, so that each source's own loader (the
converter's real path) reads it back.

``write_weights(entry, params, path)`` picks the writer by ``entry.weights.format`` (or the
source's usual format for entries without a published file); frameworks are imported inside the
writer that needs them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoocheck.converters.weights.layouts import to_gluoncv, to_mmpretrain, to_paddle
from zoocheck.zoo_registry.types import Entry

#: the format of sources' weights files, for entries the registry lists without a file
SOURCE_FORMATS = {"torchvision": "torch-state-dict", "timm": "torch-state-dict", "mmpretrain": "mmpretrain-checkpoint",
                  "ppcls": "paddle-pdparams", "gluoncv": "gluoncv-params"}  # fmt: skip


def _torch(arrays: dict[str, np.ndarray]):
    import torch

    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}


def write_torch_state_dict(entry: Entry, params: dict[str, np.ndarray], path: Path) -> Path:
    """torchvision / timm: the state dict (canonical names), ``.pth`` or ``.safetensors`` by suffix."""
    from zoocheck.converters.torch_common import save_checkpoint

    return save_checkpoint(_torch(params), path)


def write_mmpretrain_checkpoint(entry: Entry, params: dict[str, np.ndarray], path: Path) -> Path:
    """mmpretrain: ``{"meta": ..., "state_dict": {"backbone.*", "head.fc.*"}}``."""
    from zoocheck.converters.torch_common import save_checkpoint

    meta = {"mmpretrain_version": "1.2.0", "note": "zoocheck canonical weights",
            "dataset_meta": {"classes": [str(i) for i in range(entry.arch.num_classes)]}}  # fmt: skip
    return save_checkpoint(_torch(to_mmpretrain(params, entry.arch)), path, wrapper="state_dict", meta=meta)


def write_pdparams(entry: Entry, params: dict[str, np.ndarray], path: Path) -> Path:
    """PaddleClas ``*_pretrained.pdparams``: ``paddle.save`` of the network's state dict."""
    from zoocheck.converters.paddle import build_model, load_state
    from zoocheck.converters.paddle_export import import_paddle

    paddle = import_paddle()
    network = build_model(entry)
    load_state(network, to_paddle(params, entry.arch, entry.naming), origin="canonical weights", builder=entry.builder)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    paddle.save(network.state_dict(), str(path))
    return path


def write_gluoncv_params(entry: Entry, params: dict[str, np.ndarray], path: Path) -> Path:
    """GluonCV ``.params`` (MXNet's NDArray-list format, GluonCV's names), written without MXNet."""
    from zoocheck.converters.gluoncv import write_mxnet_params

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_mxnet_params(path, to_gluoncv(params, entry.arch, entry.naming))
    return path


WRITERS = {
    "torch-state-dict": write_torch_state_dict,
    "mmpretrain-checkpoint": write_mmpretrain_checkpoint,
    "paddle-pdparams": write_pdparams,
    "gluoncv-params": write_gluoncv_params,
}


def write_weights(entry: Entry, params: dict[str, np.ndarray], path: Path) -> Path:
    """Write canonical ``params`` of ``entry.arch`` in ``entry``'s own format at ``path``."""
    fmt = entry.weights.format if entry.weights is not None else SOURCE_FORMATS.get(entry.source)
    if fmt not in WRITERS:
        raise ValueError(f"{entry.key}: no canonical-weights writer for format {fmt!r} (writers: {', '.join(WRITERS)})")
    return WRITERS[fmt](entry, params, Path(path))
