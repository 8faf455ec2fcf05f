"""ConvNeXt-V2's canonical part: the ConvNeXt family's (``families/convnext/canonical.py``), which reads the
spec's GRN and layer-scale fields."""

from __future__ import annotations

from zoocheck.families.convnext.canonical import (
    forward,
    layer_outputs,
    parameter_shapes,
)

__all__ = ["forward", "layer_outputs", "parameter_shapes"]
