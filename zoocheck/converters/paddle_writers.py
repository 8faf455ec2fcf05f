"""PaddleClas's on-disk formats written by zoocheck (tests, benches, users without published files):
``*_pretrained.pdparams`` and inference models (folder or ``*_infer.tar``, PIR or legacy program)."""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path

from zoocheck.converters.paddle import PaddleClasConverter, PaddleDygraphModel, import_paddle, random_network
from zoocheck.zoo_registry.types import Entry


def write_random_pdparams(entry: Entry, path: Path, seed: int) -> Path:
    """Write seeded random weights for ``entry`` as PaddleClas writes ``*_pretrained.pdparams``:
    ``paddle.save(model.state_dict())`` with PaddleClas's parameter names."""
    paddle = import_paddle()
    network = random_network(entry, seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    paddle.save(network.state_dict(), str(path))
    return path


def write_inference_model(
    entry: Entry,
    path: Path,
    *,
    weights: Path | None = None,
    seed: int = 0,
    softmax: bool = False,
    legacy_format: bool = False,
) -> Path:
    """Write an inference model of ``entry`` as PaddleClas exports one.

    ``path`` is a folder (``inference.json`` or, with ``legacy_format``, ``inference.pdmodel``, +
    ``inference.pdiparams``), or a ``.tar`` holding that folder under ``<stem>/`` like PaddleClas's
    ``ResNet50_infer.tar``. Weights from ``weights`` (a .pdparams) or seeded random ones;
    ``softmax`` appends the softmax PaddleClas's export adds by default.
    """
    native = PaddleClasConverter().load(entry, weights, random_seed=None if weights is not None else seed)
    assert isinstance(native, PaddleDygraphModel)
    path = Path(path)
    if path.suffix == ".tar":
        with tempfile.TemporaryDirectory(prefix="zoocheck-paddle-tar-") as tmp:
            folder = Path(tmp) / path.stem
            folder.mkdir()
            native.save_inference(folder / "inference", softmax=softmax, legacy_format=legacy_format)
            path.parent.mkdir(parents=True, exist_ok=True)
            with tarfile.open(path, "w") as tar:
                tar.add(folder, arcname=path.stem)
        return path
    path.mkdir(parents=True, exist_ok=True)
    native.save_inference(path / "inference", softmax=softmax, legacy_format=legacy_format)
    return path
