"""ConvNeXt-V2's layouts part: the ConvNeXt family's (``families/convnext/layouts.py``), which reads the
spec's GRN and layer-scale fields."""

from __future__ import annotations

from zoocheck.families.convnext.layouts import to_mmpretrain, to_timm

__all__ = ["to_mmpretrain", "to_timm"]
