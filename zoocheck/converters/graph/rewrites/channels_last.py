"""ConvNeXt (``families/convnext/template.py``'s form): channels-last MLPs, layer scale and
per-channel constants.

- ``pointwise_convs_as_matmul``: timm's ``conv_mlp`` 1x1 convolutions computed channels last as
  ``MatMul`` + ``Add``;
- ``layer_scale_before_transpose``: a layer scale after the transpose back to NCHW moved before it;
- ``channels_last_constants``: a [1, 1, 1, C] constant (timm's GRN) as [C];
- ``pooled_norm_transpose_back``: the head norm's transpose back to NCHW that onnxslim made a Reshape.
"""

from __future__ import annotations

import numpy as np

from zoocheck.converters.graph.rewrites.onnx_graph import (
    as_array,
    attributes,
    consumers_of,
    drop_unused_initializers,
    initializers_of,
    opset_of,
    producers_of,
    replace_nodes,
    set_attributes,
    spatial_shapes,
    tensor_ranks,
)

#: an NCHW axis -> the same axis of the NHWC tensor (channels as -1, the form exporters write)
_NHWC_AXIS = {0: 0, 1: -1, 2: 1, 3: 2}
_ELEMENTWISE = ("Add", "Sub", "Mul", "Div", "Erf", "Sqrt", "Pow", "Relu", "Tanh", "Sigmoid")
_REDUCES = ("ReduceL2", "ReduceMean", "ReduceSum")


def _channel_vector(tensor) -> np.ndarray | None:
    """A per-channel constant of an NCHW tensor ([C, 1, 1] or [1, C, 1, 1]) as [C]; None otherwise."""
    dims = list(tensor.dims)
    if len(dims) in (3, 4) and dims[-2:] == [1, 1] and (len(dims) == 3 or dims[0] == 1):
        return as_array(tensor).reshape(-1)
    return None


def _layer_norm(node, producer: dict, inits: dict) -> tuple[str, str] | None:
    """(the normalised input, the weight) of a LayerNorm ending in ``node``: ONNX's
    ``LayerNormalization`` (opset 17 on), or below it the decomposition torch.onnx writes and the
    template states (``converters/graph/template.py``), ``Add(Mul(Div(Sub(x, ReduceMean(x)), ..),
    weight), bias)``; None for any other node."""
    if node is None:
        return None
    if node.op_type == "LayerNormalization":
        return node.input[0], node.input[1]
    if node.op_type != "Add":
        return None
    scaled = next((producer[i] for i in node.input if i in producer and producer[i].op_type == "Mul"), None)
    if scaled is None:
        return None
    weight = next((i for i in scaled.input if i in inits), None)
    normalised = next((producer[i] for i in scaled.input if i in producer and producer[i].op_type == "Div"), None)
    centred = producer.get(normalised.input[0]) if normalised is not None else None
    mean = producer.get(centred.input[1]) if centred is not None and centred.op_type == "Sub" else None
    if weight is None or mean is None or mean.op_type != "ReduceMean" or mean.input[0] != centred.input[0]:
        return None
    return centred.input[0], weight


def _is_pointwise_conv(node, lifted: dict[str, np.ndarray], inits: dict) -> bool:
    if node.op_type != "Conv" or node.input[1] not in set(lifted) | set(inits):
        return False
    shape = lifted[node.input[1]].shape if node.input[1] in lifted else tuple(inits[node.input[1]].dims)
    a = attributes(node)
    return (
        shape[2:] == (1, 1)
        and a.get("group", 1) == 1
        and list(a.get("strides", [1, 1])) == [1, 1]
        and not any(a.get("pads", [0] * 4))
        and list(a.get("dilations", [1, 1])) == [1, 1]
    )


def pointwise_convs_as_matmul(model, lifted: dict[str, np.ndarray]) -> None:
    """An MLP of 1x1 convolutions after a channels-last LayerNorm's transpose back to NCHW (timm's
    ConvNeXt ``conv_mlp``: LayerNorm2d, 1x1 conv, GELU, [GRN,] 1x1 conv, layer scale) computed
    channels last instead, in place: the transpose goes, each 1x1 convolution becomes ``MatMul``
    by its weight [in, out] + ``Add`` of its bias, a per-channel constant [1, C, 1, 1] becomes [C],
    a Reduce's axes are those of the NHWC tensor (channels -1); where the MLP's result leaves for
    another node (the residual addition) one Transpose back to NCHW is put. The ops in between
    (GELU's Erf chain, GRN's arithmetic) are per pixel and per channel, so they compute the same
    numbers on the transposed tensor."""
    import onnx
    from onnx import numpy_helper

    graph = model.graph
    inits = initializers_of(model)
    producer = producers_of(graph)
    consumers = consumers_of(graph)
    opset = opset_of(model)
    for transpose in [n for n in graph.node if n.op_type == "Transpose" and list(attributes(n).get("perm", [])) == [0, 3, 1, 2]]:
        source = producer.get(transpose.input[0])
        users = consumers.get(transpose.output[0], [])
        if _layer_norm(source, producer, inits) is None or not users or not all(_is_pointwise_conv(u, lifted, inits) for u in users):
            continue
        inside = {transpose.output[0]}
        region = []
        for node in graph.node:
            data = [name for name in node.input if name and name not in inits]
            if not data or not all(name in inside for name in data):
                continue
            if not (_is_pointwise_conv(node, lifted, inits) or node.op_type in _ELEMENTWISE + _REDUCES):
                continue
            region.append(node)
            inside.update(node.output)
        region_ids = {id(n) for n in region}
        renamed = {transpose.output[0]: transpose.input[0]}
        renamed.update({out: f"{out}.nhwc" for n in region for out in n.output})
        exits = {out for n in graph.node if id(n) not in region_ids for out in n.input if out in inside and out != transpose.output[0]}
        exits |= {o.name for o in graph.output if o.name in inside}
        rebuilt = []
        for node in list(graph.node):
            if node is transpose:
                continue
            if id(node) not in region_ids:
                rebuilt.append(node)
                continue
            outputs, inputs = list(node.output), [renamed.get(name, name) for name in node.input]
            if node.op_type == "Conv":
                weight = lifted.pop(node.input[1]) if node.input[1] in lifted else as_array(inits[node.input[1]])
                matrix = f"{node.input[1]}.matmul"
                graph.initializer.append(
                    numpy_helper.from_array(np.ascontiguousarray(weight.reshape(weight.shape[0], -1).T, dtype=np.float32), matrix)
                )
                has_bias = len(inputs) > 2 and bool(inputs[2])
                product = renamed[outputs[0]] if not has_bias else f"{outputs[0]}.matmul"
                rebuilt.append(
                    onnx.helper.make_node("MatMul", [inputs[0], matrix], [product], name=f"{node.name}.matmul" if has_bias else node.name)
                )
                if has_bias:
                    rebuilt.append(onnx.helper.make_node("Add", [product, inputs[2]], [renamed[outputs[0]]], name=node.name))
            else:
                for position, name in enumerate(node.input):
                    vector = _channel_vector(inits[name]) if name in inits else None
                    if vector is not None:
                        inputs[position] = f"{name}.channels_last"
                        if inputs[position] not in inits:
                            inits[inputs[position]] = numpy_helper.from_array(vector, inputs[position])
                            graph.initializer.append(inits[inputs[position]])
                if node.op_type in _REDUCES:
                    axes = attributes(node).get("axes")
                    if axes is None and len(node.input) > 1:
                        axes = as_array(inits[node.input[1]]).tolist()
                    mapped = [_NHWC_AXIS[a % 4] for a in axes]
                    if opset >= 18:
                        inputs[1] = f"{node.input[1]}.nhwc"
                        graph.initializer.append(numpy_helper.from_array(np.array(mapped, np.int64), inputs[1]))
                    else:
                        set_attributes(node, axes=mapped)
                node.input[:] = inputs
                node.output[:] = [renamed[out] for out in outputs]
                rebuilt.append(node)
            rebuilt.extend(
                onnx.helper.make_node("Transpose", [renamed[out]], [out], name=f"{out}.to_nchw", perm=[0, 3, 1, 2])
                for out in outputs
                if out in exits
            )
        del graph.node[:]
        graph.node.extend(rebuilt)
        return pointwise_convs_as_matmul(model, lifted)  # the graph changed: look again from the start
    drop_unused_initializers(model)


def layer_scale_before_transpose(model) -> None:
    """A transpose from NHWC to NCHW whose only reader multiplies it by a per-channel constant
    ([C, 1, 1]: torchvision's layer scale; [1, C, 1, 1]: timm's and mmpretrain's ``gamma``) becomes
    the multiplication by [C] on the NHWC tensor, then the transpose (the official ConvNeXt's and
    PaddleClas's order), in place."""
    import onnx
    from onnx import numpy_helper

    graph = model.graph
    inits = initializers_of(model)
    consumers = consumers_of(graph)
    for transpose in [n for n in graph.node if n.op_type == "Transpose" and list(attributes(n).get("perm", [])) == [0, 3, 1, 2]]:
        users = consumers.get(transpose.output[0], [])
        if len(users) != 1 or users[0].op_type != "Mul":
            continue
        mul = users[0]
        constant = next((name for name in mul.input if name in inits), None)
        vector = _channel_vector(inits[constant]) if constant is not None else None
        if vector is None:
            continue
        name = f"{constant}.channels_last"
        if name not in inits:
            inits[name] = numpy_helper.from_array(np.ascontiguousarray(vector), name)
            graph.initializer.append(inits[name])
        scaled = f"{mul.output[0]}.nhwc"
        added = [
            onnx.helper.make_node("Mul", [transpose.input[0], name], [scaled], name=mul.name),
            onnx.helper.make_node("Transpose", [scaled], [mul.output[0]], name=transpose.name, perm=[0, 3, 1, 2]),
        ]
        replace_nodes(graph, [transpose, mul], added, transpose)
    drop_unused_initializers(model)


def channels_last_constants(model) -> None:
    """A constant [1, 1, 1, C] added to or multiplying a 4-d tensor (timm's GRN ``weight.view(1, 1,
    1, -1)``) becomes [C], in place: broadcasting gives the same result."""
    from onnx import numpy_helper

    graph = model.graph
    inits = initializers_of(model)
    nodes = [
        n
        for n in graph.node
        if n.op_type in ("Mul", "Add")
        and any(name in inits and len(inits[name].dims) == 4 and list(inits[name].dims[:3]) == [1, 1, 1] for name in n.input)
    ]
    ranks = tensor_ranks(model) if nodes else {}
    for node in nodes:
        for position, name in enumerate(node.input):
            other = node.input[1 - position]
            if name in inits and len(inits[name].dims) == 4 and list(inits[name].dims[:3]) == [1, 1, 1] and ranks.get(other) == 4:
                vector = f"{name}.vector"
                if vector not in inits:
                    inits[vector] = numpy_helper.from_array(as_array(inits[name]).reshape(-1), vector)
                    graph.initializer.append(inits[vector])
                node.input[position] = vector
    drop_unused_initializers(model)


def pooled_norm_transpose_back(model) -> None:
    """A channels-last LayerNorm of a one-pixel map ([N, 1, 1, C]) read back to NCHW by a
    ``Reshape`` to [N or -1 or 0, C, 1, 1] becomes the ``Transpose(0, 3, 1, 2)`` it is, in place:
    onnxslim writes a Transpose that moves only size-1 axes beside a Reshape as a Reshape
    (paddle2onnx's flatten after PaddleClas's ConvNeXt head norm), the template states it."""
    import onnx

    inits = initializers_of(model)
    producer = producers_of(model.graph)
    candidates = []
    for node in model.graph.node:
        norm = _layer_norm(producer.get(node.input[0]), producer, inits) if node.op_type == "Reshape" else None
        into = producer.get(norm[0]) if norm is not None else None
        if into is None or into.op_type != "Transpose" or list(attributes(into).get("perm", [])) != [0, 2, 3, 1]:
            continue
        if node.input[1] not in inits or norm[1] not in inits:
            continue
        target, channels = as_array(inits[node.input[1]]).tolist(), int(np.prod(inits[norm[1]].dims))
        if len(target) == 4 and target[0] in (-1, 0) and target[1:] == [channels, 1, 1]:
            candidates.append((node, into))
    shapes = spatial_shapes(model) if candidates else {}
    for node, into in candidates:
        if shapes.get(into.input[0]) == [1, 1]:
            transpose = onnx.helper.make_node("Transpose", [node.input[0]], list(node.output), name=node.name, perm=[0, 3, 1, 2])
            replace_nodes(model.graph, [node], [transpose], node)
    drop_unused_initializers(model)
