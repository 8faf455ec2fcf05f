"""Converters, one module per framework, looked up through the source's descriptor and imported lazily.

Importing this package imports no framework: ``zoocheck list`` stays instant and a broken framework
only disables the sources it serves.
"""

from __future__ import annotations

import importlib

from zoocheck.converters.base import Converter, FrameworkUnavailable, NativeModel, WeightsError
from zoocheck.sources import get_source
from zoocheck.zoo_registry import UnknownModelError, get_entry
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


def find_entry(source: str, name: str) -> Entry:
    """The registry entry ``name`` of ``source``, else a model its framework knows by that name (any
    timm / torchvision classifier); UnknownModelError (or UnknownSourceError) when neither does."""
    try:
        return get_entry(source, name)
    except UnknownModelError:
        try:
            entry = converter_for(source).resolve(name)
        except FrameworkUnavailable:
            entry = None
        if entry is None:
            raise
        return entry


__all__ = ["Converter", "FrameworkUnavailable", "NativeModel", "WeightsError", "converter_for", "find_entry"]
