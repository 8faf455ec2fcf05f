"""Padding made explicit and constant:

- ``explicit_pads``: pooling/convolution ``auto_pad`` replaced by explicit pads (every file zoocheck
  writes: onnx's ReferenceEvaluator and onnx2torch refuse PaddleClas's ``SAME_UPPER`` + ``ceil_mode``);
- ``static_pads``: TF "same" padding computed at run time from tensor shapes (timm's ``tf_``
  EfficientNets, mmcv) given as constants computed at the graph's static sizes.
"""

from __future__ import annotations

import math

import numpy as np

from zoocheck.converters.graph.rewrites.onnx_graph import (
    CEIL_MODE_OPSET,
    as_str,
    attributes,
    consumers_of,
    opset_of,
    producers_of,
    set_attributes,
    spatial_shapes,
    static_shapes,
)


def explicit_pads(model) -> None:
    """Replace ``auto_pad`` on Conv / MaxPool / AveragePool by explicit pads, in place.

    ``VALID`` is pads 0. A 2x2/2 exclusive average pool with ``SAME_UPPER`` (PaddleClas's vd
    shortcut) is ``ceil_mode=1`` with pads 0 at every input size: both give ceil(n / 2) outputs
    and average a last odd row alone; below opset 10, which has no ``ceil_mode``, it is one
    excluded end pad, which computes the same. Anything else is computed from the static input size.
    """
    has_ceil_mode = opset_of(model) >= CEIL_MODE_OPSET
    nodes = [
        n
        for n in model.graph.node
        if n.op_type in ("Conv", "MaxPool", "AveragePool") and as_str(attributes(n).get("auto_pad", "NOTSET")) != "NOTSET"
    ]
    shapes = None
    for node in nodes:
        attrs = attributes(node)
        mode = as_str(attrs["auto_pad"])
        kernel = list(attrs.get("kernel_shape") or [])
        strides = list(attrs.get("strides") or [1] * len(kernel))
        if not kernel:  # Conv: from the weight's shape
            weight = next(t for t in model.graph.initializer if t.name == node.input[1])
            kernel = list(weight.dims[2:])
            strides = list(attrs.get("strides") or [1] * len(kernel))
        if mode == "VALID":
            set_attributes(node, auto_pad=None, pads=[0] * (2 * len(kernel)))
            continue
        exclusive = node.op_type == "AveragePool" and not attrs.get("count_include_pad", 0)
        if (
            node.op_type == "AveragePool"
            and mode == "SAME_UPPER"
            and exclusive
            and kernel == [2, 2]
            and strides == [2, 2]
            and not attrs.get("dilations")
        ):
            if has_ceil_mode:
                set_attributes(node, auto_pad=None, pads=[0, 0, 0, 0], ceil_mode=1)
            else:
                set_attributes(node, auto_pad=None, pads=[0, 0, 1, 1])
            continue
        if shapes is None:
            shapes = spatial_shapes(model)
        size = shapes.get(node.input[0])
        if size is None:
            raise ValueError(f"node {node.name or node.op_type}: auto_pad={mode} on an input of unknown size cannot be made explicit")
        dilations = list(attrs.get("dilations") or [1] * len(kernel))
        begins, ends = [], []
        for n, k, s, d in zip(size, kernel, strides, dilations):
            total = max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
            small, large = total // 2, total - total // 2
            begins.append(small if mode == "SAME_UPPER" else large)
            ends.append(large if mode == "SAME_UPPER" else small)
        # SAME fixes the output at ceil(n / s): ceil_mode, which ONNX ignores with auto_pad, must go
        set_attributes(node, auto_pad=None, pads=begins + ends, ceil_mode=0 if node.op_type != "Conv" and has_ceil_mode else None)


#: what TF "same" padding pads for
_PADDED_OPS = ("Conv", "MaxPool", "AveragePool")


def static_pads(model) -> None:
    """Every Pad before a convolution or pooling whose amounts are computed at run time from tensor
    shapes (timm's ``tf_`` and mmcv's TF "same" padding: Shape, Gather, Ceil, Cast ... chains) gets
    them as an initializer, computed at the graph's static spatial sizes, in place; the chains are
    left for onnxslim to drop, and a Pad of constant amounts before a Conv is then folded into the
    Conv's pads by onnxslim. Other Pads (timm's Swin's padding to whole windows, zero at the sizes
    it is built for) are left to ``pin_batch`` and onnxslim.

    The same function at the exported input size (the only one such an export computes TF's
    padding for as it stands); ValueError where an amount depends on a symbolic size, on the batch
    size or on tensor values. onnxslim's own folding of these chains is not used: on mmcv's
    (``math.ceil`` of a traced size, a constant in the export) it computed wrong pads."""
    from onnx import numpy_helper

    graph = model.graph
    producer = producers_of(graph)
    initializer_names = {t.name for t in graph.initializer}
    constant_names = initializer_names | {n.output[0] for n in graph.node if n.op_type == "Constant"}
    readers = consumers_of(graph)
    pending = [
        n
        for n in graph.node
        if n.op_type == "Pad"
        and len(n.input) > 1
        and n.input[1]
        and n.input[1] not in constant_names
        and any(r.op_type in _PADDED_OPS for r in readers.get(n.output[0], []))
    ]
    while pending:
        shapes = static_shapes(model)
        ready = [pad for pad in pending if _pads_chain(pad.input[1], producer, initializer_names, shapes) is not None]
        if not ready:
            pad = pending[0]
            raise ValueError(
                f"Pad {pad.name or pad.output[0]}: its amounts depend on the size of a tensor whose size is not static "
                "(a symbolic input size: export at the entry's input size, or use --graph native)"
            )
        for pad in ready:
            chain = _pads_chain(pad.input[1], producer, initializer_names, shapes)
            values = {_evaluate_pads(model, pad.input[1], chain, shapes, batch) for batch in (1, 2)}
            if len(values) != 1:
                raise ValueError(f"Pad {pad.name or pad.output[0]}: its amounts depend on the batch size")
            name = f"{pad.name or pad.output[0]}.static_pads"
            graph.initializer.append(numpy_helper.from_array(np.array(values.pop(), dtype=np.int64), name))
            pad.input[1] = name
            initializer_names.add(name)
            pending.remove(pad)


def _pads_chain(name: str, producer: dict, initializers: set[str], shapes: dict) -> list | None:
    """The nodes computing ``name`` from constants and the shapes of other tensors; None where a
    Shape reads a tensor whose sizes (but the batch) are not static yet. ValueError where the
    values of a graph input flow in."""
    chain, stack, seen = [], [name], set()
    while stack:
        tensor = stack.pop()
        if tensor in seen or tensor in initializers or not tensor:
            continue
        seen.add(tensor)
        node = producer.get(tensor)
        if node is None:  # a graph input's values
            raise ValueError(f"the pad amounts {name} depend on the values of {tensor}, not only on shapes")
        chain.append(node)
        if node.op_type == "Shape":
            shape = shapes.get(node.input[0])
            if shape is None or any(not isinstance(d, int) for d in shape[1:]):
                return None
            continue
        stack.extend(node.input)
    return chain


def _evaluate_pads(model, name: str, chain: list, shapes: dict, batch: int) -> tuple[int, ...]:
    """``name``'s value: ``chain`` run by onnx's reference evaluator, each Shape a constant of its
    input's static shape (a symbolic batch dimension set to ``batch``)."""
    import onnx
    from onnx import helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    order = {id(n): i for i, n in enumerate(model.graph.node)}
    nodes = []
    for node in sorted(chain, key=lambda n: order[id(n)]):
        if node.op_type == "Shape":
            shape = [d if isinstance(d, int) else batch for d in shapes[node.input[0]]]
            attrs = attributes(node)
            shape = shape[attrs.get("start", 0) : attrs.get("end", len(shape))]
            value = numpy_helper.from_array(np.array(shape, dtype=np.int64))
            nodes.append(helper.make_node("Constant", [], [node.output[0]], value=value))
        else:
            nodes.append(node)
    produced = {out for node in nodes for out in node.output}
    needed = {i for node in nodes for i in node.input if i and i not in produced}
    inits = [t for t in model.graph.initializer if t.name in needed]
    graph = helper.make_graph(nodes, "pads", [], [helper.make_tensor_value_info(name, onnx.TensorProto.INT64, None)], inits)
    sub = helper.make_model(graph, opset_imports=list(model.opset_import), ir_version=model.ir_version)
    return tuple(int(v) for v in ReferenceEvaluator(sub).run(None, {})[0])
