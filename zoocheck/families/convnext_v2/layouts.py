"""ConvNeXt-V2's layouts part: the ConvNeXt family's (``families/convnext/layouts.py``), which reads the
spec's GRN and layer-scale fields."""

from __future__ import annotations

from zoocheck.families.convnext.layouts import channels_first_taps, to_mmpretrain, to_timm

__all__ = ["channels_first_taps", "to_mmpretrain", "to_timm"]
