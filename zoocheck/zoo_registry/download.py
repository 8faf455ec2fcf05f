"""Where weights live on disk: the cache folder and each entry's expected file in it."""

from __future__ import annotations

import os
from pathlib import Path

from zoocheck.zoo_registry.types import Entry


def cache_dir() -> Path:
    """``$ZOOCHECK_CACHE``, else the user cache directory (``~/.cache/zoocheck`` on Linux)."""
    explicit = os.environ.get("ZOOCHECK_CACHE")
    if explicit:
        return Path(explicit)
    import platformdirs

    return Path(platformdirs.user_cache_dir("zoocheck"))


def cached_weights_path(entry: Entry) -> Path | None:
    """The path ``zoocheck fetch`` writes ``entry``'s weights to; None when no weights are published."""
    if entry.weights is None:
        return None
    return cache_dir() / entry.source / entry.weights.file_name
