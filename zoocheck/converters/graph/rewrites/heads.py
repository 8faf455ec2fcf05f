"""Pools and classifier heads in one form:

- ``flatten_head``: whatever reshapes the pooled features to [N, C] (PaddleClas's
  Shape/Slice/Concat/Reshape, MXNet's two Flattens) becomes one ``Flatten(axis=1)``;
- ``gemm_head``: ``MatMul`` + ``Add`` (PaddleClas) or a ``Gemm`` with an untransposed weight becomes
  ``Gemm(x, W[out, in], b, transB=1)``;
- ``drop_identity_pools``: an average pool of one pixel windows (torchvision's VGG's adaptive pool
  to 7x7 exported on the 7x7 map) goes; an average pool no window of which can reach a pad (pads 0,
  floor mode: DenseNet's transitions) loses its ``count_include_pad``, which changes nothing there;
- ``head_pool_as_global``: an average pool covering its whole input, read by the head's Flatten
  (GluonCV's DenseNet's ``AvgPool2D(7)`` on the 7x7 map), becomes ``GlobalAveragePool``;
- ``drop_flattens_of_matrices``: a Flatten of a Gemm's [N, C] output (MXNet's exporter puts one
  before every Dense layer, GluonCV's VGG's second and third too) goes;
- ``dense_convs_as_gemm``: a classifier computed by convolutions over the whole feature map (timm's
  VGG: a 7x7 convolution on the 7x7 map, then 1x1 convolutions on its one pixel, then a global pool
  of that pixel) becomes ``Flatten`` then ``Gemm`` layers;
- ``pointwise_classifier_as_gemm``: GluonCV's MobileNets' 1x1-conv classifiers as ``Gemm``;
- ``reduce_mean_as_global_pool``: a spatial ``ReduceMean`` keeping its axes (timm's
  squeeze-excitation) as ``GlobalAveragePool``;
- ``flatten_pooled_reshape``: PaddleClas's Reshape of the pooled [N, C, 1, 1] map as ``Flatten``.
"""

from __future__ import annotations

import numpy as np

from zoocheck.converters.graph.rewrites.onnx_graph import (
    as_array,
    attributes,
    consumers_of,
    drop_unused_initializers,
    initializers_of,
    producers_of,
    remove_passing_through,
    replace_initializer,
    replace_nodes,
    set_attributes,
    spatial_shapes,
    static_shapes,
    tensor_ranks,
)

_RESHAPING = ("Flatten", "Reshape", "Squeeze")


def flatten_head(model) -> None:
    """The chain of reshapes after the GlobalAveragePool becomes one Flatten(axis=1), in place.

    Only chains that end in a 2-D tensor [N, C] are rewritten; a Reshape's target must be a
    constant [0 or -1, C] or [N, -1]."""
    import onnx

    graph = model.graph
    inits = initializers_of(model)
    consumers = consumers_of(graph)
    for pool in [n for n in graph.node if n.op_type == "GlobalAveragePool"]:
        chain, tensor = [], pool.output[0]
        while len(consumers.get(tensor, [])) == 1 and consumers[tensor][0].op_type in _RESHAPING:
            node = consumers[tensor][0]
            if node.op_type == "Reshape":
                target = inits.get(node.input[1])
                if target is None or not _is_flat_target(as_array(target)):
                    break
            elif (
                node.op_type == "Flatten"
                and attributes(node).get("axis", 1) != 1
                or node.op_type == "Squeeze"
                and (len(node.input) < 2 or sorted(as_array(inits[node.input[1]]).tolist()) != [2, 3])
            ):
                break
            chain.append(node)
            tensor = node.output[0]
        if not chain or (len(chain) == 1 and chain[0].op_type == "Flatten"):
            continue
        position = list(graph.node).index(chain[0])
        for node in chain:
            graph.node.remove(node)
        graph.node.insert(
            position, onnx.helper.make_node("Flatten", [pool.output[0]], [tensor], name=chain[-1].name or f"{pool.name}.flatten", axis=1)
        )
    drop_unused_initializers(model)


def _is_flat_target(shape: np.ndarray) -> bool:
    shape = shape.tolist()
    return len(shape) == 2 and (shape[0] in (0, -1) or shape[1] == -1)


def gemm_head(model, lifted: dict[str, np.ndarray]) -> None:
    """MatMul(x, W) + Add(b) of a matrix x and Gemm(transB=0) become Gemm(x, W^T, b, transB=1), in
    place (W read from ``lifted`` where lifted: the head's W^T goes back into the graph)."""
    import onnx

    graph = model.graph
    inits = initializers_of(model)
    consumers = consumers_of(graph)
    matmuls = [n for n in graph.node if n.op_type == "MatMul"]
    ranks = tensor_ranks(model) if matmuls else {}
    for node in list(graph.node):
        # a MatMul of a 4-d tensor (ConvNeXt's channels-last MLP) is no Gemm: Gemm takes matrices
        if node.op_type == "MatMul" and node.input[1] in inits and len(inits[node.input[1]].dims) == 2 and ranks.get(node.input[0], 2) == 2:
            users = consumers.get(node.output[0], [])
            add = users[0] if len(users) == 1 and users[0].op_type == "Add" else None
            bias_name = next((n for n in add.input if n in inits), None) if add is not None else None
            weight = lifted.pop(node.input[1]) if node.input[1] in lifted else as_array(inits[node.input[1]])
            if bias_name is None or len(inits[bias_name].dims) != 1:
                # onnxslim removes an Add of zeros: a head whose bias is all zeros is a MatMul alone
                add, bias_name = None, node.input[1] + ".zero_bias"
                replace_initializer(model, bias_name, np.zeros(weight.shape[1], np.float32))
            replace_initializer(model, node.input[1] + ".t", weight.T)
            output, name = (add.output[0], add.name or node.name) if add is not None else (node.output[0], node.name)
            gemm = onnx.helper.make_node(
                "Gemm", [node.input[0], node.input[1] + ".t", bias_name], [output], name=name, alpha=1.0, beta=1.0, transB=1
            )
            position = list(graph.node).index(node)
            graph.node.remove(node)
            if add is not None:
                graph.node.remove(add)
            graph.node.insert(position, gemm)
        elif (
            node.op_type == "Gemm"
            and node.input[1] in inits
            and not attributes(node).get("transB", 0)
            and not attributes(node).get("transA", 0)
        ):
            weight = as_array(inits[node.input[1]])
            replace_initializer(model, node.input[1] + ".t", weight.T)
            node.input[1] = node.input[1] + ".t"
            set_attributes(node, transB=1)
    drop_unused_initializers(model)


def drop_identity_pools(model) -> None:
    """Every AveragePool / MaxPool of 1x1 windows at stride 1 without padding is removed, and an
    AveragePool without padding in floor mode loses ``count_include_pad``, in place."""
    graph = model.graph
    graph_outputs = {out.name for out in graph.output}
    for node in [n for n in graph.node if n.op_type in ("AveragePool", "MaxPool")]:
        attrs = attributes(node)
        if node.op_type == "AveragePool" and not any(attrs.get("pads") or []) and not attrs.get("ceil_mode", 0) and "auto_pad" not in attrs:
            set_attributes(node, count_include_pad=None)
        identity = (
            list(attrs.get("kernel_shape", [])) == [1, 1]
            and list(attrs.get("strides") or [1, 1]) == [1, 1]
            and not any(attrs.get("pads") or [])
        )
        if identity and node.output[0] not in graph_outputs:
            remove_passing_through(graph, node)


def drop_flattens_of_matrices(model) -> None:
    """Every Flatten(axis=1) of a Gemm's output (through Relu and other Flattens: a [N, C]
    matrix, which it leaves as it is) is removed, in place."""
    graph = model.graph
    graph_outputs = {out.name for out in graph.output}
    matrices: set[str] = set()
    for node in list(graph.node):  # topological order: a matrix is known before its readers
        if node.op_type == "Gemm" or node.op_type == "Relu" and node.input[0] in matrices:
            matrices.add(node.output[0])
        elif (
            node.op_type == "Flatten"
            and node.input[0] in matrices
            and attributes(node).get("axis", 1) == 1
            and node.output[0] not in graph_outputs
        ):
            remove_passing_through(graph, node)


def dense_convs_as_gemm(model, lifted: dict[str, np.ndarray]) -> None:
    """A GlobalAveragePool (then Flatten) of a one-pixel map computed by Conv and Relu nodes from a
    Conv whose kernel covers its whole input without padding becomes, in place: Flatten(axis=1) of
    that input, each Conv a Gemm(x, W[out, in * k * k], b, transB=1) (NCHW flattens channel-major,
    as the weight does), the Relus as they are, the pool and its Flatten gone. The same numbers at
    the exported input size, which shape inference must know. Weights are read from and written
    to ``lifted`` where lifted (the stand-in's shape follows), else to the initializer."""
    import onnx

    graph = model.graph
    producer = producers_of(graph)
    consumers = consumers_of(graph)
    shapes = None
    for pool in [n for n in graph.node if n.op_type == "GlobalAveragePool"]:
        flatten = consumers.get(pool.output[0], [])
        if len(flatten) != 1 or flatten[0].op_type != "Flatten" or attributes(flatten[0]).get("axis", 1) != 1:
            continue
        chain, node = [], producer.get(pool.input[0])
        while node is not None and node.op_type in ("Relu", "Conv") and len(consumers[node.output[0]]) == 1:
            chain.insert(0, node)
            if node.op_type == "Conv":
                if shapes is None:
                    shapes = spatial_shapes(model)
                size = shapes.get(node.input[0])
                if size is None or size != [1, 1]:
                    break
            node = producer.get(node.input[0])
        if not chain or chain[0].op_type != "Conv" or not _covers_input(chain[0], shapes.get(chain[0].input[0])):
            continue
        inits = initializers_of(model)
        first_input = chain[0].input[0]
        flat = f"{pool.name or pool.output[0]}.flatten_input"
        position = list(graph.node).index(chain[0])
        graph.node.insert(position, onnx.helper.make_node("Flatten", [first_input], [flat], name=flatten[0].name, axis=1))
        previous = flat
        for conv in [n for n in chain if n.op_type == "Conv"]:
            _conv_as_gemm(model, conv, inits, lifted)
        for link in chain:
            link.input[0] = previous
            previous = link.output[0]
        chain[-1].output[0] = flatten[0].output[0]
        graph.node.remove(pool)
        graph.node.remove(flatten[0])
    drop_unused_initializers(model)


def _covers_input(conv, size: list[int] | None) -> bool:
    attrs = attributes(conv)
    return (
        size is not None
        and list(attrs.get("kernel_shape", [])) == size
        and not any(attrs.get("pads") or [])
        and attrs.get("group", 1) == 1
        and set(attrs.get("dilations") or [1]) == {1}
    )


def _conv_as_gemm(model, conv, inits: dict, lifted: dict[str, np.ndarray]) -> None:
    """``conv`` (on a map its kernel covers) made a Gemm in place, its weight [out, in * k * k]."""
    import onnx

    weight_name = conv.input[1]
    if weight_name in lifted:
        lifted[weight_name] = lifted[weight_name].reshape(lifted[weight_name].shape[0], -1)
        stand_in = inits[weight_name]
        del stand_in.dims[:]
        stand_in.dims.extend(lifted[weight_name].shape)
    else:
        weight = as_array(inits[weight_name])
        replace_initializer(model, weight_name, weight.reshape(weight.shape[0], -1))
    if len(conv.input) < 3 or not conv.input[2]:
        bias_name = weight_name + ".zero_bias"
        replace_initializer(model, bias_name, np.zeros(inits[weight_name].dims[0], np.float32))
        conv.input[:] = [conv.input[0], weight_name, bias_name]
    conv.op_type = "Gemm"
    del conv.attribute[:]
    conv.attribute.extend(
        [onnx.helper.make_attribute("alpha", 1.0), onnx.helper.make_attribute("beta", 1.0), onnx.helper.make_attribute("transB", 1)]
    )


def head_pool_as_global(model) -> None:
    """An AveragePool without padding whose kernel covers its whole (static) input and whose only
    reader is a Flatten becomes a GlobalAveragePool, in place."""
    consumers = consumers_of(model.graph)
    pools = [
        n for n in model.graph.node if n.op_type == "AveragePool" and [c.op_type for c in consumers.get(n.output[0], [])] == ["Flatten"]
    ]
    shapes = spatial_shapes(model) if pools else {}
    for pool in pools:
        attrs = attributes(pool)
        if (
            list(attrs.get("kernel_shape", [])) == shapes.get(pool.input[0])
            and not any(attrs.get("pads") or [])
            and "auto_pad" not in attrs
        ):
            pool.op_type = "GlobalAveragePool"
            del pool.attribute[:]


def pointwise_classifier_as_gemm(model, lifted: dict[str, np.ndarray]) -> None:
    """A 1x1 Conv (stride 1, no padding, one group) of a one-pixel map whose only reader is a
    Flatten(axis=1) (GluonCV's MobileNet classifiers) becomes, in place, that Flatten of its input
    then ``Gemm(x, W[out, in], b, transB=1)`` (a zero bias where the Conv had none): the same
    numbers, at every input size (the map is one pixel after a global pool). Weights are read from
    and written to ``lifted`` where lifted."""
    graph = model.graph
    producer = producers_of(graph)
    consumers = consumers_of(graph)
    candidates = []
    for flatten in graph.node:
        conv = producer.get(flatten.input[0]) if flatten.op_type == "Flatten" and attributes(flatten).get("axis", 1) == 1 else None
        if conv is None or conv.op_type != "Conv" or len(consumers[conv.output[0]]) != 1:
            continue
        attrs = attributes(conv)
        if list(attrs.get("kernel_shape", [1, 1])) != [1, 1] or set(attrs.get("strides") or [1]) != {1} or any(attrs.get("pads") or []):
            continue
        if attrs.get("group", 1) != 1 or set(attrs.get("dilations") or [1]) != {1} or "auto_pad" in attrs:
            continue
        candidates.append((conv, flatten))
    shapes = spatial_shapes(model) if candidates else {}
    for conv, flatten in candidates:
        if shapes.get(conv.input[0]) != [1, 1]:
            continue
        output, features = flatten.output[0], f"{conv.name or conv.output[0]}.features"
        flatten.input[0], flatten.output[0] = conv.input[0], features
        conv.input[0], conv.output[0] = features, output
        _conv_as_gemm(model, conv, initializers_of(model), lifted)
        graph.node.remove(flatten)
        graph.node.insert(list(graph.node).index(conv), flatten)
    drop_unused_initializers(model)


def reduce_mean_as_global_pool(model) -> None:
    """A ReduceMean over the spatial axes of a 4-d tensor, keeping them (timm's squeeze-excitation:
    ``x.mean((2, 3), keepdim=True)``), becomes GlobalAveragePool, in place (axes as an attribute,
    or from opset 18 as an initializer)."""
    shapes = None
    inits = initializers_of(model)
    for node in model.graph.node:
        if node.op_type != "ReduceMean" or not attributes(node).get("keepdims", 1):
            continue
        axes = attributes(node).get("axes")
        if axes is None and len(node.input) > 1 and node.input[1] in inits:
            axes = as_array(inits[node.input[1]]).tolist()
        if shapes is None:
            shapes = static_shapes(model)
        rank = len(shapes.get(node.input[0]) or [])
        if rank == 4 and axes is not None and sorted(a % rank for a in axes) == [2, 3]:
            node.op_type = "GlobalAveragePool"
            del node.input[1:]
            del node.attribute[:]
    drop_unused_initializers(model)


def flatten_pooled_reshape(model) -> None:
    """A Reshape of a one-pixel [N, C, 1, 1] map to a constant flat target ([0 or -1, C] or
    [N, -1]: PaddleClas's flatten after its head) becomes Flatten(axis=1), in place."""
    import onnx

    inits = initializers_of(model)
    reshapes = [
        n for n in model.graph.node if n.op_type == "Reshape" and n.input[1] in inits and _is_flat_target(as_array(inits[n.input[1]]))
    ]
    shapes = spatial_shapes(model) if reshapes else {}
    for node in reshapes:
        if shapes.get(node.input[0]) == [1, 1]:
            flatten = onnx.helper.make_node("Flatten", [node.input[0]], [node.output[0]], name=node.name, axis=1)
            replace_nodes(model.graph, [node], [flatten], node)
    drop_unused_initializers(model)
