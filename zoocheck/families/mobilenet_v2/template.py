"""The canonical ONNX graph of a MobileNetV2, built from its ``MobileNetV2Spec`` alone (the family's
``template``; ``converters/graph/template.py`` has the builder and the conventions).

Layers (docs/architecture.md, "Names"): ``stem.conv`` (its batch norm folded in) and its
activation; per block ``stage{s}.{i}.expand`` (where the block has one) and its activation,
``stage{s}.{i}.depthwise`` (a Conv with one group per channel) and its activation,
``stage{s}.{i}.project`` (no activation), ``stage{s}.{i}.add`` (``Add(input, project)``, where the
block keeps width and resolution); ``head.conv`` and its activation, ``head.pool``,
``head.flatten``, ``fc`` (GluonCV's bias-free 1x1-conv classifier is the same Gemm with a zero
bias). Each activation is ``<layer>.relu6`` (``Clip(0, 6)``) or ``<layer>.relu``.
"""

from __future__ import annotations

from zoocheck.converters.graph.template import Builder
from zoocheck.converters.normalize import INPUT_NAME
from zoocheck.families.mobilenet_v2.canonical import blocks, head_channels, stem_channels
from zoocheck.families.mobilenet_v2.spec import MobileNetV2Spec


def build_template(spec: MobileNetV2Spec, num_classes: int, *, opset: int, graph_name: str):
    """The canonical ModelProto of ``spec``, initializers declared (name, dtype, shape) without data."""
    b = Builder(opset)

    def act(layer: str, x: str) -> str:
        return b.relu6(f"{layer}.relu6", x) if spec.activation == "relu6" else b.relu(f"{layer}.relu", x)

    x = act("stem.conv", b.conv("stem.conv", INPUT_NAME, 3, stem_channels(spec), 3, 2))
    for block in blocks(spec):
        y = x
        if block.expand:
            y = act(f"{block.prefix}.expand", b.conv(f"{block.prefix}.expand", y, block.cin, block.mid, 1))
        y = act(
            f"{block.prefix}.depthwise", b.conv(f"{block.prefix}.depthwise", y, block.mid, block.mid, 3, block.stride, groups=block.mid)
        )
        y = b.conv(f"{block.prefix}.project", y, block.mid, block.cout, 1)
        x = b.add(f"{block.prefix}.add", x, y) if block.skip else y
    features = head_channels(spec)
    x = act("head.conv", b.conv("head.conv", x, blocks(spec)[-1].cout, features, 1))
    b.head(x, features, num_classes)
    return b.model(graph_name, num_classes)
