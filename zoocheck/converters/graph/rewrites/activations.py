"""ReLU6-based activations in one form whatever the exporter wrote (docs/architecture.md,
"Activations"), each exact:

- ``hard_sigmoid_from_clip``: GluonCV's clip(x + 3, 0, 6) / 6 (and x times it) as ``HardSigmoid``;
- ``hardswish_op``: Mul(x, HardSigmoid(x)) as ``HardSwish`` from opset 14.
"""

from __future__ import annotations

import numpy as np

from zoocheck.converters.graph.rewrites.onnx_graph import (
    CLIP_INPUTS_OPSET,
    HARDSWISH_OPSET,
    as_array,
    attributes,
    consumers_of,
    drop_unused_initializers,
    initializers_of,
    opset_of,
    replace_nodes,
)

#: hard_sigmoid(x) = clip(x / 6 + 0.5, 0, 1) = relu6(x + 3) / 6: the constants of the second form
_HARD_SIGMOID_SHIFT, _RELU6_MAX = 3.0, 6.0


def _constant(inits: dict, name: str) -> float | None:
    """The value of a one-element float initializer ``name``; None for anything else."""
    tensor = inits.get(name)
    if tensor is None or int(np.prod(tensor.dims)) != 1 or tensor.data_type != 1:  # 1: FLOAT
        return None
    return float(as_array(tensor).reshape(()))


def _is(value: float | None, expected: float) -> bool:
    """``value`` is ``expected`` as float32 holds it (exporters write float32 constants)."""
    return value is not None and value == float(np.float32(expected))


def _operand_and_constant(node, inits: dict) -> tuple[str, float] | None:
    """(the non-constant input, the constant) of a binary node with one one-element constant input."""
    if len(node.input) != 2:
        return None
    a, b = node.input
    if _constant(inits, b) is not None and _constant(inits, a) is None:
        return a, _constant(inits, b)
    if _constant(inits, a) is not None and _constant(inits, b) is None and node.op_type in ("Add", "Mul"):
        return b, _constant(inits, a)
    return None


def _relu6_of_shifted(model, name: str, producer: dict, inits: dict, consumers: dict) -> tuple[str, list] | None:
    """If ``name`` is ``Clip(Add(x, 3), 0, 6)``, each link read by nothing else: (x, [Clip, Add])."""
    clip = producer.get(name)
    if clip is None or clip.op_type != "Clip" or len(consumers.get(clip.output[0], [])) != 1:
        return None
    if opset_of(model) >= CLIP_INPUTS_OPSET:
        if len(clip.input) != 3 or not (_is(_constant(inits, clip.input[1]), 0.0) and _is(_constant(inits, clip.input[2]), _RELU6_MAX)):
            return None
    else:
        attrs = attributes(clip)
        if not (_is(attrs.get("min"), 0.0) and _is(attrs.get("max"), _RELU6_MAX)):
            return None
    add = producer.get(clip.input[0])
    shifted = _operand_and_constant(add, inits) if add is not None and add.op_type == "Add" else None
    if shifted is None or not _is(shifted[1], _HARD_SIGMOID_SHIFT) or len(consumers.get(add.output[0], [])) != 1:
        return None
    return shifted[0], [clip, add]


def _divides_by_six(node, inits: dict) -> str | None:
    """The dividend of ``Div(y, 6)`` or ``Mul(y, 1/6)``; None for any other node."""
    operand = _operand_and_constant(node, inits) if node.op_type in ("Div", "Mul") else None
    if operand is None:
        return None
    y, value = operand
    return y if (node.op_type == "Div" and _is(value, _RELU6_MAX)) or (node.op_type == "Mul" and _is(value, 1 / _RELU6_MAX)) else None


def hard_sigmoid_from_clip(model) -> None:
    """``Div(Clip(Add(x, 3), 0, 6), 6)`` or ``Mul(.., 1/6)`` (GluonCV's hard sigmoid, mxnet.onnx)
    becomes ``HardSigmoid(x, alpha=1/6, beta=0.5)``, and the hardswish written as
    ``Div(Mul(x, Clip(Add(x, 3), 0, 6)), 6)`` (or ``Mul(.., 1/6)``) becomes ``Mul(x,
    HardSigmoid(x))``, in place. Only these constants, as float32 holds them, and only where no
    other node reads an intermediate: the same function."""
    import onnx

    graph = model.graph
    inits = initializers_of(model)
    for node in list(graph.node):
        y = _divides_by_six(node, inits)
        if y is None:
            continue
        # built for each candidate only (a rewrite changes them): built for every node, they made
        # this pass quadratic, 0.1-0.2 s for a ResNeXt-101's 248 nodes, which hold no hard sigmoid
        producer = {out: n for n in graph.node for out in n.output}
        consumers = consumers_of(graph)
        relu6 = _relu6_of_shifted(model, y, producer, inits, consumers)
        if relu6 is not None:  # the hard sigmoid itself
            gate = onnx.helper.make_node("HardSigmoid", [relu6[0]], [node.output[0]], name=node.name, alpha=1 / _RELU6_MAX, beta=0.5)
            replace_nodes(graph, [node, *relu6[1]], [gate], node)
            continue
        product = producer.get(y)
        if product is None or product.op_type != "Mul" or len(consumers.get(product.output[0], [])) != 1:
            continue
        for x, other in (product.input, reversed(product.input)):
            relu6 = _relu6_of_shifted(model, other, producer, inits, consumers)
            if relu6 is not None and relu6[0] == x:
                gate_name = f"{node.name or node.output[0]}.gate"
                gate = onnx.helper.make_node("HardSigmoid", [x], [gate_name], name=gate_name, alpha=1 / _RELU6_MAX, beta=0.5)
                mul = onnx.helper.make_node("Mul", [x, gate_name], [node.output[0]], name=node.name)
                replace_nodes(graph, [node, product, *relu6[1]], [gate, mul], node)
                break
    drop_unused_initializers(model)


def _is_hardswish_gate(node, x: str) -> bool:
    attrs = {"alpha": float(np.float32(0.2)), "beta": 0.5, **attributes(node)}
    return node.op_type == "HardSigmoid" and list(node.input) == [x] and _is(attrs["alpha"], 1 / _RELU6_MAX) and attrs["beta"] == 0.5


def hardswish_op(model) -> None:
    """From opset 14 on, ``Mul(x, HardSigmoid(x, alpha=1/6, beta=0.5))`` (torch.onnx and
    paddle2onnx below 14, or ``hard_sigmoid_from_clip``'s result) becomes ONNX's ``HardSwish(x)``,
    in place, where nothing else reads the HardSigmoid; below 14 that Mul is the canonical form."""
    import onnx

    if opset_of(model) < HARDSWISH_OPSET:
        return
    graph = model.graph
    producer = {out: n for n in graph.node for out in n.output}
    consumers = consumers_of(graph)
    for node in [n for n in graph.node if n.op_type == "Mul" and len(n.input) == 2]:
        for x, other in (node.input, reversed(node.input)):
            gate = producer.get(other)
            if gate is not None and _is_hardswish_gate(gate, x) and len(consumers.get(gate.output[0], [])) == 1:
                replace_nodes(graph, [node, gate], [onnx.helper.make_node("HardSwish", [x], [node.output[0]], name=node.name)], node)
                break
