"""A canonical ONNX graph's template, built from an architecture's spec alone by its family
(``Family.template``: the ResNet family's in ``families/resnet/template.py``) with ``Builder``.

The template fixes everything about a canonical file except the initializer values: the nodes and
their order, op types, attributes, node and tensor names, initializer names, shapes and dtypes, the
input and output declarations and the opset. ``canonical.py`` fills the values in from what a
source's own exporter wrote; the structure fingerprint of the template is therefore the
fingerprint every source's canonical file of that architecture has.

Conventions every family's template keeps (docs/architecture.md): a layer is named by its place in
the network, a node after its layer, its activation ``<layer>.relu``; every tensor after the node
computing it (``input`` the image, ``logits`` the classifier's output); initializers
``<layer>.weight`` and ``<layer>.bias`` (every Conv has a bias: batch norm is folded into it, or it
is zero), ``<layer>.scale`` / ``<layer>.shift`` for a batch norm no convolution precedes
([C, 1, 1]), the head ``head.pool`` -> ``head.flatten`` -> ``fc`` (``fc.weight`` [classes,
features], ``fc.bias``).
"""

from __future__ import annotations

import numpy as np

from zoocheck.converters.graph.rewrites.conformance import declare_initializers_as_inputs
from zoocheck.converters.graph.rewrites.onnx_graph import (
    CEIL_MODE_OPSET,
    CLIP_INPUTS_OPSET,
    HARDSWISH_OPSET,
    LAYER_NORM_OPSET,
    PAD_INPUTS_OPSET,
)
from zoocheck.converters.normalize import BATCH_DIM, INPUT_NAME, OUTPUT_NAME

#: Spatial input dimensions are symbolic: a canonical graph is a function of the architecture, not
#: of the resolution one set of weights was trained at (the metadata says which size to feed).
HEIGHT_DIM, WIDTH_DIM = "H", "W"


class NoCanonicalForm(ValueError):
    """The architecture belongs to no family zoocheck has a canonical graph for."""


class Builder:
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

    def conv(
        self,
        layer: str,
        x: str,
        cin: int,
        cout: int,
        kernel: int,
        stride: int = 1,
        groups: int = 1,
        pads: tuple[int, int, int, int] | None = None,
    ) -> str:
        """``pads``: (top, left, bottom, right), by default (k - 1) // 2 on every side."""
        top, left, bottom, right = pads if pads is not None else ((kernel - 1) // 2,) * 4
        weight = self._param(f"{layer}.weight", (cout, cin // groups, kernel, kernel))
        bias = self._param(f"{layer}.bias", (cout,))
        return self._node(
            "Conv",
            layer,
            [x, weight, bias],
            dilations=[1, 1],
            group=groups,
            kernel_shape=[kernel, kernel],
            pads=[top, left, bottom, right],
            strides=[stride, stride],
        )

    def affine(self, layer: str, x: str, channels: int) -> str:
        """A batch norm no convolution precedes, as per-channel scale then shift."""
        scaled = self._node("Mul", f"{layer}.mul", [x, self._param(f"{layer}.scale", (channels, 1, 1))])
        return self._node("Add", f"{layer}.add", [scaled, self._param(f"{layer}.shift", (channels, 1, 1))])

    def relu(self, name: str, x: str) -> str:
        return self._node("Relu", name, [x])

    def _constant(self, name: str, value: float) -> str:
        """A float scalar initializer holding ``value``, declared once: an operator's constant, not a
        weight (the match compares it by value)."""
        if all(t.name != name for t in self.initializers):
            self.initializers.append(self.onnx.helper.make_tensor(name, self.onnx.TensorProto.FLOAT, [], [value]))
        return name

    def relu6(self, name: str, x: str) -> str:
        """``Clip(x, 0, 6)``: bounds as attributes below opset 11, from 11 as the inputs
        ``relu6.min`` and ``relu6.max`` (scalars every Clip shares)."""
        if self.opset < CLIP_INPUTS_OPSET:
            return self._node("Clip", name, [x], max=6.0, min=0.0)
        return self._node("Clip", name, [x, self._constant("relu6.min", 0.0), self._constant("relu6.max", 6.0)])

    def add(self, name: str, a: str, b: str) -> str:
        return self._node("Add", name, [a, b])

    def mul(self, name: str, a: str, b: str) -> str:
        return self._node("Mul", name, [a, b])

    def scale(self, name: str, x: str, value: float, output: str | None = None) -> str:
        """``x`` times the constant ``value`` (``<name>.value``, a scalar)."""
        return self._node("Mul", name, [x, self._constant(f"{name}.value", value)], output)

    def hard_sigmoid(self, name: str, x: str, slope: float) -> str:
        """``clip(slope * x + 0.5, 0, 1)``: ONNX's HardSigmoid (every opset)."""
        return self._node("HardSigmoid", name, [x], alpha=slope, beta=0.5)

    def hardswish(self, name: str, x: str) -> str:
        """``x * hard_sigmoid(x)`` (slope 1/6): ONNX's HardSwish from opset 14, below it
        ``Mul(x, HardSigmoid(x))`` with the HardSigmoid ``<name>.gate``."""
        if self.opset >= HARDSWISH_OPSET:
            return self._node("HardSwish", name, [x])
        return self.mul(name, x, self.hard_sigmoid(f"{name}.gate", x, 1 / 6))

    def global_pool(self, name: str, x: str) -> str:
        return self._node("GlobalAveragePool", name, [x])

    def max_pool(self, name: str, x: str, kernel: int = 3, pad: int = 1) -> str:
        """Stride 2, floor mode: ResNet's and DenseNet's 3x3 (pad 1), VGG's 2x2 (pad 0)."""
        ceil = {"ceil_mode": 0} if self.opset >= CEIL_MODE_OPSET else {}
        return self._node("MaxPool", name, [x], **ceil, kernel_shape=[kernel, kernel], pads=[pad] * 4, strides=[2, 2])

    def avg_pool_2x2_floor(self, name: str, x: str) -> str:
        """2x2/2 without padding, floor mode (DenseNet's transitions): no window reaches a pad, so
        ``count_include_pad`` is left at its default."""
        ceil = {"ceil_mode": 0} if self.opset >= CEIL_MODE_OPSET else {}
        return self._node("AveragePool", name, [x], **ceil, kernel_shape=[2, 2], pads=[0] * 4, strides=[2, 2])

    def concat(self, name: str, inputs: list[str]) -> str:
        return self._node("Concat", name, inputs, axis=1)

    def flatten(self, name: str, x: str) -> str:
        return self._node("Flatten", name, [x], axis=1)

    def linear(self, layer: str, x: str, features: int, out: int, output: str | None = None) -> str:
        """``Gemm(x, W[out, features], b, transB=1)``."""
        weight = self._param(f"{layer}.weight", (out, features))
        bias = self._param(f"{layer}.bias", (out,))
        return self._node("Gemm", layer, [x, weight, bias], output, alpha=1.0, beta=1.0, transB=1)

    def avg_pool_2x2(self, name: str, x: str) -> str:
        # ceil_mode with the window's padding excluded: an odd size's last row/column is averaged
        # alone, as timm/mmpretrain (ceil_mode=True, count_include_pad=False) and PaddleClas
        # ('SAME' padding, exclusive) compute it. Below opset 10 (no ceil_mode) one excluded end
        # pad computes the same at every size (torch.onnx's own form there).
        if self.opset >= CEIL_MODE_OPSET:
            return self._node("AveragePool", name, [x], ceil_mode=1, count_include_pad=0, kernel_shape=[2, 2], pads=[0] * 4, strides=[2, 2])
        return self._node("AveragePool", name, [x], count_include_pad=0, kernel_shape=[2, 2], pads=[0, 0, 1, 1], strides=[2, 2])

    def sigmoid(self, name: str, x: str) -> str:
        return self._node("Sigmoid", name, [x])

    def silu(self, name: str, x: str) -> str:
        """SiLU (swish) as ``Mul(x, Sigmoid(x))``, the Sigmoid named ``<name>.sigmoid``: the form
        torch.onnx writes at every opset, and paddle2onnx's and mmcv's swish."""
        return self.mul(name, x, self.sigmoid(f"{name}.sigmoid", x))

    # --- the transformer families' ops (families/vit/template.py)

    def int_constant(self, name: str, values: list[int] | int) -> str:
        """An int64 constant initializer (a Reshape's shape, a Gather's index: a scalar for an int),
        declared once with its values."""
        if all(t.name != name for t in self.initializers):
            dims = [] if isinstance(values, int) else [len(values)]
            self.initializers.append(
                self.onnx.helper.make_tensor(name, self.onnx.TensorProto.INT64, dims, [values] if isinstance(values, int) else values)
            )
        return name

    def reshape(self, name: str, x: str, shape: list[int]) -> str:
        return self._node("Reshape", name, [x, self.int_constant(f"{name}.shape", shape)])

    def transpose(self, name: str, x: str, perm: list[int]) -> str:
        return self._node("Transpose", name, [x], perm=perm)

    def matmul(self, name: str, a: str, b: str) -> str:
        return self._node("MatMul", name, [a, b])

    def token_linear(self, layer: str, x: str, features: int, out: int, bias: bool = True) -> str:
        """A Linear layer on tokens [N, T, features]: ``MatMul(x, <layer>.weight [features, out])``
        (node ``<layer>.matmul``) then ``Add(<layer>.bias)`` (node ``<layer>``), as torch.onnx writes
        a Linear on a 3-d input; without a bias the MatMul is ``<layer>``."""
        weight = self._param(f"{layer}.weight", (features, out))
        if not bias:
            return self._node("MatMul", layer, [x, weight])
        return self._node("Add", layer, [self._node("MatMul", f"{layer}.matmul", [x, weight]), self._param(f"{layer}.bias", (out,))])

    def layer_norm(self, layer: str, x: str, channels: int, eps: float, params: str | None = None) -> str:
        """LayerNormalization over the last axis (``<params>.weight``, ``.bias``: the layer's own by
        default); ONNX's op from opset 17, below it the decomposition torch.onnx writes there."""
        params = params or layer
        weight, bias = (f"{params}.{leaf}" for leaf in ("weight", "bias"))
        for name in (weight, bias):
            if all(t.name != name for t in self.initializers):
                self._param(name, (channels,))
        if self.opset >= LAYER_NORM_OPSET:
            return self._node("LayerNormalization", layer, [x, weight, bias], axis=-1, epsilon=eps)
        mean = self._reduce_mean(f"{layer}.mean", x)
        centred = self._node("Sub", f"{layer}.centred", [x, mean])
        square = self._node("Pow", f"{layer}.square", [centred, self._constant("layer_norm.two", 2.0)])
        var = self._reduce_mean(f"{layer}.variance", square)
        std = self._node("Sqrt", f"{layer}.std", [self._node("Add", f"{layer}.variance_eps", [var, self._constant(f"{layer}.eps", eps)])])
        scaled = self._node("Mul", f"{layer}.scale", [self._node("Div", f"{layer}.normalised", [centred, std]), weight])
        return self._node("Add", layer, [scaled, bias])

    def _reduce_mean(self, name: str, x: str) -> str:
        if self.opset >= 18:
            return self._node("ReduceMean", name, [x, self.int_constant("layer_norm.axes", [-1])])
        return self._node("ReduceMean", name, [x], axes=[-1])

    def gelu(self, name: str, x: str) -> str:
        """The exact GELU as torch.onnx writes it (no ``Gelu`` op before opset 20, and not at 20
        either): ``x * (erf(x / sqrt(2)) + 1) * 0.5``, nodes ``<name>.div``, ``.erf``, ``.add``,
        ``.mul`` and ``<name>``, the constants shared."""
        erf = self._node(
            "Erf", f"{name}.erf", [self._node("Div", f"{name}.div", [x, self._constant("gelu.sqrt2", float(np.float32(np.sqrt(2.0))))])]
        )
        shifted = self._node("Add", f"{name}.add", [erf, self._constant("gelu.one", 1.0)])
        return self._node("Mul", name, [self._node("Mul", f"{name}.mul", [x, shifted]), self._constant("gelu.half", 0.5)])

    def softmax(self, name: str, x: str) -> str:
        return self._node("Softmax", name, [x], axis=-1)

    def split(self, name: str, x: str, parts: list[str]) -> list[str]:
        """Split along axis 0 into one-element pieces, each squeezed (torch.onnx's ``unbind(0)``):
        the Squeeze nodes are ``<name>.<part>``."""
        pieces = [f"{name}.{part}.piece" for part in parts]
        self.nodes.append(
            self.onnx.helper.make_node("Split", [x, self.int_constant(f"{name}.sizes", [1] * len(parts))], pieces, name=name, axis=0)
        )
        return [
            self._node("Squeeze", f"{name}.{part}", [piece, self.int_constant("squeeze.axes", [0])]) for part, piece in zip(parts, pieces)
        ]

    def gather(self, name: str, x: str, index: int, axis: int) -> str:
        return self._node("Gather", name, [x, self.int_constant(f"{name}.index", index)], axis=axis)

    def pad_front(self, name: str, x: str, count: int) -> str:
        """``count`` zero tokens in front of [N, T, C] (``pads`` an input from opset 11)."""
        pads = [0, count, 0, 0, 0, 0]
        if self.opset >= PAD_INPUTS_OPSET:
            return self._node("Pad", name, [x, self.int_constant(f"{name}.pads", pads)], mode="constant")
        return self._node("Pad", name, [x], mode="constant", pads=pads)

    def constant_tensor(self, name: str, shape: tuple[int, ...]) -> str:
        """A float initializer filled from the export (a token table, a layer scale)."""
        return self._param(name, shape)

    def head(self, x: str, features: int, classes: int) -> str:
        pooled = self.global_pool("head.pool", x)
        return self.linear("fc", self.flatten("head.flatten", pooled), features, classes, OUTPUT_NAME)

    def model(self, graph_name: str, num_classes: int):
        """The ModelProto of the nodes so far: input ``[N, 3, H, W]``, output ``logits``
        ``[N, num_classes]``, the lowest IR version the opset allows (at IR 3 every initializer a
        graph input too)."""
        onnx = self.onnx
        float_type = onnx.TensorProto.FLOAT
        graph = onnx.helper.make_graph(
            self.nodes,
            graph_name,
            [onnx.helper.make_tensor_value_info(INPUT_NAME, float_type, [BATCH_DIM, 3, HEIGHT_DIM, WIDTH_DIM])],
            [onnx.helper.make_tensor_value_info(OUTPUT_NAME, float_type, [BATCH_DIM, num_classes])],
            self.initializers,
        )
        opsets = [onnx.helper.make_opsetid("", self.opset)]
        model = onnx.helper.make_model(graph, opset_imports=opsets, ir_version=onnx.helper.find_min_ir_version_for(opsets))
        declare_initializers_as_inputs(model)
        return model
