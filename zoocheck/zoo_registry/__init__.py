"""The registry: every (source, model) zoocheck knows, as frozen data.

Entries are declared once, in ``zoo_registry/sources/<source>.py`` (one module per zoo, pure data,
no framework imports), named by the source's descriptor (``zoocheck.sources``). The index is
built on first use; a duplicate name or alias raises.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import warnings
from functools import lru_cache

from zoocheck.sources import UnknownSourceError, get_source, source_names
from zoocheck.zoo_registry.sources._common import RowError
from zoocheck.zoo_registry.types import (
    Architecture,
    Checksum,
    Entry,
    Excluded,
    Preprocess,
    Published,
    Weights,
)


class SourceUnavailable(UnknownSourceError):
    """A source whose registry table could not be read (a malformed row); the others still work."""


class UnknownModelError(LookupError):
    def __init__(self, source: str, name: str, suggestions: list[str]):
        self.source, self.name, self.suggestions = source, name, suggestions
        hint = f"; closest: {', '.join(suggestions)}" if suggestions else ""
        super().__init__(f"unknown model {name!r} for source {source!r}{hint} (see `zoocheck list --src {source}`)")


def canonical_source(source: str) -> str:
    """The canonical name of ``source`` or one of its aliases; UnknownSourceError otherwise."""
    return get_source(source).name


#: source -> why its table could not be read (the file and line of the malformed row)
SOURCE_ERRORS: dict[str, str] = {}


@lru_cache(maxsize=None)
def _entries_of(source: str) -> tuple[Entry, ...]:
    """The entries of ``source``; a malformed row disables this source only (warned once, kept
    in SOURCE_ERRORS), so ``zoocheck list`` still lists every other source."""
    try:
        return tuple(importlib.import_module(get_source(source).registry).ENTRIES)
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
    sources = [canonical_source(source)] if source else list(source_names())
    entries = [e for s in sources for e in _entries_of(s)]
    if arch:
        entries = [e for e in entries if fnmatch.fnmatch(e.arch.id, arch.lower())]
    return entries


def list_excluded(source: str | None = None) -> list[Excluded]:
    """The published rows that are not entries, with why (a source module's ``EXCLUDED``),
    optionally of one source."""
    out: list[Excluded] = []
    for name in [canonical_source(source)] if source else source_names():
        _entries_of(name)  # a malformed table disables its source (SOURCE_ERRORS) instead of raising here
        if name not in SOURCE_ERRORS:
            out.extend(getattr(importlib.import_module(get_source(name).registry), "EXCLUDED", ()))
    return out


__all__ = [
    "Architecture",
    "Checksum",
    "Entry",
    "Excluded",
    "Preprocess",
    "Published",
    "SOURCE_ERRORS",
    "SourceUnavailable",
    "UnknownModelError",
    "UnknownSourceError",
    "Weights",
    "canonical_source",
    "get_entry",
    "list_entries",
    "list_excluded",
]
