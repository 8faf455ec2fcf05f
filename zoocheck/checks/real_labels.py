"""ImageNet-ReaL labels (Beyer et al., 2020): the reassessed multi-label ground truth of ImageNet
val, a second top-1 wherever the data set is ImageNet val. timm ships the labels
(``timm/data/_info/imagenet_real_labels.json``: per val image in ILSVRC2012_val order, the list of
classes a rater accepted, empty for images left out); zoocheck reads them from there.

ReaL top-1 counts an image right when its top-1 is any of its ReaL classes, over the images that
have some (as timm's ``RealLabelsImagenet``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence

import numpy as np

from zoocheck.checks.imagenet import VAL_NAME_RE


@functools.lru_cache(maxsize=1)
def _labels() -> tuple[tuple[int, ...], ...] | None:
    try:
        from importlib.resources import files

        text = files("timm.data").joinpath("_info/imagenet_real_labels.json").read_text()
    except (ImportError, FileNotFoundError, ModuleNotFoundError):
        return None
    return tuple(tuple(labels) for labels in json.loads(text))


def real_labels(names: Sequence[str]) -> list[tuple[int, ...]] | None:
    """The ReaL classes of each image named ``names`` (file names as in ImageNet val:
    ILSVRC2012_val_%08d.JPEG); None when some name is not a val image's or the labels are not
    installed (timm)."""
    table = _labels()
    if table is None:
        return None
    found = []
    for name in names:
        match = VAL_NAME_RE.match(name.rsplit("/", 1)[-1])
        if match is None or not 1 <= int(match.group(1)) <= len(table):
            return None
        found.append(table[int(match.group(1)) - 1])
    return found


def real_accuracy(top5: np.ndarray, labels: Sequence[tuple[int, ...]]) -> tuple[float | None, float | None, int]:
    """(ReaL top-1 %, ReaL top-5 %, images judged) of per-image top-5 [N, 5] (-1: not evaluated)."""
    judged = [i for i, classes in enumerate(labels) if classes and top5[i, 0] >= 0]
    if not judged:
        return None, None, 0
    top1 = sum(int(top5[i, 0]) in labels[i] for i in judged)
    top5_hits = sum(any(int(c) in labels[i] for c in top5[i]) for i in judged)
    return 100.0 * top1 / len(judged), 100.0 * top5_hits / len(judged), len(judged)
