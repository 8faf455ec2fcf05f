"""ConvNeXt-V2's template part: the ConvNeXt family's (``families/convnext/template.py``), which reads the
spec's GRN and layer-scale fields."""

from __future__ import annotations

from zoocheck.families.convnext.template import build_template

__all__ = ["build_template"]
