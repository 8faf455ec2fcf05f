"""ConvNeXt-V2's random part: the ConvNeXt family's (``families/convnext/random.py``), which reads the
spec's GRN and layer-scale fields."""

from __future__ import annotations

from zoocheck.families.convnext.random import draw

__all__ = ["draw"]
