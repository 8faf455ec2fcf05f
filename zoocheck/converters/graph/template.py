"""The canonical ONNX graph of a ResNet-family architecture, built from the architecture spec alone.

The template fixes everything about a canonical file except the initializer values: the nodes and
their order, op types, attributes, node and tensor names, initializer names, shapes and dtypes, the
input and output declarations and the opset. ``canonical.py`` fills the values in from what a
source's own exporter wrote; the structure fingerprint of the template is therefore the
fingerprint every source's canonical file of that architecture has.

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

from zoocheck.converters.graph.rewrite import CEIL_MODE_OPSET, declare_initializers_as_inputs
from zoocheck.converters.normalize import BATCH_DIM, INPUT_NAME, OUTPUT_NAME
from zoocheck.zoo_registry.resnet import STEM_CHANNELS, ResNetSpec
from zoocheck.zoo_registry.types import Architecture

#: Spatial input dimensions are symbolic: a canonical graph is a function of the architecture, not
#: of the resolution one set of weights was trained at (the metadata says which size to feed).
HEIGHT_DIM, WIDTH_DIM = "H", "W"


class NoCanonicalForm(ValueError):
    """The architecture is outside the families zoocheck has a canonical graph for."""


def spec_of(arch: Architecture) -> ResNetSpec:
    """The ResNet spec the canonical graph of ``arch`` is built from; NoCanonicalForm outside it."""
    if arch.resnet is None:
        raise NoCanonicalForm(f"{arch.id}: zoocheck has a canonical graph for the ResNet family (ResNet, ResNeXt, wide ResNet) only")
    return arch.resnet


class _Builder:
    """Appends nodes and data-less initializers (name, shape) in canonical order, in the operator
    versions of ``opset``."""

    def __init__(self, opset: int):
        import onnx

        self.onnx = onnx
        self.opset = opset
        self.nodes: list = []
        self.initializers: list = []

    def _param(self, name: str, shape: tuple[int, ...]) -> str:
        tensor = self.onnx.TensorProto(name=name, data_type=self.onnx.TensorProto.FLOAT, dims=list(shape))
        self.initializers.append(tensor)
        return name

    def _node(self, op: str, name: str, inputs: list[str], output: str | None = None, **attrs) -> str:
        output = output or name
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [output], name=name, **attrs))
        return output

    def conv(self, layer: str, x: str, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> str:
        pad = (kernel - 1) // 2
        weight = self._param(f"{layer}.weight", (cout, cin // groups, kernel, kernel))
        bias = self._param(f"{layer}.bias", (cout,))
        return self._node(
            "Conv", layer, [x, weight, bias],
            dilations=[1, 1], group=groups, kernel_shape=[kernel, kernel], pads=[pad] * 4, strides=[stride, stride],
        )  # fmt: skip

    def affine(self, layer: str, x: str, channels: int) -> str:
        """A batch norm no convolution precedes, as per-channel scale then shift."""
        scaled = self._node("Mul", f"{layer}.mul", [x, self._param(f"{layer}.scale", (channels, 1, 1))])
        return self._node("Add", f"{layer}.add", [scaled, self._param(f"{layer}.shift", (channels, 1, 1))])

    def relu(self, name: str, x: str) -> str:
        return self._node("Relu", name, [x])

    def add(self, name: str, a: str, b: str) -> str:
        return self._node("Add", name, [a, b])

    def max_pool(self, name: str, x: str) -> str:
        ceil = {"ceil_mode": 0} if self.opset >= CEIL_MODE_OPSET else {}
        return self._node("MaxPool", name, [x], **ceil, kernel_shape=[3, 3], pads=[1] * 4, strides=[2, 2])

    def avg_pool_2x2(self, name: str, x: str) -> str:
        # ceil_mode with the window's padding excluded: an odd size's last row/column is averaged
        # alone, as timm/mmpretrain (ceil_mode=True, count_include_pad=False) and PaddleClas
        # ('SAME' padding, exclusive) compute it. Below opset 10 (no ceil_mode) one excluded end
        # pad computes the same at every size (torch.onnx's own form there).
        if self.opset >= CEIL_MODE_OPSET:
            return self._node("AveragePool", name, [x], ceil_mode=1, count_include_pad=0, kernel_shape=[2, 2], pads=[0] * 4, strides=[2, 2])
        return self._node("AveragePool", name, [x], count_include_pad=0, kernel_shape=[2, 2], pads=[0, 0, 1, 1], strides=[2, 2])

    def head(self, x: str, features: int, classes: int) -> str:
        pooled = self._node("GlobalAveragePool", "head.pool", [x])
        flat = self._node("Flatten", "head.flatten", [pooled], axis=1)
        weight = self._param("fc.weight", (classes, features))
        bias = self._param("fc.bias", (classes,))
        return self._node("Gemm", "fc", [flat, weight, bias], OUTPUT_NAME, alpha=1.0, beta=1.0, transB=1)


def _block(b: _Builder, spec: ResNetSpec, name: str, x: str, cin: int, stage: int, index: int) -> str:
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
    import onnx

    b = _Builder(opset)
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
    float_type = onnx.TensorProto.FLOAT
    graph = onnx.helper.make_graph(
        b.nodes,
        graph_name,
        [onnx.helper.make_tensor_value_info(INPUT_NAME, float_type, [BATCH_DIM, 3, HEIGHT_DIM, WIDTH_DIM])],
        [onnx.helper.make_tensor_value_info(OUTPUT_NAME, float_type, [BATCH_DIM, num_classes])],
        b.initializers,
    )
    opsets = [onnx.helper.make_opsetid("", opset)]
    model = onnx.helper.make_model(graph, opset_imports=opsets, ir_version=onnx.helper.find_min_ir_version_for(opsets))
    declare_initializers_as_inputs(model)
    return model
