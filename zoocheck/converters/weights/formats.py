"""One writer per on-disk weights format, for canonical weights: a common set of weights for an
architecture written the way each source publishes it, so that each source's own loader (the
converter's real path) reads it back. Tests and benches write every checkpoint through here
(``write_weights(entry, random_weights(entry.arch, seed, size), path)``).

``write_weights(entry, params, path)`` picks the writer by ``entry.weights.format`` (or the
source's usual format for entries without a published file; ``fmt`` asks for another format the
source reads, e.g. PaddleClas's inference model); a writer's own options are keywords:

==========================  ======================================================================
format                      what is written (options)
==========================  ======================================================================
torch-state-dict            torchvision / timm state dict, ``.pth`` or ``.safetensors`` by suffix
                            (``wrapper="state_dict"|"model"``, ``data_parallel``: ``module.``)
mmpretrain-checkpoint       ``{"meta", "state_dict": {"backbone.*", "head.fc.*"}}``
paddle-pdparams             PaddleClas ``*_pretrained.pdparams`` (``paddle.save`` of the state dict)
paddle-inference            a folder (``inference.json`` / ``.pdmodel`` + ``.pdiparams``) or a
                            ``.tar`` holding it under ``<stem>/`` (``softmax``, ``legacy_format``)
gluon-params                MXNet ``save_parameters`` ``.params``; a ``path`` without the
                            ``.params`` suffix is a folder that gets the ``export`` pair
                            ``<builder>-symbol.json`` + ``<builder>-0000.params`` (needs MXNet)
gluoncv-params              GluonCV ``.params`` (GluonCV's names; v1/v2 models: gluon-params)
onnx                        an ONNX-model-zoo-like file (MXNet's export, opset 7, IR 3, input
                            ``data`` of batch 1; needs MXNet)
==========================  ======================================================================

Frameworks are imported inside the writer that needs them. The ``.params`` files are written
without MXNet (``gluoncv.write_mxnet_params``).
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path

import numpy as np

from zoocheck.converters.weights.layouts import to_gluon, to_gluoncv, to_mmpretrain
from zoocheck.zoo_registry.types import Entry

#: the format of sources' weights files, for entries the registry lists without a file
SOURCE_FORMATS = {"torchvision": "torch-state-dict", "timm": "torch-state-dict", "mmpretrain": "mmpretrain-checkpoint",
                  "ppcls": "paddle-pdparams", "gluon": "gluon-params", "gluoncv": "gluoncv-params", "onnx-zoo": "onnx"}  # fmt: skip


def torch_tensors(arrays: dict[str, np.ndarray]):
    """numpy arrays as torch tensors (shared memory), for a state dict."""
    import torch

    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}


def write_torch_state_dict(entry: Entry, params: dict[str, np.ndarray], path: Path, *, wrapper: str | None = None,
                           data_parallel: bool = False) -> Path:  # fmt: skip
    """torchvision / timm: the state dict (canonical names)."""
    from zoocheck.converters.torch_common import save_checkpoint

    state = torch_tensors(params)
    if data_parallel:
        state = {f"module.{k}": v for k, v in state.items()}
    return save_checkpoint(state, path, wrapper=wrapper)


def write_mmpretrain_checkpoint(entry: Entry, params: dict[str, np.ndarray], path: Path) -> Path:
    from zoocheck.converters.torch_common import save_checkpoint

    meta = {"mmpretrain_version": "1.2.0", "note": "zoocheck canonical weights",
            "dataset_meta": {"classes": [str(i) for i in range(entry.arch.num_classes)]}}  # fmt: skip
    return save_checkpoint(torch_tensors(to_mmpretrain(params, entry.arch)), path, wrapper="state_dict", meta=meta)


def write_pdparams(entry: Entry, params: dict[str, np.ndarray], path: Path) -> Path:
    from zoocheck.converters.paddle import canonical_network
    from zoocheck.converters.paddle_export import import_paddle

    paddle = import_paddle()
    network = canonical_network(entry, params, origin="canonical weights")
    path.parent.mkdir(parents=True, exist_ok=True)
    paddle.save(network.state_dict(), str(path))
    return path


def write_paddle_inference(entry: Entry, params: dict[str, np.ndarray], path: Path, *, softmax: bool = False,
                           legacy_format: bool = False) -> Path:  # fmt: skip
    """As PaddleClas exports one: ``paddle.jit.save`` of the network, optionally with the softmax
    PaddleClas's export appends by default, in the PIR (``inference.json``) or legacy format."""
    from zoocheck.converters.paddle import PaddleDygraphModel, canonical_network

    native = PaddleDygraphModel(entry, canonical_network(entry, params, origin="canonical weights"))
    if path.suffix != ".tar":
        path.mkdir(parents=True, exist_ok=True)
        native.save_inference(path / "inference", softmax=softmax, legacy_format=legacy_format)
        return path
    with tempfile.TemporaryDirectory(prefix="zoocheck-paddle-tar-") as tmp:
        folder = Path(tmp) / path.stem
        folder.mkdir()
        native.save_inference(folder / "inference", softmax=softmax, legacy_format=legacy_format)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(path, "w") as tar:
            tar.add(folder, arcname=path.stem)
    return path


def write_gluon_params(entry: Entry, params: dict[str, np.ndarray], path: Path) -> Path:
    """MXNet Gluon model zoo ``save_parameters`` ``.params`` (MXNet's NDArray-list format), or the
    ``export`` pair into the folder ``path``."""
    if path.suffix == ".params":
        from zoocheck.converters.gluoncv import write_mxnet_params

        path.parent.mkdir(parents=True, exist_ok=True)
        write_mxnet_params(path, to_gluon(params, entry.arch))
        return path
    from zoocheck.converters.gluon import canonical_network, export_symbol

    path.mkdir(parents=True, exist_ok=True)
    export_symbol(canonical_network(entry, params), path, entry.input_size, name=entry.builder)
    return path


def write_gluoncv_params(entry: Entry, params: dict[str, np.ndarray], path: Path) -> Path:
    """GluonCV ``.params``: MXNet's format under GluonCV's names; its v1/v2 models are the Gluon
    model zoo's networks, so their files are Gluon's."""
    if entry.naming == "gluon":
        return write_gluon_params(entry, params, path)
    from zoocheck.converters.gluoncv import write_mxnet_params

    path.parent.mkdir(parents=True, exist_ok=True)
    write_mxnet_params(path, to_gluoncv(params, entry.arch, entry.naming))
    return path


def write_onnx_zoo_file(entry: Entry, params: dict[str, np.ndarray], path: Path) -> Path:
    """The ONNX model zoo's ResNet files were exported from the Gluon model zoo's networks."""
    from zoocheck.converters.gluon import canonical_network
    from zoocheck.converters.onnx_zoo import write_zoo_like

    return write_zoo_like(canonical_network(entry, params), path, entry.input_size)


WRITERS = {
    "torch-state-dict": write_torch_state_dict,
    "mmpretrain-checkpoint": write_mmpretrain_checkpoint,
    "paddle-pdparams": write_pdparams,
    "paddle-inference": write_paddle_inference,
    "gluon-params": write_gluon_params,
    "gluoncv-params": write_gluoncv_params,
    "onnx": write_onnx_zoo_file,
}


def write_weights(entry: Entry, params: dict[str, np.ndarray], path: Path, *, fmt: str | None = None, **options) -> Path:
    """Write canonical ``params`` of ``entry.arch`` in ``entry``'s own format (or ``fmt``) at
    ``path``; ``options`` are the writer's (table above). Returns the path written."""
    fmt = fmt or (entry.weights.format if entry.weights is not None else SOURCE_FORMATS.get(entry.source))
    if fmt not in WRITERS:
        raise ValueError(f"{entry.key}: no canonical-weights writer for format {fmt!r} (writers: {', '.join(WRITERS)})")
    return WRITERS[fmt](entry, params, Path(path), **options)
