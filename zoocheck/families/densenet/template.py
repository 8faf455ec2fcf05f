"""The canonical ONNX graph of a DenseNet, built from its ``DenseNetSpec`` alone (the family's
``template``; ``converters/graph/template.py`` has the builder and the conventions).

Layers (docs/architecture.md, "Names"): ``stem.conv{k}`` (its batch norm folded in) and
``stem.conv{k}.relu``, ``stem.pool``; per dense layer ``block{b}.{i}.concat`` (its input: the
block's input and the features of every earlier layer of the block, in order, one Concat per
layer; layer 0 reads the block's input itself), ``block{b}.{i}.bn1`` as Mul + Add (no convolution
precedes it) and ``.bn1.relu``, ``block{b}.{i}.conv1`` (``bn2`` folded in) and ``.conv1.relu``,
``block{b}.{i}.conv2``; ``block{b}.concat`` (the block's output); ``transition{b}.bn`` (Mul + Add),
``.bn.relu``, ``transition{b}.conv``, ``transition{b}.pool`` (2x2/2 average); ``head.bn`` (Mul +
Add), ``head.bn.relu``, ``head.pool``, ``head.flatten``, ``fc``.
"""

from __future__ import annotations

from zoocheck.converters.graph.template import Builder, NoCanonicalForm
from zoocheck.converters.normalize import INPUT_NAME
from zoocheck.families.densenet.canonical import block_outputs, dense_layers, stem_units
from zoocheck.families.densenet.spec import DenseNetSpec


def build_template(spec: DenseNetSpec, num_classes: int, *, opset: int, graph_name: str):
    """The canonical ModelProto of ``spec``, initializers declared (name, dtype, shape) without data."""
    try:
        stem = stem_units(spec)
    except ValueError as exc:
        raise NoCanonicalForm(str(exc)) from None
    b = Builder(opset)
    x = INPUT_NAME
    for k, cin, cout, kernel, stride in stem:
        x = b.relu(f"stem.conv{k}.relu", b.conv(f"stem.conv{k}", x, cin, cout, kernel, stride))
    pieces = [b.max_pool("stem.pool", x)]
    mid = spec.bn_size * spec.growth_rate
    for block, index, cin in dense_layers(spec):
        prefix = f"block{block}.{index}"
        x = b.concat(f"{prefix}.concat", pieces) if len(pieces) > 1 else pieces[0]
        x = b.relu(f"{prefix}.bn1.relu", b.affine(f"{prefix}.bn1", x, cin))
        x = b.relu(f"{prefix}.conv1.relu", b.conv(f"{prefix}.conv1", x, cin, mid, 1))
        pieces.append(b.conv(f"{prefix}.conv2", x, mid, spec.growth_rate, 3))
        if index == spec.blocks[block - 1] - 1:
            x, channels = b.concat(f"block{block}.concat", pieces), block_outputs(spec, block)
            if block == len(spec.blocks):
                break
            x = b.relu(f"transition{block}.bn.relu", b.affine(f"transition{block}.bn", x, channels))
            x = b.conv(f"transition{block}.conv", x, channels, channels // 2, 1)
            pieces = [b.avg_pool_2x2_floor(f"transition{block}.pool", x)]
    x = b.relu("head.bn.relu", b.affine("head.bn", x, channels))
    b.head(x, channels, num_classes)
    return b.model(graph_name, num_classes)
