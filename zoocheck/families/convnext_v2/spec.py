"""The ConvNeXt-V2 family's structure: ``ConvNeXtSpec`` with GRN and without layer scale
(``families/convnext/spec.py`` has the fields; the two families share the ConvNeXt code). Pure
Python, imports nothing of zoocheck but the ConvNeXt spec."""

from __future__ import annotations

from zoocheck.families.convnext.spec import ConvNeXtV2Spec

__all__ = ["ConvNeXtV2Spec"]
