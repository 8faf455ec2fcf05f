"""The tiny family's one naming scheme: ``tinynet_w<width>``."""

from __future__ import annotations

import re

from tiny_family.spec import TinySpec


def tiny(name: str) -> TinySpec:
    m = re.fullmatch(r"tinynet_w(\d+)", name)
    if not m:
        raise ValueError(f"{name!r} is not a tiny-family name (tinynet_w<width>)")
    return TinySpec(int(m[1]))
