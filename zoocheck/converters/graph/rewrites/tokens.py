"""A ViT's tokens in one form (``families/vit/template.py``):

- ``class_tokens_as_pad``: the class (and distillation) tokens concatenated to the batch's
  patches become a Pad and one constant table;
- ``layer_norm_last_axis``: paddle2onnx's LayerNorm ``axis=2`` of [N, T, C] as ``axis=-1``;
- ``token_slice_as_gather``: paddle2onnx's ``x[:, 0]`` as ``Gather``;
- ``halving_as_mul``: paddle2onnx's ``Div(x, 2)`` as ``Mul(x, 0.5)``.
"""

from __future__ import annotations

import numpy as np

from zoocheck.converters.graph.rewrites.onnx_graph import (
    as_array,
    attributes,
    consumers_of,
    drop_dead_nodes,
    drop_unused_initializers,
    initializers_of,
    producers_of,
    replace_initializer,
    set_attributes,
    static_shapes,
)


def class_tokens_as_pad(model) -> None:
    """A ViT's class (and distillation) tokens in one form, in place: ``Concat(Expand(cls, [N, -1,
    -1]), .., x)`` on the token axis, then ``Add`` of the position embedding (or the embedding added
    to the patches before it, DeiT-III), becomes ``Pad`` (that many zero tokens in front of x) +
    ``Add`` of one constant table: the position embedding with each token added to its row (or the
    tokens in their rows and zeros). The same numbers bit for bit (0 + a = a, and the sum of a
    token and its position is the one float32 addition the exporter's graph makes), without the
    Shape chain that expands the tokens to the batch size."""
    import onnx
    import onnx.numpy_helper

    graph = model.graph
    inits = initializers_of(model)
    producer = producers_of(graph)
    consumers = consumers_of(graph)
    for concat in [n for n in graph.node if n.op_type == "Concat" and attributes(n).get("axis") == 1 and len(n.input) >= 2]:
        expands = [producer.get(name) for name in concat.input[:-1]]
        if not all(e is not None and e.op_type == "Expand" and e.input[0] in inits and len(inits[e.input[0]].dims) == 3 for e in expands):
            continue
        tokens = [as_array(inits[e.input[0]]) for e in expands]
        users = consumers.get(concat.output[0], [])
        add = users[0] if len(users) == 1 and users[0].op_type == "Add" else None
        pos_name = next((name for name in add.input if name in inits), None) if add is not None else None
        if pos_name is not None:  # Concat, then the position embedding of every token
            table, output, removed = as_array(inits[pos_name]).copy(), add.output[0], [concat, add]
            for row, token in enumerate(tokens):
                table[:, row] = table[:, row] + token[:, 0]
        else:  # the tokens after the position embedding: their own values in their rows
            width = tokens[0].shape[-1]
            count = static_shapes(model).get(concat.output[0], [None, None])[1]
            if not isinstance(count, int):
                continue
            table = np.zeros((1, count, width), np.float32)
            for row, token in enumerate(tokens):
                table[:, row] = token[:, 0]
            output, removed = concat.output[0], [concat]
        name = f"{concat.name or concat.output[0]}.token_table"
        replace_initializer(model, name, table.astype(np.float32))
        pads = f"{name}.pads"
        graph.initializer.append(onnx.numpy_helper.from_array(np.array([0, len(tokens), 0, 0, 0, 0], np.int64), pads))
        position = list(graph.node).index(concat)
        padded = f"{name}.padded"
        new = [
            onnx.helper.make_node("Pad", [concat.input[-1], pads], [padded], name=f"{name}.pad", mode="constant"),
            onnx.helper.make_node("Add", [padded, name], [output], name=f"{name}.add"),
        ]
        for node in removed:
            graph.node.remove(node)
        for offset, node in enumerate(new):
            graph.node.insert(position + offset, node)
    drop_dead_nodes(graph)
    drop_unused_initializers(model)


def layer_norm_last_axis(model) -> None:
    """A LayerNormalization over the last axis named by its positive index (paddle2onnx's
    ``axis=2`` of [N, T, C]) says ``axis=-1``, as torch.onnx writes it, in place: the same op."""
    norms = [n for n in model.graph.node if n.op_type == "LayerNormalization" and attributes(n).get("axis", -1) >= 0]
    if not norms:
        return
    shapes = static_shapes(model)
    for node in norms:
        rank = len(shapes.get(node.input[0], []))
        if rank and attributes(node)["axis"] == rank - 1:
            set_attributes(node, axis=-1)


def token_slice_as_gather(model) -> None:
    """``Slice`` of one index on an axis then ``Squeeze`` of that axis (paddle2onnx's ``x[:, 0]``)
    becomes ``Gather(axis, index)`` (torch.onnx's form), in place: the same tensor."""
    import onnx
    import onnx.numpy_helper

    graph = model.graph
    inits = initializers_of(model)
    consumers = consumers_of(graph)
    for node in [n for n in graph.node if n.op_type == "Slice" and len(n.input) >= 4 and all(i in inits for i in n.input[1:])]:
        starts, ends, axes = (as_array(inits[i]).tolist() for i in node.input[1:4])
        steps = as_array(inits[node.input[4]]).tolist() if len(node.input) > 4 else [1]
        users = consumers.get(node.output[0], [])
        squeeze = (
            users[0]
            if len(users) == 1 and users[0].op_type == "Squeeze" and len(users[0].input) == 2 and users[0].input[1] in inits
            else None
        )
        if (
            squeeze is None
            or len(axes) != 1
            or steps != [1]
            or ends[0] != starts[0] + 1
            or starts[0] < 0
            or as_array(inits[squeeze.input[1]]).tolist() != axes
        ):
            continue
        index = f"{node.name or node.output[0]}.index"
        graph.initializer.append(onnx.numpy_helper.from_array(np.array(starts[0], np.int64), index))
        position = list(graph.node).index(node)
        graph.node.remove(node)
        graph.node.remove(squeeze)
        graph.node.insert(
            position,
            onnx.helper.make_node("Gather", [node.input[0], index], [squeeze.output[0]], name=squeeze.name or node.name, axis=axes[0]),
        )
    drop_unused_initializers(model)


def halving_as_mul(model) -> None:
    """``Div(x, 2)`` becomes ``Mul(x, 0.5)`` (paddle2onnx's form of DeiT's mean of two heads), in
    place: halving is exact either way in binary floating point."""
    import onnx.numpy_helper

    inits = initializers_of(model)
    for node in [n for n in model.graph.node if n.op_type == "Div" and n.input[1] in inits]:
        value = as_array(inits[node.input[1]])
        if value.size == 1 and float(value.reshape(())) == 2.0 and node.input[0] not in inits:
            half = f"{node.input[1]}.half"
            if half not in inits:
                inits[half] = onnx.numpy_helper.from_array(np.array(0.5, value.dtype), half)
                model.graph.initializer.append(inits[half])
            node.op_type, node.input[1] = "Mul", half
    drop_unused_initializers(model)
