"""The canonical ONNX graph of a VGG, built from its ``VGGSpec`` alone (the family's ``template``;
``converters/graph/template.py`` has the builder and the conventions).

Layers (docs/architecture.md, "Names"): ``stage{s}.conv{k}`` (its batch norm folded in) and
``stage{s}.conv{k}.relu``, ``stage{s}.pool`` (2x2/2 max-pool ending each stage), ``head.flatten``
(the 7x7 map, channel-major), ``head.fc1`` / ``head.fc1.relu``, ``head.fc2`` / ``head.fc2.relu``,
``fc`` (``logits``). No average pool: torchvision's adaptive pool to 7x7 is the identity on the
7x7 map, timm's global pool on its 7x7 convolution's one pixel too (the canonical graph's rewrites
turn that convolution into ``head.fc1``). The input's H and W stay symbolic, as in every canonical
graph, but the classifier reads a 7x7 map: inputs of 224 to 255 pixels.
"""

from __future__ import annotations

from zoocheck.converters.graph.template import Builder, NoCanonicalForm
from zoocheck.converters.normalize import INPUT_NAME, OUTPUT_NAME
from zoocheck.families.vgg.canonical import classifier, convs
from zoocheck.families.vgg.spec import VGGSpec


def build_template(spec: VGGSpec, num_classes: int, *, opset: int, graph_name: str):
    """The canonical ModelProto of ``spec``, initializers declared (name, dtype, shape) without data."""
    if spec.eval_dropout_scale != 1.0:
        raise NoCanonicalForm(f"{spec.id}: no canonical graph yet for a classifier scaled by its dropouts at evaluation")
    b = Builder(opset)
    x = INPUT_NAME
    for stage, k, cin, cout in convs(spec):
        x = b.relu(f"stage{stage}.conv{k}.relu", b.conv(f"stage{stage}.conv{k}", x, cin, cout, 3))
        if k == spec.layers[stage - 1]:
            x = b.max_pool(f"stage{stage}.pool", x, kernel=2, pad=0)
    x = b.flatten("head.flatten", x)
    for layer, features, out in classifier(num_classes):
        x = b.linear(layer, x, features, out, OUTPUT_NAME if layer == "fc" else None)
        if layer != "fc":
            x = b.relu(f"{layer}.relu", x)
    return b.model(graph_name, num_classes)
