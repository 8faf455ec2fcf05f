"""Content digests, written once: of a file's bytes (published checksums, the weights and ONNX
files a record names), of JSON data (cache, checkpoint and job keys) and of zoocheck's own code."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

_CHUNK = 1 << 20


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of the file's bytes, read in 1 MiB blocks (weights files reach gigabytes)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def file_digest_or_none(path: Path) -> str | None:
    """sha256 of ``path`` when it is a file; None for a folder (a Paddle inference model), which
    has no single checksum."""
    path = Path(path)
    return file_digest(path) if path.is_file() else None


def json_digest(data) -> str:
    """sha256 of ``data`` as JSON with sorted keys (so equal data give equal keys whatever the dict
    order); values JSON cannot hold (paths, enums) are written as ``str``."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


@cache
def code_digest() -> str:
    """sha256 over the files of the zoocheck package being run (code and data, by path relative to
    the package, compiled caches left out): any edit changes it, whatever the version says."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(file_digest(path).encode())
    return h.hexdigest()
