"""What this process registered beyond the built-in sources and families (a plug-in's, a test's):
a converter child or a sweep worker registers the same before it runs a job, so an entry of a
run-time source or family works there as it does here."""

from __future__ import annotations

from dataclasses import dataclass

from zoocheck.families.registry import Family, register_family, registered_extra_families
from zoocheck.sources import Source, register_source, registered_extra_sources


@dataclass(frozen=True)
class Extensions:
    sources: tuple[Source, ...] = ()
    families: tuple[Family, ...] = ()


def registered_extensions() -> Extensions:
    return Extensions(registered_extra_sources(), registered_extra_families())


def register_extensions(extensions: Extensions) -> None:
    for source in extensions.sources:
        register_source(source)
    for family in extensions.families:
        register_family(family)
