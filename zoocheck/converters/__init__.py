"""Converters, one module per framework, looked up through the source's descriptor and imported lazily.

Importing this package imports no framework: ``zoocheck list`` stays instant and a broken framework
only disables the sources it serves.
"""

from __future__ import annotations

import importlib

from zoocheck.converters.base import Converter, FrameworkUnavailable, NativeModel, WeightsError
from zoocheck.sources import get_source
from zoocheck.zoo_registry.types import Entry


def converter_for(source: str) -> Converter:
    """The converter serving ``source`` (a name or alias; UnknownSourceError if none), bound to its
    descriptor; FrameworkUnavailable if its module cannot be imported."""
    descriptor = get_source(source)
    module_name, class_name = descriptor.converter_path()
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # the converter module itself imports no framework at import time
        raise FrameworkUnavailable(f"converter for {descriptor.name!r} cannot be imported: {exc}") from exc
    return getattr(module, class_name)(descriptor)


def library_entry(source: str, name: str) -> Entry | None:
    """An entry for a model the registry does not list but ``source``'s framework knows by
    ``name`` (any timm / torchvision classifier): the ``library`` of ``zoo_registry.select_entries``.
    None when it does not, or when the framework cannot be imported."""
    try:
        return converter_for(source).resolve(name)
    except FrameworkUnavailable:
        return None


__all__ = ["Converter", "FrameworkUnavailable", "NativeModel", "WeightsError", "converter_for", "library_entry"]
