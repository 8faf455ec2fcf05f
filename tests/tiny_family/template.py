"""The tiny family's canonical graph."""

from __future__ import annotations

from tiny_family.canonical import UNITS
from zoocheck.converters.graph.template import Builder
from zoocheck.converters.normalize import INPUT_NAME


def build_template(spec, num_classes: int, *, opset: int, graph_name: str):
    b = Builder(opset)
    x, cin = INPUT_NAME, 3
    for conv, _, stride in UNITS:
        x = b.relu(f"{conv}.relu", b.conv(conv, x, cin, spec.width, 3, stride))
        cin = spec.width
    b.head(x, spec.width, num_classes)
    return b.model(graph_name, num_classes)
