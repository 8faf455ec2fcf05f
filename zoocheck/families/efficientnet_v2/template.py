"""The canonical ONNX graph of an EfficientNetV2: EfficientNet's (``families/efficientnet/template.py``,
its layer names and TF "same" pads at the input size) drawn from the spec's ``Skeleton``."""

from __future__ import annotations

from zoocheck.families.efficientnet.template import build_skeleton
from zoocheck.families.efficientnet_v2.canonical import skeleton
from zoocheck.families.efficientnet_v2.spec import EfficientNetV2Spec


def build_template(spec: EfficientNetV2Spec, num_classes: int, *, opset: int, graph_name: str, input_size: int | None = None):
    return build_skeleton(lambda: skeleton(spec), num_classes, opset=opset, graph_name=graph_name, input_size=input_size)
