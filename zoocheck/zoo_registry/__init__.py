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
from collections.abc import Callable, Sequence
from functools import cache

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
    """No entry of ``source`` (None: of the sources selected) is called ``name`` or matches it."""

    def __init__(self, source: str | None, name: str, suggestions: list[str]):
        self.source, self.name, self.suggestions = source, name, suggestions
        hint = f"; closest: {', '.join(suggestions)}" if suggestions else ""
        listing = f"zoocheck list --src {source}" if source else "zoocheck list"
        what = f"no model matches {name!r}" if _is_pattern(name) else f"unknown model {name!r}"
        super().__init__(
            f"{what} for source {source!r}{hint} (see `{listing}`)" if source else f"{what} in the sources selected{hint} (see `{listing}`)"
        )


def canonical_source(source: str) -> str:
    """The canonical name of ``source`` or one of its aliases; UnknownSourceError otherwise."""
    return get_source(source).name


#: source -> why its table could not be read (the file and line of the malformed row)
SOURCE_ERRORS: dict[str, str] = {}


@cache
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


@cache
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
    """The entry ``name`` (case-insensitive, aliases included) of ``source``: ``select_entries``
    for one exact name."""
    [entry] = select_entries(source, [name])
    return entry


def list_entries(source: str | None = None, arch: str | None = None) -> list[Entry]:
    """All entries, optionally of one source and/or whose architecture id matches ``arch`` (fnmatch)."""
    return select_entries(source, arch=arch)


def arch_matches(pattern: str | None, arch_id: str, *families: str) -> bool:
    """``--arch`` of every command: an fnmatch pattern over the architecture id (``'resnet50*'``)
    or one of ``families``' names (the architecture's family, ``swin``, ``mobilenet_v3``; the zoo
    table's, ``deit``, ``swin_v2``), case-insensitive; None selects everything."""
    if not pattern:
        return True
    pattern = pattern.lower()
    return fnmatch.fnmatch(arch_id, pattern) or pattern in families


def select_entries(
    sources: str | Sequence[str] | None = None,
    models: Sequence[str] | None = None,
    arch: str | None = None,
    *,
    library: Callable[[str, str], Entry | None] | None = None,
) -> list[Entry]:
    """The one selector every command uses: entries of ``sources`` (a name, several, or None for
    all) whose architecture matches ``arch`` (``arch_matches``) and, when ``models`` is given, that one
    of them names, in the order of ``models``, each once.

    A model is a name or alias, or an fnmatch pattern over names and aliases (``'ResNet*_vd'``),
    case-insensitive; ``source/name`` restricts it to one source. A name no entry has is asked of
    ``library(source, name)`` when one source is selected (the models timm and torchvision know by
    name). Raises UnknownModelError (with the closest names) for a model that selects nothing,
    SourceUnavailable when that source's table could not be read, UnknownSourceError.
    """
    if isinstance(sources, str):
        sources = [sources]
    names = [canonical_source(s) for s in sources] if sources else list(source_names())
    fits = lambda entry: arch_matches(arch, entry.arch.id, entry.arch.family, entry.table_family)  # noqa: E731
    if models is None:
        return [e for s in names for e in _entries_of(s) if fits(e)]
    selected: list[Entry] = []
    for model in models:
        searched, name = _split_key(model, names)
        pattern = name.lower()
        if _is_pattern(pattern):
            matched = [e for s in searched for e in _entries_of(s) if _names_match(e, pattern)]
        else:
            matched = [e for s in searched if (e := _name_index(s).get(pattern)) is not None]
        only = searched[0] if len(searched) == 1 else None
        if not matched and library is not None and only is not None and not _is_pattern(pattern):
            matched = [e for e in (library(only, name),) if e is not None]
        matched = [e for e in matched if fits(e)]
        if not matched:
            raise _nothing_selected(only, model, pattern, [e for s in searched for e in _entries_of(s) if fits(e)])
        selected.extend(matched)
    return list(dict.fromkeys(selected))


def published_at_input_size(entry: Entry) -> Published | None:
    """The published evaluation that goes with the entry's own input size (the size every command
    shows and evaluates at; a number published without a size is taken to be at it); None when the
    zoo published none at that size. Zoos publish several (timm: at the training and a larger
    test size), so a number shown beside the entry's size comes from here."""
    return next((p for p in entry.published if p.input_size in (None, entry.input_size)), None)


def _is_pattern(name: str) -> bool:
    return any(ch in name for ch in "*?[")


def _split_key(model: str, sources: list[str]) -> tuple[list[str], str]:
    """(the sources ``model`` is looked up in, its name or pattern): a 'source/' prefix (a
    source's name or alias, or an fnmatch pattern over names) narrows ``sources``."""
    text = model.strip()
    prefix, slash, rest = text.partition("/")
    if slash and _is_pattern(prefix):
        return [s for s in sources if fnmatch.fnmatchcase(s, prefix.lower())], rest
    if slash:
        try:
            source = canonical_source(prefix)
        except UnknownSourceError:
            return sources, text
        return [s for s in sources if s == source], rest
    return sources, text


def _names_match(entry: Entry, pattern: str) -> bool:
    """One of the entry's names (its own or an alias) matches the fnmatch ``pattern`` (lower case)."""
    return any(fnmatch.fnmatchcase(name.lower(), pattern) for name in (entry.name, *entry.aliases))


def _nothing_selected(source: str | None, model: str, pattern: str, candidates: list[Entry]) -> LookupError:
    if source is not None and source in SOURCE_ERRORS:
        return SourceUnavailable(f"source {source!r} is disabled: {SOURCE_ERRORS[source]}")
    by_name = {name.lower(): e.name for e in candidates for name in (e.name, *e.aliases)}
    closest = difflib.get_close_matches(pattern, list(by_name), n=5, cutoff=0.6)
    return UnknownModelError(source, model.strip(), list(dict.fromkeys(by_name[c] for c in closest)))


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
    "arch_matches",
    "canonical_source",
    "get_entry",
    "list_entries",
    "list_excluded",
    "published_at_input_size",
    "select_entries",
]
