"""The canonical ONNX graph of a ResNet-family architecture, built from its ``ResNetSpec`` alone
(the family's ``template``; ``converters/graph/template.py`` has the builder and the conventions).

Naming scheme (one for all sources, documented in docs/architecture.md):

- a *layer* is named by its place in the network: ``stem.conv1`` .. ``stem.conv3`` (deep stems have
  three), ``stem.bn0`` (v2's batch norm of the input image), ``stem.pool``;
  ``layer{stage}.{block}.conv{k}`` (k-th convolution of the residual branch, 1-based, stages 1..4,
  blocks 0-based), ``layer{s}.{b}.bn{k}`` (v2's pre-activation batch norm),
  ``layer{s}.{b}.downsample.pool`` / ``.downsample.conv`` (the projection shortcut),
  ``layer{s}.{b}.add`` (the residual sum), ``head.bn`` (v2), ``head.pool``, ``head.flatten``, ``fc``;
- a node is named after its layer; its activation after it: ``<layer>.relu`` for the ReLU
  following a convolution or batch norm, ``layer{s}.{b}.relu`` for the ReLU after the sum; a
  batch norm kept as ``Mul`` + ``Add`` gives the nodes ``<layer>.mul`` and ``<layer>.add``;
- every tensor is named after the node that computes it (``logits`` for the classifier's output,
  ``input`` for the image);
- initializers: ``<layer>.weight`` and ``<layer>.bias`` (every Conv has a bias: batch norm is folded
  into it, or it is zero), ``<layer>.scale`` and ``<layer>.shift`` (batch norm that no convolution
  precedes, [C, 1, 1]), ``fc.weight`` [classes, features] with ``fc.bias``.

Within a block the residual branch comes first, then the shortcut, then the sum: ``Add(branch,
shortcut)``.
"""

from __future__ import annotations

from zoocheck.converters.graph.template import Builder
from zoocheck.converters.normalize import INPUT_NAME
from zoocheck.families.resnet.spec import STEM_CHANNELS, ResNetSpec


def _block(b: Builder, spec: ResNetSpec, name: str, x: str, cin: int, stage: int, index: int) -> str:
    mid, cout, stride = spec.mid_channels(stage), spec.out_channels(stage), spec.stride(stage, index)
    branch_in = x
    if spec.preact:
        branch_in = b.relu(f"{name}.bn1.relu", b.affine(f"{name}.bn1", x, cin))
    # (cin, cout, kernel, stride, groups) of each branch convolution
    if spec.block == "bottleneck":
        first_stride, middle_stride = (stride, 1) if spec.stride_on == "1x1" else (1, stride)
        convs = [(cin, mid, 1, first_stride, 1), (mid, mid, 3, middle_stride, spec.groups), (mid, cout, 1, 1, 1)]
    else:
        convs = [(cin, mid, 3, stride, 1), (mid, cout, 3, 1, 1)]
    y = branch_in
    for k, (ci, co, kernel, s, g) in enumerate(convs, start=1):
        y = b.conv(f"{name}.conv{k}", y, ci, co, kernel, s, g)
        if k < len(convs):
            y = b.relu(f"{name}.conv{k}.relu", y)
    shortcut = x
    if spec.projects(stage, index):
        # v2 projects the pre-activated input, the others the block's input
        shortcut = branch_in
        if spec.shortcut == "avgpool_conv" and stride != 1:
            shortcut = b.avg_pool_2x2(f"{name}.downsample.pool", shortcut)
            shortcut = b.conv(f"{name}.downsample.conv", shortcut, cin, cout, 1)
        else:
            shortcut = b.conv(f"{name}.downsample.conv", shortcut, cin, cout, 1, stride)
    out = b.add(f"{name}.add", y, shortcut)
    return out if spec.preact else b.relu(f"{name}.relu", out)


def build_template(spec: ResNetSpec, num_classes: int, *, opset: int, graph_name: str):
    """The canonical ModelProto of ``spec``, initializers declared (name, dtype, shape) without data."""
    b = Builder(opset)
    x, cin = INPUT_NAME, 3
    if spec.preact:
        x = b.affine("stem.bn0", x, 3)
    widths = STEM_CHANNELS[spec.stem]
    for k, width in enumerate(widths, start=1):
        kernel, stride = (7, 2) if spec.stem == "7x7" else (3, 2 if k == 1 else 1)
        x = b.conv(f"stem.conv{k}", x, cin, width, kernel, stride)
        x = b.relu(f"stem.conv{k}.relu", x)
        cin = width
    x = b.max_pool("stem.pool", x)
    for stage, count in enumerate(spec.layers):
        for index in range(count):
            x = _block(b, spec, f"layer{stage + 1}.{index}", x, cin, stage, index)
            cin = spec.out_channels(stage)
    if spec.preact:
        x = b.relu("head.bn.relu", b.affine("head.bn", x, cin))
    b.head(x, cin, num_classes)
    return b.model(graph_name, num_classes)
