"""The preprocessed-image cache of ImageNet evaluation.

The uint8 crops (everything before scale/mean/std) are cached on disk in memory-mapped ``.npy``
chunks keyed by (data set fingerprint, geometric preprocessing spec), so a second model with the
same resize/crop/interpolation/library decodes nothing, whatever its mean, std or channel order.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from zoocheck.digests import json_digest
from zoocheck.store import write_atomic
from zoocheck.zoo_registry.types import Preprocess

CACHE_CHUNK = 256  # images per cache file
# The spec fields that decide the uint8 crop; scale/mean/std/channel order are applied afterwards.
GEOMETRY_FIELDS = ("resize", "crop", "interpolation", "image_library", "antialias", "resize_mode", "size_rounding", "crop_rounding")
_CACHE_FORMAT = "zoocheck-crops-v1"


def geometry_key(spec: Preprocess) -> str:
    """Hash of the spec fields that decide the uint8 crop (the cache key's preprocessing part)."""
    geometry = {name: getattr(spec, name) for name in GEOMETRY_FIELDS}
    return json_digest([_CACHE_FORMAT, geometry])


class CropCache:
    """uint8 crops of one (data set, geometry) in chunks of ``CACHE_CHUNK`` images.

    ``c<start>-<end>.npy`` holds crops [start, end) (zeros for images that could not be read);
    ``c<start>-<end>.json`` lists those images and is written last: a chunk without it is ignored.
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.enabled = True
        self.error: str | None = None

    def _paths(self, start: int, end: int) -> tuple[Path, Path]:
        stem = f"c{start:07d}-{end:07d}"
        return self.directory / f"{stem}.npy", self.directory / f"{stem}.json"

    def load(self, start: int, end: int) -> tuple[np.ndarray, dict[int, str]] | None:
        data, meta = self._paths(start, end)
        if not self.enabled or not meta.is_file() or not data.is_file():
            return None
        try:
            skipped = {int(k): v for k, v in json.loads(meta.read_text())["skipped"].items()}
            return np.load(data, mmap_mode="r"), skipped
        except (OSError, ValueError, KeyError):
            return None

    def store(self, start: int, end: int, crops: np.ndarray, skipped: dict[int, str]) -> None:
        if not self.enabled:
            return
        data, meta = self._paths(start, end)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            write_atomic(data, lambda fh: np.save(fh, crops))
            write_atomic(meta, json.dumps({"skipped": {str(k): v for k, v in skipped.items()}}))
        except OSError as exc:  # a full disk costs the cache, not the evaluation
            self.enabled, self.error = False, f"preprocessed cache disabled: {exc}"
