"""Fixtures shared by every test module."""

from __future__ import annotations

import pytest

from zoocheck.sources import Source, register_source, unregister_source


@pytest.fixture
def registered_source():
    """``registered_source(descriptor)`` registers a test-only source through the public API for
    one test, and removes it afterwards."""
    names = []

    def register(source: Source) -> Source:
        register_source(source)
        names.append(source.name)
        return source

    yield register
    for name in names:
        unregister_source(name)
