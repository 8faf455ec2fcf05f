"""The registry: every (source, model) zoocheck knows, as frozen data.

Entries are declared once, in ``zoo_registry/sources/<source>.py`` (one module per zoo, pure data,
no framework imports). The index is built on first use; a duplicate name or alias raises.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import warnings
from functools import lru_cache

from zoocheck.zoo_registry.sources._common import RowError
from zoocheck.zoo_registry.types import (
    Architecture,
    Checksum,
    Entry,
    Preprocess,
    Published,
    Weights,
)

#: canonical source name -> module declaring its ENTRIES
SOURCES: dict[str, str] = {
    "torchvision": "zoocheck.zoo_registry.sources.torchvision",
    "timm": "zoocheck.zoo_registry.sources.timm",
    "mmpretrain": "zoocheck.zoo_registry.sources.mmpretrain",
    "ppcls": "zoocheck.zoo_registry.sources.ppcls",
    "gluon": "zoocheck.zoo_registry.sources.gluon",
    "gluoncv": "zoocheck.zoo_registry.sources.gluoncv",
    "onnx-zoo": "zoocheck.zoo_registry.sources.onnx_zoo",
}

#: other spellings users and the seed pages use for a source
SOURCE_ALIASES: dict[str, str] = {
    "paddleclas": "ppcls",
    "paddle": "ppcls",
    "mmcls": "mmpretrain",
    "mmclassification": "mmpretrain",
    "mxnet": "gluon",
    "onnx": "onnx-zoo",
    "onnx_zoo": "onnx-zoo",
    "onnx-model-zoo": "onnx-zoo",
    "mxnet-gluon-model-zoo": "gluon",
    "tv": "torchvision",
}


class UnknownSourceError(LookupError):
    pass


class SourceUnavailable(UnknownSourceError):
    """A source whose registry table could not be read (a malformed row); the others still work."""


class UnknownModelError(LookupError):
    def __init__(self, source: str, name: str, suggestions: list[str]):
        self.source, self.name, self.suggestions = source, name, suggestions
        hint = f"; closest: {', '.join(suggestions)}" if suggestions else ""
        super().__init__(f"unknown model {name!r} for source {source!r}{hint} (see `zoocheck list --src {source}`)")


def canonical_source(source: str) -> str:
    key = source.strip().lower()
    key = SOURCE_ALIASES.get(key, key)
    if key not in SOURCES:
        known = ", ".join(sorted(SOURCES))
        raise UnknownSourceError(f"unknown source {source!r}; known sources: {known}")
    return key




#: source -> why its table could not be read (the file and line of the malformed row)
SOURCE_ERRORS: dict[str, str] = {}


@lru_cache(maxsize=None)
def _entries_of(source: str) -> tuple[Entry, ...]:
    """The entries of ``source``; a malformed row disables this source only (warned once, kept
    in SOURCE_ERRORS), so ``zoocheck list`` still lists every other source."""
    try:
        return tuple(importlib.import_module(SOURCES[source]).ENTRIES)
    except RowError as exc:
        SOURCE_ERRORS[source] = str(exc)
        warnings.warn(f"registry source {source!r} disabled: {exc}", RegistryWarning, stacklevel=3)
        return ()


class RegistryWarning(UserWarning):
    pass


@lru_cache(maxsize=None)
def _name_index(source: str) -> dict[str, Entry]:
    """Lower-cased name and every alias -> entry; a name claimed twice raises."""
    index: dict[str, Entry] = {}
    for entry in _entries_of(source):
        if entry.source != source:
            raise ValueError(f"{entry.key} is declared in the module of source {source!r}")
        for name in (entry.name, *entry.aliases):
            key = name.lower()
            if key in index and index[key] is not entry:
                raise ValueError(f"duplicate registry name {source}/{name}: {index[key].key} and {entry.key}")
            index[key] = entry
    return index


def get_entry(source: str, name: str) -> Entry:
    """The entry ``name`` (case-insensitive, aliases included) of ``source``."""
    source = canonical_source(source)
    index = _name_index(source)
    if source in SOURCE_ERRORS:
        raise SourceUnavailable(f"source {source!r} is disabled: {SOURCE_ERRORS[source]}")
    try:
        return index[name.strip().lower()]
    except KeyError:
        suggestions = difflib.get_close_matches(name.lower(), list(index), n=5, cutoff=0.6)
        raise UnknownModelError(source, name, [index[s].name for s in suggestions]) from None


def list_entries(source: str | None = None, arch: str | None = None) -> list[Entry]:
    """All entries, optionally of one source and/or whose architecture id matches ``arch`` (fnmatch)."""
    sources = [canonical_source(source)] if source else list(SOURCES)
    entries = [e for s in sources for e in _entries_of(s)]
    if arch:
        entries = [e for e in entries if fnmatch.fnmatch(e.arch.id, arch.lower())]
    return entries


__all__ = [
    "Architecture",
    "Checksum",
    "Entry",
    "Preprocess",
    "Published",
    "SOURCES",
    "SOURCE_ERRORS",
    "SourceUnavailable",
    "UnknownModelError",
    "UnknownSourceError",
    "Weights",
    "canonical_source",
    "get_entry",
    "list_entries",
]
