"""The canonical ONNX graph of a ConvNeXt (V1 or V2), built from its spec alone (the families'
``template``; ``converters/graph/template.py`` has the builder and the conventions).

One form per operation, whatever the exporter wrote (``converters/graph/rewrites/channels_last.py``
brings them to it):

- LayerNorm over channels: ``<layer>.to_nhwc`` (Transpose 0, 2, 3, 1), ``<layer>`` (the
  LayerNorm over the last axis, the spec's epsilon: ``LayerNormalization`` from opset 17, below it
  the decomposition ``Builder.layer_norm`` writes), ``<layer>.to_nchw`` (Transpose 0, 3, 1, 2):
  torch.onnx's form of every zoo's channels-first LayerNorm. From opset 9 (GELU's ``Erf``); below
  it ``NoCanonicalForm`` says so.
- the block, channels last between its two transposes: ``stage{s}.{i}.dw`` (7x7 Conv, one group
  per channel), ``.to_nhwc``, ``.norm``, ``.fc1`` (MatMul by [C, 4C]) + ``.fc1.add`` (bias),
  GELU, V2's GRN, ``.fc2`` (MatMul by [4C, C]) + ``.fc2.add``, V1's ``.layer_scale`` (Mul by
  [C]), ``.to_nchw``, ``.add`` (the input added back). timm's 1x1-convolution MLPs
  (``conv_mlp``) become these MatMuls, torch's layer scale on the NCHW tensor becomes this Mul.
- GELU: the Erf chain ``<layer>.gelu.div`` (by sqrt 2), ``.gelu.erf``, ``.gelu.add`` (1),
  ``.gelu.mul`` (x times it), ``<layer>.gelu`` (times 0.5): torch.onnx's form at every opset (it
  writes no ``Gelu`` op); the constants are the shared scalars ``gelu.sqrt2``, ``gelu.one``,
  ``gelu.half``.
- GRN (V2), channels last: ``.grn.l2`` (ReduceL2 over H, W), ``.grn.mean`` (ReduceMean over
  channels), ``.grn.eps`` (+ ``grn.eps``), ``.grn.div``, ``.grn.mul`` (x times it),
  ``.grn.scale`` (Mul by ``weight`` [4C]), ``.grn.shift`` (Add ``bias``), ``.grn`` (+ x); axes as
  attributes below opset 18, as inputs from 18.
- stem ``stem.conv`` (4x4/4) + ``stem.norm``; ``stage{s}.downsample.norm`` +
  ``stage{s}.downsample.conv`` (2x2/2); head ``head.pool``, ``head.norm``, ``head.flatten``,
  ``fc``.
"""

from __future__ import annotations

import math

import numpy as np

from zoocheck.converters.graph.rewrites.onnx_graph import REDUCE_AXES_INPUTS_OPSET
from zoocheck.converters.graph.template import Builder, NoCanonicalForm
from zoocheck.converters.normalize import INPUT_NAME, OUTPUT_NAME
from zoocheck.families.convnext.canonical import (
    DOWNSAMPLE,
    DW_KERNEL,
    STEM_PATCH,
    blocks,
)
from zoocheck.families.convnext.spec import GRN_EPS, MLP_RATIO, ConvNeXtSpec

#: the first opset with ``Erf`` (GELU)
MIN_OPSET = 9


class _ConvNeXtBuilder(Builder):
    """``Builder`` with the ConvNeXt forms above."""

    def _initializer(self, name: str, array: np.ndarray) -> str:
        """A constant with its values (a Reduce's axes), declared once."""
        if all(t.name != name for t in self.initializers):
            self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def transpose(self, name: str, x: str, perm: list[int]) -> str:
        return self._node("Transpose", name, [x], perm=perm)

    def layer_norm(self, layer: str, x: str, channels: int, eps: float, *, channels_first: bool = True) -> str:
        """The LayerNorm over the last axis (``Builder.layer_norm``), between transposes to NHWC and
        back where ``x`` is NCHW."""
        y = self.transpose(f"{layer}.to_nhwc", x, [0, 2, 3, 1]) if channels_first else x
        y = super().layer_norm(layer, y, channels, eps)
        return self.transpose(f"{layer}.to_nchw", y, [0, 3, 1, 2]) if channels_first else y

    def dense(self, layer: str, x: str, cin: int, cout: int) -> str:
        """``x @ W[cin, cout] + b`` on a channels-last tensor."""
        y = self._node("MatMul", layer, [x, self._param(f"{layer}.weight", (cin, cout))])
        return self.add(f"{layer}.add", y, self._param(f"{layer}.bias", (cout,)))

    def gelu(self, name: str, x: str) -> str:
        y = self._node("Div", f"{name}.div", [x, self._constant("gelu.sqrt2", float(np.float32(math.sqrt(2))))])
        y = self.add(f"{name}.add", self._node("Erf", f"{name}.erf", [y]), self._constant("gelu.one", 1.0))
        return self._node("Mul", name, [self.mul(f"{name}.mul", x, y), self._constant("gelu.half", 0.5)])

    def _reduce(self, op: str, name: str, x: str, axes: list[int]) -> str:
        if self.opset >= REDUCE_AXES_INPUTS_OPSET:
            label = "_".join(str(a) for a in axes).replace("-", "m")
            return self._node(op, name, [x, self._initializer(f"axes.{label}", np.array(axes, np.int64))], keepdims=1)
        return self._node(op, name, [x], axes=axes, keepdims=1)

    def grn(self, layer: str, x: str, channels: int) -> str:
        gx = self._reduce("ReduceL2", f"{layer}.l2", x, [1, 2])
        mean = self.add(f"{layer}.eps", self._reduce("ReduceMean", f"{layer}.mean", gx, [-1]), self._constant("grn.eps", GRN_EPS))
        nx = self._node("Div", f"{layer}.div", [gx, mean])
        y = self.mul(f"{layer}.scale", self.mul(f"{layer}.mul", x, nx), self._param(f"{layer}.weight", (channels,)))
        return self.add(layer, self.add(f"{layer}.shift", y, self._param(f"{layer}.bias", (channels,))), x)

    def layer_scale(self, layer: str, x: str, channels: int) -> str:
        return self.mul(layer, x, self._param(f"{layer}.weight", (channels,)))


def build_template(spec: ConvNeXtSpec, num_classes: int, *, opset: int, graph_name: str):
    """The canonical ModelProto of ``spec``, initializers declared (name, dtype, shape) without data."""
    try:
        units = blocks(spec)
    except ValueError as exc:
        raise NoCanonicalForm(str(exc)) from None
    if opset < MIN_OPSET:
        raise NoCanonicalForm(
            f"{spec.id}: the canonical ConvNeXt graph computes GELU with Erf (opset {MIN_OPSET} or later), not opset {opset}"
        )
    b = _ConvNeXtBuilder(opset)
    dims, eps = spec.dims, spec.norm_eps
    x = b.conv("stem.conv", INPUT_NAME, 3, dims[0], STEM_PATCH, STEM_PATCH, pads=(0, 0, 0, 0))
    x = b.layer_norm("stem.norm", x, dims[0], eps)
    for u in units:
        c, hidden = u.channels, MLP_RATIO * u.channels
        if u.index == 0 and u.stage > 1:
            down = f"stage{u.stage}.downsample"
            x = b.layer_norm(f"{down}.norm", x, dims[u.stage - 2], eps)
            x = b.conv(f"{down}.conv", x, dims[u.stage - 2], c, DOWNSAMPLE, DOWNSAMPLE, pads=(0, 0, 0, 0))
        y = b.conv(f"{u.prefix}.dw", x, c, c, DW_KERNEL, groups=c)
        y = b.layer_norm(f"{u.prefix}.norm", b.transpose(f"{u.prefix}.to_nhwc", y, [0, 2, 3, 1]), c, eps, channels_first=False)
        y = b.gelu(f"{u.prefix}.gelu", b.dense(f"{u.prefix}.fc1", y, c, hidden))
        if spec.grn:
            y = b.grn(f"{u.prefix}.grn", y, hidden)
        y = b.dense(f"{u.prefix}.fc2", y, hidden, c)
        if spec.layer_scale:
            y = b.layer_scale(f"{u.prefix}.layer_scale", y, c)
        x = b.add(f"{u.prefix}.add", b.transpose(f"{u.prefix}.to_nchw", y, [0, 3, 1, 2]), x)
    x = b.layer_norm("head.norm", b.global_pool("head.pool", x), dims[-1], eps)
    b.linear("fc", b.flatten("head.flatten", x), dims[-1], num_classes, OUTPUT_NAME)
    return b.model(graph_name, num_classes)
