"""Canonical weights written in a source's on-disk format: a common set of weights for an
architecture written the way each source publishes it, so that each source's own loader (the
converter's real path) reads it back. Tests and benches write every checkpoint through here
(``write_weights(entry, random_weights(entry.arch, seed, size), path)``).

``write_weights(entry, params, path)`` picks the format from ``entry.weights.format`` (or the
source descriptor's ``weights_format`` for entries without a published file; ``fmt`` asks for
another format the source reads, e.g. PaddleClas's inference model) and the writer from the
source descriptor's ``checkpoint_writers``: each writer lives with its framework's converter, so
this module imports none of them. A writer's own options are keywords:

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
onnx                        an ONNX-model-zoo-like file, made as the zoo's file was (its
                            exporter at its opset: MXNet's or torch.onnx; needs that framework)
==========================  ======================================================================

Frameworks are imported inside the writer that needs them. The ``.params`` files are written
without MXNet (``mxnet_params.write_mxnet_params``).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np

from zoocheck.sources import get_source
from zoocheck.zoo_registry.types import Entry


def write_weights(entry: Entry, params: dict[str, np.ndarray], path: Path, *, fmt: str | None = None, **options) -> Path:
    """Write canonical ``params`` of ``entry.arch`` in ``entry``'s own format (or ``fmt``) at
    ``path``; ``options`` are the writer's (table above). Returns the path written."""
    source = get_source(entry.source)
    fmt = fmt or (entry.weights.format if entry.weights is not None else source.weights_format)
    writers = dict(source.checkpoint_writers)
    if fmt not in writers:
        raise ValueError(
            f"{entry.key}: no canonical-weights writer for format {fmt!r} (source {source.name} writes: {', '.join(writers) or 'none'})"
        )
    module, _, function = writers[fmt].partition(":")
    return getattr(importlib.import_module(module), function)(entry, params, Path(path), **options)
