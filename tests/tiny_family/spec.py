"""The tiny family's structure: 3x3 conv (stride 1) -> BN -> ReLU -> 3x3 conv (stride 2) -> BN ->
ReLU -> global average pool -> Linear. Pure data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TinySpec:
    width: int = 8  # channels of both convolutions

    family = "tiny"

    @property
    def id(self) -> str:
        return f"tinynet_w{self.width}"
