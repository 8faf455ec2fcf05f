"""Shape clean-ups: the same tensors with fewer or simpler nodes.

- ``flatten_concats``: a Concat of a Concat's output (GluonCV's DenseNet appends each layer's
  features to its input) takes that Concat's inputs instead (torchvision's form: one Concat of
  every piece per layer);
- ``scalar_constants``: a one-element constant of shape [1] read by elementwise arithmetic
  (paddle2onnx's ``scale``) becomes a scalar;
- ``pin_batch``: the batch fixed at 1 so that onnxslim folds shape arithmetic computed from it;
- ``drop_identity_slices``: a Slice that keeps every element goes;
- ``default_slice_steps``: a Slice's steps input of ones (paddle2onnx writes it) goes;
- ``merge_reshape_chains``: a Reshape of a Reshape becomes one Reshape.
"""

from __future__ import annotations

import numpy as np

from zoocheck.converters.graph.rewrites.onnx_graph import (
    as_array,
    attributes,
    consumers_of,
    drop_unused_initializers,
    initializers_of,
    int_inputs,
    producers_of,
    remove_passing_through,
    static_shapes,
)


def flatten_concats(model) -> None:
    """Every Concat input computed by another Concat on the same axis is replaced by that Concat's
    inputs, in place (nodes are in graph order, so an inner Concat is already flat); a Concat left
    unread goes."""
    graph = model.graph
    producer = producers_of(graph)
    for node in graph.node:
        if node.op_type != "Concat":
            continue
        axis = attributes(node).get("axis")
        inputs = []
        for name in node.input:
            inner = producer.get(name)
            flat = inner is not None and inner.op_type == "Concat" and attributes(inner).get("axis") == axis
            inputs.extend(inner.input if flat else [name])
        node.input[:] = inputs
    read = {name for node in graph.node for name in node.input} | {out.name for out in graph.output}
    for node in [n for n in graph.node if n.op_type == "Concat" and n.output[0] not in read]:
        graph.node.remove(node)


def scalar_constants(model) -> None:
    """A one-element constant of shape [1] (or [1, 1, ...]) read by an elementwise Mul, Add, Sub or
    Div of a tensor (paddle2onnx's ``scale``: the dropout's evaluation factor) becomes a scalar,
    in place: broadcasting gives the same result, and the canonical graph holds scalars."""
    graph = model.graph
    inits = initializers_of(model)
    for node in [n for n in graph.node if n.op_type in ("Mul", "Add", "Sub", "Div")]:
        for position, name in enumerate(node.input):
            tensor = inits.get(name)
            other = node.input[1 - position] if len(node.input) == 2 else None
            if tensor is None or not tensor.dims or int(np.prod(tensor.dims)) != 1 or other is None or other in inits:
                continue
            scalar = f"{name}.scalar"
            if scalar not in inits:  # not replace_initializer: ascontiguousarray makes a scalar 1-D
                from onnx import numpy_helper

                inits[scalar] = numpy_helper.from_array(as_array(tensor).reshape(()), scalar)
                graph.initializer.append(inits[scalar])
            node.input[position] = scalar
    drop_unused_initializers(model)


def pin_batch(model) -> None:
    """The input's and output's batch dimension fixed at 1 and the inferred shapes dropped, in
    place, so that onnxslim can fold the shape arithmetic an exporter computed from the batch size
    (timm's Swin: its padding to whole windows, ``reshape(B, -1, C)``). The canonical graph is the
    template's, whose shapes say -1 for the batch; only the values of this graph are kept."""
    for value in (model.graph.input[0], *model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].Clear()
            dims[0].dim_value = 1
    del model.graph.value_info[:]


def drop_identity_slices(model) -> None:
    """A Slice that keeps every element of its input (start 0, end past the size, step 1 on each
    axis it names: torchvision's Swin's ``x[:, :H, :W]`` after its windows) goes, in place."""
    graph = model.graph
    inits = initializers_of(model)
    outputs = {o.name for o in graph.output}
    slices = [n for n in graph.node if n.op_type == "Slice" and len(n.input) >= 4 and n.output[0] not in outputs]
    shapes = static_shapes(model) if slices else {}
    for node in slices:
        values, shape = int_inputs(node, inits), shapes.get(node.input[0])
        if values is None or not shape:
            continue
        starts, ends, axes = values[:3]
        steps = values[3] if len(values) > 3 else [1] * len(axes)
        sizes = [shape[a] for a in axes]
        if all(isinstance(n, int) and s == 0 and e >= n and t == 1 for n, s, e, t in zip(sizes, starts, ends, steps)):
            remove_passing_through(graph, node)
    drop_unused_initializers(model)


def default_slice_steps(model) -> None:
    """A Slice whose steps input is all ones (ONNX's default; paddle2onnx writes it, torch.onnx
    does not) loses that input, in place: the same slice in the templates' form."""
    inits = initializers_of(model)
    for node in model.graph.node:
        if node.op_type == "Slice" and len(node.input) == 5 and node.input[4] in inits and (as_array(inits[node.input[4]]) == 1).all():
            del node.input[4]
    drop_unused_initializers(model)


def merge_reshape_chains(model) -> None:
    """A Reshape of a Reshape that nothing else reads becomes one Reshape to the second's shape,
    in place (timm's window partition of a map that is one window: [B, 1, w, 1, w, C] then
    [-1, w * w, C]); a reshape keeps the element order, so only the last shape counts."""
    graph = model.graph
    inits = initializers_of(model)
    producer = producers_of(graph)
    consumers = consumers_of(graph)
    outputs = {o.name for o in graph.output}
    for node in [n for n in graph.node if n.op_type == "Reshape" and n.input[1] in inits]:
        first = producer.get(node.input[0])
        if first is None or first.op_type != "Reshape" or len(consumers[first.output[0]]) != 1 or first.output[0] in outputs:
            continue
        if 0 in as_array(inits[node.input[1]]).tolist() and not attributes(node).get("allowzero", 0):  # 0 copies the input's size
            continue
        node.input[0] = first.input[0]
        graph.node.remove(first)
    drop_unused_initializers(model)
