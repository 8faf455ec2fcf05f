"""mmpretrain's ConvNeXt-V2: mmpretrain's ConvNeXt backbone with GRN and without layer scale
(``families/convnext/mmpretrain.py``)."""

from __future__ import annotations

from zoocheck.families.convnext.mmpretrain import build_classifier

__all__ = ["build_classifier"]
