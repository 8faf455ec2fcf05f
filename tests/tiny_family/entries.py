"""The registry entries of the two tiny-family sources (``ENTRIES_TORCH``, ``ENTRIES_SEQ``), named
by the family's own parser."""

from __future__ import annotations

from tiny_family.names import tiny
from zoocheck.zoo_registry.types import Architecture, Entry, Preprocess

PREPROCESS = Preprocess(resize=40, crop=32)


def _entry(source: str, name: str) -> Entry:
    return Entry(
        source=source, name=name, arch=Architecture(tiny("tinynet_w8"), num_classes=10), builder=name, preprocess=PREPROCESS, input_size=32
    )


ENTRIES_TORCH = (_entry("tiny-torch", "tinynet-a"),)
ENTRIES_SEQ = (_entry("tiny-seq", "tinynet-b"),)
