"""The canonical ONNX graph of an EfficientNet, built from its ``EfficientNetSpec`` (and, for TF
"same" padding, the input size) alone (the family's ``template``; ``converters/graph/template.py``
has the builder and the conventions). ``build_skeleton`` draws any ``Skeleton``
(EfficientNetV2's too).

Layers (docs/architecture.md, "Names"): ``stem.conv`` (its batch norm folded in) and its
activation; per block ``stage{s}.{i}.expand`` (none at expansion 1) and its activation,
``stage{s}.{i}.dw`` (a group convolution, one group per channel) and its activation, the
squeeze-excitation ``.se.pool`` (GlobalAveragePool), ``.se.reduce`` (1x1 Conv) and its
activation, ``.se.expand`` (1x1 Conv), ``.se.gate`` (Sigmoid), ``.se.scale`` (Mul of the depthwise
output by the gate), ``stage{s}.{i}.project`` (1x1, no activation), ``stage{s}.{i}.add`` (blocks
of stride 1 that keep their width); a fused block has ``stage{s}.{i}.fused`` and its activation
in place of expand and dw (and no ``project`` at expansion 1); ``head.conv`` and its activation,
``head.pool``, ``head.flatten``, ``fc``. The activation of a layer is ``<layer>.silu`` (``Mul(x,
Sigmoid(x))``, the Sigmoid ``<layer>.silu.sigmoid``), or ``<layer>.relu6`` for the Lite variants
(``Clip(x, 0, 6)``: attributes below opset 11, from 11 the shared scalar inputs ``relu6.min`` /
``relu6.max``).

Convolutions pad (k - 1) // 2 on every side, except "same" padding's strided convolutions, which
pad as TF does at the input size given (the graph's input is then declared at that size: at any
other size it would not compute the same function).
"""

from __future__ import annotations

from collections.abc import Callable

from zoocheck.converters.graph.template import Builder, NoCanonicalForm
from zoocheck.converters.normalize import INPUT_NAME
from zoocheck.families.efficientnet.canonical import Skeleton, skeleton, skeleton_pads
from zoocheck.families.efficientnet.spec import EfficientNetSpec


def build_skeleton(draw: Callable[[], Skeleton], num_classes: int, *, opset: int, graph_name: str, input_size: int | None = None):
    """The canonical ModelProto of the skeleton ``draw()`` gives (at ``input_size`` pixels for
    "same" padding), initializers declared (name, dtype, shape) without data; a skeleton that
    cannot be drawn (ValueError) has no canonical form."""
    try:
        net = draw()
        strided = skeleton_pads(net, input_size)
    except ValueError as exc:
        raise NoCanonicalForm(str(exc)) from None
    b = Builder(opset)

    def act(layer: str, x: str) -> str:
        if not net.relu6:
            return b.silu(f"{layer}.silu", x)
        return b.relu6(f"{layer}.relu6", x)

    x = act("stem.conv", b.conv("stem.conv", INPUT_NAME, 3, net.stem, 3, 2, pads=strided["stem.conv"]))
    for block in net.blocks:
        p, y = block.prefix, x
        if block.fused:
            y = act(f"{p}.fused", b.conv(f"{p}.fused", y, block.cin, block.mid, block.kernel, block.stride, pads=strided.get(f"{p}.fused")))
        else:
            if block.expands:
                y = act(f"{p}.expand", b.conv(f"{p}.expand", y, block.cin, block.mid, 1))
            y = act(
                f"{p}.dw",
                b.conv(f"{p}.dw", y, block.mid, block.mid, block.kernel, block.stride, groups=block.mid, pads=strided.get(f"{p}.dw")),
            )
        if block.squeeze:
            gate = act(f"{p}.se.reduce", b.conv(f"{p}.se.reduce", b.global_pool(f"{p}.se.pool", y), block.mid, block.squeeze, 1))
            gate = b.sigmoid(f"{p}.se.gate", b.conv(f"{p}.se.expand", gate, block.squeeze, block.mid, 1))
            y = b.mul(f"{p}.se.scale", y, gate)
        if block.projects:
            y = b.conv(f"{p}.project", y, block.mid, block.cout, 1)
        x = b.add(f"{p}.add", x, y) if block.residual else y
    x = act("head.conv", b.conv("head.conv", x, net.blocks[-1].cout, net.head, 1))
    b.head(x, net.head, num_classes)
    model = b.model(graph_name, num_classes)
    if net.padding == "same":
        for dim in model.graph.input[0].type.tensor_type.shape.dim[2:]:
            dim.Clear()
            dim.dim_value = input_size
    return model


def build_template(spec: EfficientNetSpec, num_classes: int, *, opset: int, graph_name: str, input_size: int | None = None):
    """The canonical ModelProto of ``spec`` (``build_skeleton``)."""
    return build_skeleton(lambda: skeleton(spec), num_classes, opset=opset, graph_name=graph_name, input_size=input_size)
