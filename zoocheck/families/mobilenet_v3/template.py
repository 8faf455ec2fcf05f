"""The canonical ONNX graph of a MobileNetV3, built from its ``MobileNetV3Spec`` alone (the family's
``template``; ``converters/graph/template.py`` has the builder and the conventions).

Layers (docs/architecture.md, "Names"): ``stem.conv`` (its batch norm folded in) +
``stem.conv.hardswish``; per block ``block{n}.expand`` (where the block has one) and
``block{n}.depthwise`` (a Conv with one group per channel), each with the block's activation
(``.relu`` or ``.hardswish``); the squeeze-excitation ``block{n}.se.pool`` (GlobalAveragePool),
``block{n}.se.reduce`` + ``.se.reduce.relu``, ``block{n}.se.expand``, ``block{n}.se.gate``
(HardSigmoid, alpha the spec's gate slope, beta 0.5), ``block{n}.se.mul`` (the features times the
gate); ``block{n}.project``, ``block{n}.add`` where the input is added back; ``head.conv`` +
``.hardswish``, ``head.pool``, then the 'conv' head's ``head.fc1`` (1x1 Conv) + ``.hardswish``,
``head.dropout`` (a Mul by the scalar ``head.dropout.value``, where the evaluation dropout scales)
and ``head.flatten``, or the 'linear' head's ``head.flatten``, ``head.fc1`` (Gemm) + ``.hardswish``
and ``head.dropout``; ``fc``. Hardswish is ONNX's ``HardSwish`` from opset 14 and ``Mul(x, HardSigmoid(x))`` (the
HardSigmoid ``<layer>.hardswish.gate``, slope 1/6) below it.
"""

from __future__ import annotations

from zoocheck.converters.graph.template import Builder, NoCanonicalForm
from zoocheck.converters.normalize import INPUT_NAME, OUTPUT_NAME
from zoocheck.families.mobilenet_v3.canonical import blocks, last_channels
from zoocheck.families.mobilenet_v3.spec import MobileNetV3Spec


def build_template(spec: MobileNetV3Spec, num_classes: int, *, opset: int, graph_name: str):
    """The canonical ModelProto of ``spec``, initializers declared (name, dtype, shape) without data."""
    try:
        units = blocks(spec)
    except ValueError as exc:
        raise NoCanonicalForm(str(exc)) from None
    b = Builder(opset)

    def act(kind: str, layer: str, x: str) -> str:
        return b.hardswish(f"{layer}.hardswish", x) if kind == "hardswish" else b.relu(f"{layer}.relu", x)

    x = act("hardswish", "stem.conv", b.conv("stem.conv", INPUT_NAME, 3, spec.stem_channels, 3, 2))
    for u in units:
        y = act(u.act, f"{u.prefix}.expand", b.conv(f"{u.prefix}.expand", x, u.cin, u.mid, 1)) if u.expand else x
        y = act(u.act, f"{u.prefix}.depthwise", b.conv(f"{u.prefix}.depthwise", y, u.mid, u.mid, u.kernel, u.stride, groups=u.mid))
        if u.se:
            se = f"{u.prefix}.se"
            gate = b.relu(f"{se}.reduce.relu", b.conv(f"{se}.reduce", b.global_pool(f"{se}.pool", y), u.mid, u.se, 1))
            gate = b.hard_sigmoid(f"{se}.gate", b.conv(f"{se}.expand", gate, u.se, u.mid, 1), spec.se_gate_slope)
            y = b.mul(f"{se}.mul", y, gate)
        y = b.conv(f"{u.prefix}.project", y, u.mid, u.cout, 1)
        x = b.add(f"{u.prefix}.add", x, y) if u.skip else y
    last = last_channels(spec)
    x = b.global_pool("head.pool", act("hardswish", "head.conv", b.conv("head.conv", x, units[-1].cout, last, 1)))
    if spec.head == "conv":
        x = act("hardswish", "head.fc1", b.conv("head.fc1", x, last, spec.head_channels, 1))
    else:
        x = act("hardswish", "head.fc1", b.linear("head.fc1", b.flatten("head.flatten", x), last, spec.head_channels))
    if spec.eval_dropout_scale != 1.0:
        x = b.scale("head.dropout", x, spec.eval_dropout_scale)
    if spec.head == "conv":
        x = b.flatten("head.flatten", x)
    b.linear("fc", x, spec.head_channels, num_classes, OUTPUT_NAME)
    return b.model(graph_name, num_classes)
