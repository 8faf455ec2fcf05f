"""What the test-only sources' registry modules share: a registry entry made one of theirs, at
64 px and without published weights, so that parity runs fast."""

import dataclasses

from zoocheck.zoo_registry.types import Entry


def small_entry(entry: Entry, source: str, name: str | None = None) -> Entry:
    """``entry`` as source ``source``'s (named ``name``, default its own), at 64 px."""
    return dataclasses.replace(
        entry,
        source=source,
        name=name or entry.name,
        aliases=(),
        weights=None,
        published=(),
        same_weights_as=(),
        input_size=64,
        preprocess=dataclasses.replace(entry.preprocess, resize=73, crop=64),
    )
