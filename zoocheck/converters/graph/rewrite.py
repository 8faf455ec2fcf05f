"""Small, exact rewrites of exported graphs that no maintained library does the way zoocheck needs.

Each one computes the same function as the graph it rewrites (the tests check it numerically):

- ``explicit_pads``: pooling/convolution ``auto_pad`` replaced by explicit pads (every file zoocheck
  writes: onnx's ReferenceEvaluator and onnx2torch refuse PaddleClas's ``SAME_UPPER`` + ``ceil_mode``);
- ``declare_initializers_as_inputs``: at IR 3 (opsets 7, 8) the initializers listed as graph inputs
  too, as that IR version requires;
- ``constants_as_initializers``: below opset 9, whose Constant holds floats only, Constant nodes
  (paddle2onnx writes int64 shapes) become initializers;
- ``name_nodes``: every node gets a unique name (MXNet's exporter leaves some empty);
- ``fold_batch_norms``: a batch norm after a convolution (whose output nothing else reads) folded
  into its weights and bias, on the lifted weight arrays (``canonical.lift_conv_weights``; onnxslim
  does the same fold but only with the weights inside the graph, at several times their memory);
- ``batch_norm_to_affine``: a batch norm that is left after folding (v2's pre-activations) becomes
  ``Mul`` by scale then ``Add`` of shift, whatever epsilon/momentum the exporter wrote;
- ``flatten_head``: whatever reshapes the pooled features to [N, C] (PaddleClas's
  Shape/Slice/Concat/Reshape, MXNet's two Flattens) becomes one ``Flatten(axis=1)``;
- ``gemm_head``: ``MatMul`` + ``Add`` (PaddleClas) or a ``Gemm`` with an untransposed weight becomes
  ``Gemm(x, W[out, in], b, transB=1)``;
- ``drop_identity_pools``: an average pool of one pixel windows (torchvision's VGG's adaptive pool
  to 7x7 exported on the 7x7 map) goes; an average pool no window of which can reach a pad (pads 0,
  floor mode: DenseNet's transitions) loses its ``count_include_pad``, which changes nothing there;
- ``flatten_concats``: a Concat of a Concat's output (GluonCV's DenseNet appends each layer's
  features to its input) takes that Concat's inputs instead (torchvision's form: one Concat of
  every piece per layer);
- ``head_pool_as_global``: an average pool covering its whole input, read by the head's Flatten
  (GluonCV's DenseNet's ``AvgPool2D(7)`` on the 7x7 map), becomes ``GlobalAveragePool``;
- ``drop_flattens_of_matrices``: a Flatten of a Gemm's [N, C] output (MXNet's exporter puts one
  before every Dense layer, GluonCV's VGG's second and third too) goes;
- ``dense_convs_as_gemm``: a classifier computed by convolutions over the whole feature map (timm's
  VGG: a 7x7 convolution on the 7x7 map, then 1x1 convolutions on its one pixel, then a global pool
  of that pixel) becomes ``Flatten`` then ``Gemm`` layers;
- the transformers' (``attention_in_one_form`` and the rewrites after it) and, at the end, Swin's
  section (``pin_batch``, ``window_attention_in_one_form``, ``patch_merging_as_reshape``,
  ``map_tokens_in_place``, ``spatial_mean_as_global_pool``, ``drop_identity_slices``,
  ``merge_reshape_chains``: ``families/swin/template.py``'s form).
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
import math

import numpy as np

#: The first opset whose MaxPool / AveragePool have ``ceil_mode``.
CEIL_MODE_OPSET = 10
#: Below this IR version (opsets 7 and 8) every initializer must also be declared a graph input.
INITIALIZERS_NOT_INPUTS_IR = 4
#: Constant holds any tensor type from opset 9 on, float types only before.
ANY_CONSTANT_OPSET = 9
#: The first opset with LayerNormalization.
LAYER_NORM_OPSET = 17
#: Pad takes its pads as an input from opset 11, an attribute before.
PAD_INPUTS_OPSET = 11


def _attrs(node) -> dict:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _set_attrs(node, **values) -> None:
    import onnx

    keep = [a for a in node.attribute if a.name not in values]
    del node.attribute[:]
    node.attribute.extend(keep)
    for name, value in values.items():
        if value is not None:
            node.attribute.append(onnx.helper.make_attribute(name, value))


def _as_str(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _spatial_shapes(model) -> dict[str, list[int]]:
    """Static spatial sizes of every tensor shape inference can tell (only called when needed)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input):
        dims = vi.type.tensor_type.shape.dim
        if len(dims) == 4 and all(d.HasField("dim_value") for d in dims[2:]):
            shapes[vi.name] = [d.dim_value for d in dims[2:]]
    return shapes


def explicit_pads(model) -> None:
    """Replace ``auto_pad`` on Conv / MaxPool / AveragePool by explicit pads, in place.

    ``VALID`` is pads 0. A 2x2/2 exclusive average pool with ``SAME_UPPER`` (PaddleClas's vd
    shortcut) is ``ceil_mode=1`` with pads 0 at every input size: both give ceil(n / 2) outputs
    and average a last odd row alone; below opset 10, which has no ``ceil_mode``, it is one
    excluded end pad, which computes the same. Anything else is computed from the static input size.
    """
    has_ceil_mode = _opset(model) >= CEIL_MODE_OPSET
    nodes = [n for n in model.graph.node if n.op_type in ("Conv", "MaxPool", "AveragePool") and _as_str(_attrs(n).get("auto_pad", "NOTSET")) != "NOTSET"]
    shapes = None
    for node in nodes:
        attrs = _attrs(node)
        mode = _as_str(attrs["auto_pad"])
        kernel = list(attrs.get("kernel_shape") or [])
        strides = list(attrs.get("strides") or [1] * len(kernel))
        if not kernel:  # Conv: from the weight's shape
            weight = next(t for t in model.graph.initializer if t.name == node.input[1])
            kernel = list(weight.dims[2:])
            strides = list(attrs.get("strides") or [1] * len(kernel))
        if mode == "VALID":
            _set_attrs(node, auto_pad=None, pads=[0] * (2 * len(kernel)))
            continue
        exclusive = node.op_type == "AveragePool" and not attrs.get("count_include_pad", 0)
        if node.op_type == "AveragePool" and mode == "SAME_UPPER" and exclusive and kernel == [2, 2] and strides == [2, 2] and not attrs.get("dilations"):
            if has_ceil_mode:
                _set_attrs(node, auto_pad=None, pads=[0, 0, 0, 0], ceil_mode=1)
            else:
                _set_attrs(node, auto_pad=None, pads=[0, 0, 1, 1])
            continue
        if shapes is None:
            shapes = _spatial_shapes(model)
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
        _set_attrs(node, auto_pad=None, pads=begins + ends, ceil_mode=0 if node.op_type != "Conv" and has_ceil_mode else None)


def _opset(model) -> int:
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def declare_initializers_as_inputs(model) -> None:
    """At IR 3 list every initializer as a graph input too (after the image input), in place;
    from IR 4 on nothing changes (initializers are not inputs there)."""
    import onnx

    if model.ir_version >= INITIALIZERS_NOT_INPUTS_IR:
        return
    declared = {i.name for i in model.graph.input}
    for tensor in model.graph.initializer:
        if tensor.name not in declared:
            model.graph.input.append(onnx.helper.make_tensor_value_info(tensor.name, tensor.data_type, list(tensor.dims)))


def constants_as_initializers(model) -> None:
    """Below opset 9 every Constant node becomes an initializer of the same name, in place."""
    from onnx import numpy_helper

    if _opset(model) >= ANY_CONSTANT_OPSET:
        return
    graph = model.graph
    constants = [n for n in graph.node if n.op_type == "Constant"]
    for node in constants:
        value = _attrs(node).get("value")
        if value is None:
            raise ValueError(f"Constant {node.name or node.output[0]}: only tensor values are expected in a classifier's graph")
        graph.initializer.append(numpy_helper.from_array(numpy_helper.to_array(value), node.output[0]))
        graph.node.remove(node)


def name_nodes(model) -> None:
    """Give every unnamed (or duplicate-named) node a unique name, in place."""
    seen: set[str] = set()
    for index, node in enumerate(model.graph.node):
        if not node.name or node.name in seen:
            node.name = f"{node.op_type}_{index}"
        seen.add(node.name)


def _initializers(model) -> dict:
    return {t.name: t for t in model.graph.initializer}


def _array(tensor) -> np.ndarray:
    from onnx import numpy_helper

    return numpy_helper.to_array(tensor)


def _replace_initializer(model, name: str, array: np.ndarray) -> None:
    from onnx import numpy_helper

    inits = model.graph.initializer
    for i, t in enumerate(inits):
        if t.name == name:
            inits[i].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
            return
    inits.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))


def fold_batch_norms(model, lifted: dict[str, np.ndarray]) -> None:
    """Every inference-mode BatchNormalization whose input is the output of a Conv that nothing
    else reads (no other node, no graph output) and whose weight no other Conv uses is folded into
    that Conv, in place: W' = W * s, b' = (b - mean) * s + beta with s = gamma / sqrt(var + eps),
    computed in float64. The Conv weight is read from and written to ``lifted`` when it was
    lifted, else its initializer; the Conv takes the batch norm's output name and the batch norm
    goes."""
    graph = model.graph
    inits = _initializers(model)
    producer = {out: node for node in graph.node for out in node.output}
    consumers = _consumers(graph)
    weight_users = collections.Counter(node.input[1] for node in graph.node if node.op_type == "Conv")
    graph_outputs = {out.name for out in graph.output}
    folded = []
    for bn in graph.node:
        conv = producer.get(bn.input[0]) if bn.op_type == "BatchNormalization" else None
        if conv is None or conv.op_type != "Conv" or len(consumers[conv.output[0]]) != 1 or conv.output[0] in graph_outputs or weight_users[conv.input[1]] != 1 or not all(n in inits for n in bn.input[1:5]):
            continue
        if (len(bn.output) > 1 and any(bn.output[1:])) or _attrs(bn).get("training_mode", 0):
            continue
        gamma, beta, mean, var = (_array(inits[name]).astype(np.float64) for name in bn.input[1:5])
        scale = gamma / np.sqrt(var + _attrs(bn).get("epsilon", 1e-5))
        weight_name = conv.input[1]
        weight = lifted[weight_name] if weight_name in lifted else _array(inits[weight_name])
        bias = _array(inits[conv.input[2]]).astype(np.float64) if len(conv.input) > 2 and conv.input[2] else np.zeros(len(scale))
        folded_weight = (weight.astype(np.float64) * scale.reshape(-1, *[1] * (weight.ndim - 1))).astype(np.float32)
        if weight_name in lifted:
            lifted[weight_name] = folded_weight
        else:
            _replace_initializer(model, weight_name, folded_weight)
        bias_name = f"{bn.output[0]}.folded_bias"
        _replace_initializer(model, bias_name, (bias - mean) * scale + beta)
        conv.input[:] = [conv.input[0], weight_name, bias_name]
        conv.output[0] = bn.output[0]
        folded.append(bn)
    for bn in folded:
        graph.node.remove(bn)
    _drop_unused_initializers(model)


def batch_norm_to_affine(model) -> None:
    """Every inference-mode BatchNormalization becomes Mul(scale) + Add(shift), in place."""
    import onnx

    inits = _initializers(model)
    graph = model.graph
    rebuilt = []
    for node in graph.node:
        if node.op_type != "BatchNormalization":
            rebuilt.append(node)
            continue
        if len(node.output) > 1 and any(node.output[1:]):
            raise ValueError(f"batch norm {node.name}: training-mode outputs cannot be folded")
        gamma, beta, mean, var = (_array(inits[name]).astype(np.float64) for name in node.input[1:5])
        epsilon = _attrs(node).get("epsilon", 1e-5)
        scale = gamma / np.sqrt(var + epsilon)
        shift = beta - mean * scale
        base = node.name or node.output[0]
        _replace_initializer(model, f"{base}.scale", scale.reshape(-1, 1, 1))
        _replace_initializer(model, f"{base}.shift", shift.reshape(-1, 1, 1))
        scaled = f"{base}.scaled"
        rebuilt.append(onnx.helper.make_node("Mul", [node.input[0], f"{base}.scale"], [scaled], name=f"{base}.mul"))
        rebuilt.append(onnx.helper.make_node("Add", [scaled, f"{base}.shift"], [node.output[0]], name=f"{base}.add"))
    del graph.node[:]
    graph.node.extend(rebuilt)
    _drop_unused_initializers(model)


def _drop_unused_initializers(model) -> None:
    # deleted in place: extending a repeated field with the kept tensors would copy every one
    # (for a 3.3 GB model, gigabytes that the allocator keeps after they are freed)
    used = {name for node in model.graph.node for name in node.input}
    inits = model.graph.initializer
    for index in reversed(range(len(inits))):
        if inits[index].name not in used:
            del inits[index]


def _consumers(graph) -> dict[str, list]:
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    return consumers


_RESHAPING = ("Flatten", "Reshape", "Squeeze")


def flatten_head(model) -> None:
    """The chain of reshapes after the GlobalAveragePool becomes one Flatten(axis=1), in place.

    Only chains that end in a 2-D tensor [N, C] are rewritten; a Reshape's target must be a
    constant [0 or -1, C] or [N, -1]."""
    import onnx

    graph = model.graph
    inits = _initializers(model)
    consumers = _consumers(graph)
    for pool in [n for n in graph.node if n.op_type == "GlobalAveragePool"]:
        chain, tensor = [], pool.output[0]
        while len(consumers.get(tensor, [])) == 1 and consumers[tensor][0].op_type in _RESHAPING:
            node = consumers[tensor][0]
            if node.op_type == "Reshape":
                target = inits.get(node.input[1])
                if target is None or not _is_flat_target(_array(target)):
                    break
            elif node.op_type == "Flatten" and _attrs(node).get("axis", 1) != 1:
                break
            elif node.op_type == "Squeeze" and (len(node.input) < 2 or sorted(_array(inits[node.input[1]]).tolist()) != [2, 3]):
                break
            chain.append(node)
            tensor = node.output[0]
        if not chain or (len(chain) == 1 and chain[0].op_type == "Flatten"):
            continue
        position = list(graph.node).index(chain[0])
        for node in chain:
            graph.node.remove(node)
        graph.node.insert(position, onnx.helper.make_node("Flatten", [pool.output[0]], [tensor], name=chain[-1].name or f"{pool.name}.flatten", axis=1))
    _drop_unused_initializers(model)


def _is_flat_target(shape: np.ndarray) -> bool:
    shape = shape.tolist()
    return len(shape) == 2 and (shape[0] in (0, -1) or shape[1] == -1)


def gemm_head(model) -> None:
    """MatMul(x, W) + Add(b) of a matrix x and Gemm(transB=0) become Gemm(x, W^T, b, transB=1), in
    place."""
    import onnx

    graph = model.graph
    inits = _initializers(model)
    consumers = _consumers(graph)
    matmuls = [n for n in graph.node if n.op_type == "MatMul"]
    ranks = _ranks(model) if matmuls else {}
    for node in list(graph.node):
        # a MatMul of a 4-d tensor (ConvNeXt's channels-last MLP) is no Gemm: Gemm takes matrices
        if node.op_type == "MatMul" and node.input[1] in inits and len(inits[node.input[1]].dims) == 2 and ranks.get(node.input[0], 2) == 2:
            users = consumers.get(node.output[0], [])
            add = users[0] if len(users) == 1 and users[0].op_type == "Add" else None
            bias_name = next((n for n in add.input if n in inits), None) if add is not None else None
            weight = _array(inits[node.input[1]])
            if bias_name is None or len(inits[bias_name].dims) != 1:
                # onnxslim removes an Add of zeros: a head whose bias is all zeros is a MatMul alone
                add, bias_name = None, node.input[1] + ".zero_bias"
                _replace_initializer(model, bias_name, np.zeros(weight.shape[1], np.float32))
            _replace_initializer(model, node.input[1] + ".t", weight.T)
            output, name = (add.output[0], add.name or node.name) if add is not None else (node.output[0], node.name)
            gemm = onnx.helper.make_node("Gemm", [node.input[0], node.input[1] + ".t", bias_name], [output], name=name, alpha=1.0, beta=1.0, transB=1)
            position = list(graph.node).index(node)
            graph.node.remove(node)
            if add is not None:
                graph.node.remove(add)
            graph.node.insert(position, gemm)
        elif node.op_type == "Gemm" and node.input[1] in inits and not _attrs(node).get("transB", 0) and not _attrs(node).get("transA", 0):
            weight = _array(inits[node.input[1]])
            _replace_initializer(model, node.input[1] + ".t", weight.T)
            node.input[1] = node.input[1] + ".t"
            _set_attrs(node, transB=1)
    _drop_unused_initializers(model)


def _remove_passing_through(graph, node) -> None:
    """Remove a node computing the identity, its consumers reading its input instead."""
    for other in graph.node:
        other.input[:] = [node.input[0] if name == node.output[0] else name for name in other.input]
    graph.node.remove(node)


def drop_identity_pools(model) -> None:
    """Every AveragePool / MaxPool of 1x1 windows at stride 1 without padding is removed, and an
    AveragePool without padding in floor mode loses ``count_include_pad``, in place."""
    graph = model.graph
    graph_outputs = {out.name for out in graph.output}
    for node in [n for n in graph.node if n.op_type in ("AveragePool", "MaxPool")]:
        attrs = _attrs(node)
        if node.op_type == "AveragePool" and not any(attrs.get("pads") or []) and not attrs.get("ceil_mode", 0) and "auto_pad" not in attrs:
            _set_attrs(node, count_include_pad=None)
        identity = list(attrs.get("kernel_shape", [])) == [1, 1] and list(attrs.get("strides") or [1, 1]) == [1, 1] and not any(attrs.get("pads") or [])
        if identity and node.output[0] not in graph_outputs:
            _remove_passing_through(graph, node)


def drop_flattens_of_matrices(model) -> None:
    """Every Flatten(axis=1) of a Gemm's output (through Relu and other Flattens: a [N, C]
    matrix, which it leaves as it is) is removed, in place."""
    graph = model.graph
    graph_outputs = {out.name for out in graph.output}
    matrices: set[str] = set()
    for node in list(graph.node):  # topological order: a matrix is known before its readers
        if node.op_type == "Gemm":
            matrices.add(node.output[0])
        elif node.op_type == "Relu" and node.input[0] in matrices:
            matrices.add(node.output[0])
        elif node.op_type == "Flatten" and node.input[0] in matrices and _attrs(node).get("axis", 1) == 1 and node.output[0] not in graph_outputs:
            _remove_passing_through(graph, node)


def dense_convs_as_gemm(model, lifted: dict[str, np.ndarray]) -> None:
    """A GlobalAveragePool (then Flatten) of a one-pixel map computed by Conv and Relu nodes from a
    Conv whose kernel covers its whole input without padding becomes, in place: Flatten(axis=1) of
    that input, each Conv a Gemm(x, W[out, in * k * k], b, transB=1) (NCHW flattens channel-major,
    as the weight does), the Relus as they are, the pool and its Flatten gone. The same numbers at
    the exported input size, which shape inference must know. Weights are read from and written
    to ``lifted`` where lifted (the stand-in's shape follows), else to the initializer."""
    import onnx

    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    consumers = _consumers(graph)
    shapes = None
    for pool in [n for n in graph.node if n.op_type == "GlobalAveragePool"]:
        flatten = consumers.get(pool.output[0], [])
        if len(flatten) != 1 or flatten[0].op_type != "Flatten" or _attrs(flatten[0]).get("axis", 1) != 1:
            continue
        chain, node = [], producer.get(pool.input[0])
        while node is not None and node.op_type in ("Relu", "Conv") and len(consumers[node.output[0]]) == 1:
            chain.insert(0, node)
            if node.op_type == "Conv":
                if shapes is None:
                    shapes = _spatial_shapes(model)
                size = shapes.get(node.input[0])
                if size is None or size != [1, 1]:
                    break
            node = producer.get(node.input[0])
        if not chain or chain[0].op_type != "Conv" or not _covers_input(chain[0], shapes.get(chain[0].input[0])):
            continue
        inits = _initializers(model)
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
    _drop_unused_initializers(model)


def _covers_input(conv, size: list[int] | None) -> bool:
    attrs = _attrs(conv)
    return (size is not None and list(attrs.get("kernel_shape", [])) == size and not any(attrs.get("pads") or [])
            and attrs.get("group", 1) == 1 and set(attrs.get("dilations") or [1]) == {1})  # fmt: skip


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
        weight = _array(inits[weight_name])
        _replace_initializer(model, weight_name, weight.reshape(weight.shape[0], -1))
    if len(conv.input) < 3 or not conv.input[2]:
        bias_name = weight_name + ".zero_bias"
        _replace_initializer(model, bias_name, np.zeros(inits[weight_name].dims[0], np.float32))
        conv.input[:] = [conv.input[0], weight_name, bias_name]
    conv.op_type = "Gemm"
    del conv.attribute[:]
    conv.attribute.extend([onnx.helper.make_attribute("alpha", 1.0), onnx.helper.make_attribute("beta", 1.0), onnx.helper.make_attribute("transB", 1)])


def flatten_concats(model) -> None:
    """Every Concat input computed by another Concat on the same axis is replaced by that Concat's
    inputs, in place (nodes are in graph order, so an inner Concat is already flat); a Concat left
    unread goes."""
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    for node in graph.node:
        if node.op_type != "Concat":
            continue
        axis = _attrs(node).get("axis")
        inputs = []
        for name in node.input:
            inner = producer.get(name)
            flat = inner is not None and inner.op_type == "Concat" and _attrs(inner).get("axis") == axis
            inputs.extend(inner.input if flat else [name])
        node.input[:] = inputs
    read = {name for node in graph.node for name in node.input} | {out.name for out in graph.output}
    for node in [n for n in graph.node if n.op_type == "Concat" and n.output[0] not in read]:
        graph.node.remove(node)


def head_pool_as_global(model) -> None:
    """An AveragePool without padding whose kernel covers its whole (static) input and whose only
    reader is a Flatten becomes a GlobalAveragePool, in place."""
    consumers = _consumers(model.graph)
    pools = [n for n in model.graph.node if n.op_type == "AveragePool" and [c.op_type for c in consumers.get(n.output[0], [])] == ["Flatten"]]
    shapes = _spatial_shapes(model) if pools else {}
    for pool in pools:
        attrs = _attrs(pool)
        if list(attrs.get("kernel_shape", [])) == shapes.get(pool.input[0]) and not any(attrs.get("pads") or []) and "auto_pad" not in attrs:
            pool.op_type = "GlobalAveragePool"
            del pool.attribute[:]


# --- MobileNet activations and heads ----------------------------------------------------------
# ReLU6, hard sigmoid, hardswish, the SE squeeze and the heads in one form whatever the exporter
# wrote (docs/architecture.md, "Activations"), each exact like the rewrites above:
# ``pointwise_classifier_as_gemm`` (GluonCV's 1x1-conv classifiers), ``hard_sigmoid_from_clip``
# (GluonCV's clip(x + 3, 0, 6) / 6), ``hardswish_op`` (Mul(x, HardSigmoid(x)) as HardSwish from
# opset 14), ``scalar_constants`` and ``flatten_pooled_reshape`` (PaddleClas's head); timm's SE
# mean is ``reduce_mean_as_global_pool`` (below).

#: The first opset whose Clip takes its bounds as inputs (attributes before).
CLIP_INPUTS_OPSET = 11


def pointwise_classifier_as_gemm(model, lifted: dict[str, np.ndarray]) -> None:
    """A 1x1 Conv (stride 1, no padding, one group) of a one-pixel map whose only reader is a
    Flatten(axis=1) (GluonCV's MobileNet classifiers) becomes, in place, that Flatten of its input
    then ``Gemm(x, W[out, in], b, transB=1)`` (a zero bias where the Conv had none): the same
    numbers, at every input size (the map is one pixel after a global pool). Weights are read from
    and written to ``lifted`` where lifted."""
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    consumers = _consumers(graph)
    candidates = []
    for flatten in graph.node:
        conv = producer.get(flatten.input[0]) if flatten.op_type == "Flatten" and _attrs(flatten).get("axis", 1) == 1 else None
        if conv is None or conv.op_type != "Conv" or len(consumers[conv.output[0]]) != 1:
            continue
        attrs = _attrs(conv)
        if list(attrs.get("kernel_shape", [1, 1])) != [1, 1] or set(attrs.get("strides") or [1]) != {1} or any(attrs.get("pads") or []):
            continue
        if attrs.get("group", 1) != 1 or set(attrs.get("dilations") or [1]) != {1} or "auto_pad" in attrs:
            continue
        candidates.append((conv, flatten))
    shapes = _spatial_shapes(model) if candidates else {}
    for conv, flatten in candidates:
        if shapes.get(conv.input[0]) != [1, 1]:
            continue
        output, features = flatten.output[0], f"{conv.name or conv.output[0]}.features"
        flatten.input[0], flatten.output[0] = conv.input[0], features
        conv.input[0], conv.output[0] = features, output
        _conv_as_gemm(model, conv, _initializers(model), lifted)
        graph.node.remove(flatten)
        graph.node.insert(list(graph.node).index(conv), flatten)
    _drop_unused_initializers(model)
#: The first opset with the HardSwish operator (below it: Mul(x, HardSigmoid(x, 1/6, 0.5))).
HARDSWISH_OPSET = 14
#: hard_sigmoid(x) = clip(x / 6 + 0.5, 0, 1) = relu6(x + 3) / 6: the constants of the second form
_HARD_SIGMOID_SHIFT, _RELU6_MAX = 3.0, 6.0


def _constant(inits: dict, name: str) -> float | None:
    """The value of a one-element float initializer ``name``; None for anything else."""
    tensor = inits.get(name)
    if tensor is None or int(np.prod(tensor.dims)) != 1 or tensor.data_type != 1:  # 1: FLOAT
        return None
    return float(_array(tensor).reshape(()))


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
    if _opset(model) >= CLIP_INPUTS_OPSET:
        if len(clip.input) != 3 or not (_is(_constant(inits, clip.input[1]), 0.0) and _is(_constant(inits, clip.input[2]), _RELU6_MAX)):
            return None
    else:
        attrs = _attrs(clip)
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


def _replace_nodes(graph, removed: list, added: list, at) -> None:
    """``added`` inserted where ``at`` is, then every node of ``removed`` taken out."""
    position = list(graph.node).index(at)
    for offset, node in enumerate(added):
        graph.node.insert(position + offset, node)
    for node in removed:
        graph.node.remove(node)


def hard_sigmoid_from_clip(model) -> None:
    """``Div(Clip(Add(x, 3), 0, 6), 6)`` or ``Mul(.., 1/6)`` (GluonCV's hard sigmoid, mxnet.onnx)
    becomes ``HardSigmoid(x, alpha=1/6, beta=0.5)``, and the hardswish written as
    ``Div(Mul(x, Clip(Add(x, 3), 0, 6)), 6)`` (or ``Mul(.., 1/6)``) becomes ``Mul(x,
    HardSigmoid(x))``, in place. Only these constants, as float32 holds them, and only where no
    other node reads an intermediate: the same function."""
    import onnx

    graph = model.graph
    inits = _initializers(model)
    for node in list(graph.node):
        producer = {out: n for n in graph.node for out in n.output}
        consumers = _consumers(graph)
        y = _divides_by_six(node, inits)
        if y is None:
            continue
        relu6 = _relu6_of_shifted(model, y, producer, inits, consumers)
        if relu6 is not None:  # the hard sigmoid itself
            gate = onnx.helper.make_node("HardSigmoid", [relu6[0]], [node.output[0]], name=node.name, alpha=1 / _RELU6_MAX, beta=0.5)
            _replace_nodes(graph, [node, *relu6[1]], [gate], node)
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
                _replace_nodes(graph, [node, product, *relu6[1]], [gate, mul], node)
                break
    _drop_unused_initializers(model)


def _is_hardswish_gate(node, x: str) -> bool:
    attrs = {"alpha": float(np.float32(0.2)), "beta": 0.5, **_attrs(node)}
    return node.op_type == "HardSigmoid" and list(node.input) == [x] and _is(attrs["alpha"], 1 / _RELU6_MAX) and attrs["beta"] == 0.5


def hardswish_op(model) -> None:
    """From opset 14 on, ``Mul(x, HardSigmoid(x, alpha=1/6, beta=0.5))`` (torch.onnx and
    paddle2onnx below 14, or ``hard_sigmoid_from_clip``'s result) becomes ONNX's ``HardSwish(x)``,
    in place, where nothing else reads the HardSigmoid; below 14 that Mul is the canonical form."""
    import onnx

    if _opset(model) < HARDSWISH_OPSET:
        return
    graph = model.graph
    producer = {out: n for n in graph.node for out in n.output}
    consumers = _consumers(graph)
    for node in [n for n in graph.node if n.op_type == "Mul" and len(n.input) == 2]:
        for x, other in (node.input, reversed(node.input)):
            gate = producer.get(other)
            if gate is not None and _is_hardswish_gate(gate, x) and len(consumers.get(gate.output[0], [])) == 1:
                _replace_nodes(graph, [node, gate], [onnx.helper.make_node("HardSwish", [x], [node.output[0]], name=node.name)], node)
                break


# --- EfficientNet: TF "same" padding computed at run time, SE's mean ------------------------------


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
    producer = {out: node for node in graph.node for out in node.output}
    initializer_names = {t.name for t in graph.initializer}
    constant_names = initializer_names | {n.output[0] for n in graph.node if n.op_type == "Constant"}
    readers = _consumers(graph)
    pending = [n for n in graph.node if n.op_type == "Pad" and len(n.input) > 1 and n.input[1] and n.input[1] not in constant_names
               and any(r.op_type in _PADDED_OPS for r in readers.get(n.output[0], []))]  # fmt: skip
    while pending:
        shapes = _static_shapes(model)
        ready = [pad for pad in pending if _pads_chain(pad.input[1], producer, initializer_names, shapes) is not None]
        if not ready:
            pad = pending[0]
            raise ValueError(f"Pad {pad.name or pad.output[0]}: its amounts depend on the size of a tensor whose size is not static "
                             "(a symbolic input size: export at the entry's input size, or use --graph native)")  # fmt: skip
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


def _static_shapes(model) -> dict[str, list]:
    """Every tensor's inferred shape, a symbolic dimension as its name (``data_prop``: Pad outputs
    whose amounts are now initializers get their sizes)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    shapes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        t = vi.type.tensor_type
        if t.HasField("shape"):
            shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.shape.dim]
    return shapes


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
            attrs = _attrs(node)
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


def reduce_mean_as_global_pool(model) -> None:
    """A ReduceMean over the spatial axes of a 4-d tensor, keeping them (timm's squeeze-excitation:
    ``x.mean((2, 3), keepdim=True)``), becomes GlobalAveragePool, in place (axes as an attribute,
    or from opset 18 as an initializer)."""
    shapes = None
    inits = _initializers(model)
    for node in model.graph.node:
        if node.op_type != "ReduceMean" or not _attrs(node).get("keepdims", 1):
            continue
        axes = _attrs(node).get("axes")
        if axes is None and len(node.input) > 1 and node.input[1] in inits:
            axes = _array(inits[node.input[1]]).tolist()
        if shapes is None:
            shapes = _static_shapes(model)
        rank = len(shapes.get(node.input[0]) or [])
        if rank == 4 and axes is not None and sorted(a % rank for a in axes) == [2, 3]:
            node.op_type = "GlobalAveragePool"
            del node.input[1:]
            del node.attribute[:]
    _drop_unused_initializers(model)


def scalar_constants(model) -> None:
    """A one-element constant of shape [1] (or [1, 1, ...]) read by an elementwise Mul, Add, Sub or
    Div of a tensor (paddle2onnx's ``scale``: the dropout's evaluation factor) becomes a scalar,
    in place: broadcasting gives the same result, and the canonical graph holds scalars."""
    graph = model.graph
    inits = _initializers(model)
    for node in [n for n in graph.node if n.op_type in ("Mul", "Add", "Sub", "Div")]:
        for position, name in enumerate(node.input):
            tensor = inits.get(name)
            other = node.input[1 - position] if len(node.input) == 2 else None
            if tensor is None or not tensor.dims or int(np.prod(tensor.dims)) != 1 or other is None or other in inits:
                continue
            scalar = f"{name}.scalar"
            if scalar not in inits:  # not _replace_initializer: ascontiguousarray makes a scalar 1-D
                from onnx import numpy_helper

                inits[scalar] = numpy_helper.from_array(_array(tensor).reshape(()), scalar)
                graph.initializer.append(inits[scalar])
            node.input[position] = scalar
    _drop_unused_initializers(model)


def flatten_pooled_reshape(model) -> None:
    """A Reshape of a one-pixel [N, C, 1, 1] map to a constant flat target ([0 or -1, C] or
    [N, -1]: PaddleClas's flatten after its head) becomes Flatten(axis=1), in place."""
    import onnx

    inits = _initializers(model)
    reshapes = [n for n in model.graph.node if n.op_type == "Reshape" and n.input[1] in inits and _is_flat_target(_array(inits[n.input[1]]))]
    shapes = _spatial_shapes(model) if reshapes else {}
    for node in reshapes:
        if shapes.get(node.input[0]) == [1, 1]:
            flatten = onnx.helper.make_node("Flatten", [node.input[0]], [node.output[0]], name=node.name, axis=1)
            _replace_nodes(model.graph, [node], [flatten], node)
    _drop_unused_initializers(model)


# --- ConvNeXt: channels-last MLPs, layer scale, per-channel constants ---------------------------


def _ranks(model) -> dict[str, int]:
    """Every tensor's rank shape inference can tell, inferred on a copy of the graph whose large
    initializers carry no data (their shapes are all it reads)."""
    import onnx

    graph = onnx.GraphProto(name=model.graph.name)
    graph.node.extend(model.graph.node)
    graph.input.extend(model.graph.input)
    graph.output.extend(model.graph.output)
    for tensor in model.graph.initializer:
        small = int(np.prod(tensor.dims)) <= 64 and tensor.data_location != onnx.TensorProto.EXTERNAL
        graph.initializer.append(tensor if small else onnx.TensorProto(name=tensor.name, data_type=tensor.data_type, dims=tensor.dims))
    stub = onnx.helper.make_model(graph, opset_imports=list(model.opset_import), ir_version=model.ir_version)
    inferred = onnx.shape_inference.infer_shapes(stub)
    ranks = {t.name: len(t.dims) for t in model.graph.initializer}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        if vi.type.tensor_type.HasField("shape"):
            ranks[vi.name] = len(vi.type.tensor_type.shape.dim)
    return ranks


#: an NCHW axis -> the same axis of the NHWC tensor (channels as -1, the form exporters write)
_NHWC_AXIS = {0: 0, 1: -1, 2: 1, 3: 2}
_ELEMENTWISE = ("Add", "Sub", "Mul", "Div", "Erf", "Sqrt", "Pow", "Relu", "Tanh", "Sigmoid")
_REDUCES = ("ReduceL2", "ReduceMean", "ReduceSum")


def _channel_vector(tensor) -> np.ndarray | None:
    """A per-channel constant of an NCHW tensor ([C, 1, 1] or [1, C, 1, 1]) as [C]; None otherwise."""
    dims = list(tensor.dims)
    if len(dims) in (3, 4) and dims[-2:] == [1, 1] and (len(dims) == 3 or dims[0] == 1):
        return _array(tensor).reshape(-1)
    return None


def _is_pointwise_conv(node, lifted: dict[str, np.ndarray], inits: dict) -> bool:
    if node.op_type != "Conv" or node.input[1] not in set(lifted) | set(inits):
        return False
    shape = lifted[node.input[1]].shape if node.input[1] in lifted else tuple(inits[node.input[1]].dims)
    a = _attrs(node)
    return (shape[2:] == (1, 1) and a.get("group", 1) == 1 and list(a.get("strides", [1, 1])) == [1, 1]
            and not any(a.get("pads", [0] * 4)) and list(a.get("dilations", [1, 1])) == [1, 1])  # fmt: skip


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
    inits = _initializers(model)
    producer = {out: node for node in graph.node for out in node.output}
    consumers = _consumers(graph)
    opset = _opset(model)
    for transpose in [n for n in graph.node if n.op_type == "Transpose" and list(_attrs(n).get("perm", [])) == [0, 3, 1, 2]]:
        source = producer.get(transpose.input[0])
        users = consumers.get(transpose.output[0], [])
        if source is None or source.op_type != "LayerNormalization" or not users or not all(_is_pointwise_conv(u, lifted, inits) for u in users):
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
                weight = lifted.pop(node.input[1]) if node.input[1] in lifted else _array(inits[node.input[1]])
                matrix = f"{node.input[1]}.matmul"
                graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(weight.reshape(weight.shape[0], -1).T, dtype=np.float32), matrix))
                has_bias = len(inputs) > 2 and bool(inputs[2])
                product = renamed[outputs[0]] if not has_bias else f"{outputs[0]}.matmul"
                rebuilt.append(onnx.helper.make_node("MatMul", [inputs[0], matrix], [product], name=f"{node.name}.matmul" if has_bias else node.name))
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
                    axes = _attrs(node).get("axes")
                    if axes is None and len(node.input) > 1:
                        axes = _array(inits[node.input[1]]).tolist()
                    mapped = [_NHWC_AXIS[a % 4] for a in axes]
                    if opset >= 18:
                        inputs[1] = f"{node.input[1]}.nhwc"
                        graph.initializer.append(numpy_helper.from_array(np.array(mapped, np.int64), inputs[1]))
                    else:
                        _set_attrs(node, axes=mapped)
                node.input[:] = inputs
                node.output[:] = [renamed[out] for out in outputs]
                rebuilt.append(node)
            rebuilt.extend(onnx.helper.make_node("Transpose", [renamed[out]], [out], name=f"{out}.to_nchw", perm=[0, 3, 1, 2])
                           for out in outputs if out in exits)  # fmt: skip
        del graph.node[:]
        graph.node.extend(rebuilt)
        return pointwise_convs_as_matmul(model, lifted)  # the graph changed: look again from the start
    _drop_unused_initializers(model)


def layer_scale_before_transpose(model) -> None:
    """A transpose from NHWC to NCHW whose only reader multiplies it by a per-channel constant
    ([C, 1, 1]: torchvision's layer scale; [1, C, 1, 1]: timm's and mmpretrain's ``gamma``) becomes
    the multiplication by [C] on the NHWC tensor, then the transpose (the official ConvNeXt's and
    PaddleClas's order), in place."""
    import onnx
    from onnx import numpy_helper

    graph = model.graph
    inits = _initializers(model)
    consumers = _consumers(graph)
    for transpose in [n for n in graph.node if n.op_type == "Transpose" and list(_attrs(n).get("perm", [])) == [0, 3, 1, 2]]:
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
        added = [onnx.helper.make_node("Mul", [transpose.input[0], name], [scaled], name=mul.name),
                 onnx.helper.make_node("Transpose", [scaled], [mul.output[0]], name=transpose.name, perm=[0, 3, 1, 2])]  # fmt: skip
        _replace_nodes(graph, [transpose, mul], added, transpose)
    _drop_unused_initializers(model)


def channels_last_constants(model) -> None:
    """A constant [1, 1, 1, C] added to or multiplying a 4-d tensor (timm's GRN ``weight.view(1, 1,
    1, -1)``) becomes [C], in place: broadcasting gives the same result."""
    from onnx import numpy_helper

    graph = model.graph
    inits = _initializers(model)
    nodes = [n for n in graph.node if n.op_type in ("Mul", "Add") and any(name in inits and len(inits[name].dims) == 4 and list(inits[name].dims[:3]) == [1, 1, 1] for name in n.input)]
    ranks = _ranks(model) if nodes else {}
    for node in nodes:
        for position, name in enumerate(node.input):
            other = node.input[1 - position]
            if name in inits and len(inits[name].dims) == 4 and list(inits[name].dims[:3]) == [1, 1, 1] and ranks.get(other) == 4:
                vector = f"{name}.vector"
                if vector not in inits:
                    inits[vector] = numpy_helper.from_array(_array(inits[name]).reshape(-1), vector)
                    graph.initializer.append(inits[vector])
                node.input[position] = vector
    _drop_unused_initializers(model)


# --- ViT: class tokens, attention, LayerNorm axes, PaddleClas forms ----------------------------


def _drop_dead_nodes(graph) -> None:
    """Remove the nodes whose outputs nothing reads (and no graph output is), until none is left."""
    outputs = {o.name for o in graph.output}
    while True:
        read = {name for node in graph.node for name in node.input} | outputs
        dead = [node for node in graph.node if not any(out in read for out in node.output)]
        if not dead:
            return
        for node in dead:
            graph.node.remove(node)


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
    inits = _initializers(model)
    producer = {out: node for node in graph.node for out in node.output}
    consumers = _consumers(graph)
    for concat in [n for n in graph.node if n.op_type == "Concat" and _attrs(n).get("axis") == 1 and len(n.input) >= 2]:
        expands = [producer.get(name) for name in concat.input[:-1]]
        if not all(e is not None and e.op_type == "Expand" and e.input[0] in inits and len(inits[e.input[0]].dims) == 3 for e in expands):
            continue
        tokens = [_array(inits[e.input[0]]) for e in expands]
        users = consumers.get(concat.output[0], [])
        add = users[0] if len(users) == 1 and users[0].op_type == "Add" else None
        pos_name = next((name for name in add.input if name in inits), None) if add is not None else None
        if pos_name is not None:  # Concat, then the position embedding of every token
            table, output, removed = _array(inits[pos_name]).copy(), add.output[0], [concat, add]
            for row, token in enumerate(tokens):
                table[:, row] = table[:, row] + token[:, 0]
        else:  # the tokens after the position embedding: their own values in their rows
            width = tokens[0].shape[-1]
            count = _static_shapes(model).get(concat.output[0], [None, None])[1]
            if not isinstance(count, int):
                continue
            table = np.zeros((1, count, width), np.float32)
            for row, token in enumerate(tokens):
                table[:, row] = token[:, 0]
            output, removed = concat.output[0], [concat]
        name = f"{concat.name or concat.output[0]}.token_table"
        _replace_initializer(model, name, table.astype(np.float32))
        pads = f"{name}.pads"
        graph.initializer.append(onnx.numpy_helper.from_array(np.array([0, len(tokens), 0, 0, 0, 0], np.int64), pads))
        position = list(graph.node).index(concat)
        padded = f"{name}.padded"
        new = [onnx.helper.make_node("Pad", [concat.input[-1], pads], [padded], name=f"{name}.pad", mode="constant"),
               onnx.helper.make_node("Add", [padded, name], [output], name=f"{name}.add")]  # fmt: skip
        for node in removed:
            graph.node.remove(node)
        for offset, node in enumerate(new):
            graph.node.insert(position + offset, node)
    _drop_dead_nodes(graph)
    _drop_unused_initializers(model)


#: the ops a self-attention region may hold besides its two projections: layout, the scaled
#: product, softmax, and the shape arithmetic some exporters compute the layout with
_ATTENTION_OPS = frozenset({"MatMul", "Gemm", "Add", "Mul", "Div", "Softmax", "Reshape", "Transpose", "Split", "Squeeze", "Unsqueeze",
                            "Gather", "Slice", "Shape", "Concat", "Cast", "Identity"})  # fmt: skip
#: the op counts of the one form (no q/k/v bias: one Add fewer)
_CANONICAL_ATTENTION = collections.Counter({"MatMul": 4, "Add": 2, "Reshape": 2, "Transpose": 3, "Split": 1, "Squeeze": 3, "Mul": 2, "Softmax": 1})
#: how far an exporter's self-attention may be from the one form, relative to its output's range
ATTENTION_RTOL = 1e-5


def _attention_region(graph, qkv, inits: dict, consumers: dict, producer: dict, ops: frozenset = _ATTENTION_OPS, layout: bool = True):
    """(input, nodes, output) of the self-attention whose fused q/k/v projection is the MatMul
    ``qkv``: from the tensor the block normalised (through the layout ops before the projection)
    to the tensor the residual addition reads, everything between; None where it is not one.
    Without ``layout`` it is the projections' tokens in and out (Swin's windows: the layout
    around them is the window partition's)."""
    dim = int(inits[qkv.input[1]].dims[0])
    start = qkv.input[0]
    region = [qkv]
    while layout and start in producer and producer[start].op_type in ("Transpose", "Reshape") and all(i in inits for i in producer[start].input[1:]):
        region.append(producer[start])
        start = producer[start].input[0]
    frontier, proj = [qkv.output[0]], None
    seen = {id(n) for n in region}
    while frontier:
        tensor = frontier.pop()
        for node in consumers.get(tensor, []):
            if id(node) in seen:
                continue
            if node.op_type not in ops:
                return None
            seen.add(id(node))
            region.append(node)
            weight = inits.get(node.input[1]) if len(node.input) > 1 else None
            if node.op_type in ("MatMul", "Gemm") and weight is not None and list(weight.dims) == [dim, dim]:
                if proj is not None:
                    return None
                proj = node
                continue
            frontier.extend(node.output)
    if proj is None:
        return None
    output = proj.output[0]
    while True:  # the projection's bias and the layout back to the block's tokens
        users = consumers.get(output, [])
        if len(users) != 1 or users[0].op_type not in ("Add", "Reshape", "Transpose")[: 3 if layout else 1] or not all(i in inits for i in users[0].input if i != output):
            break
        region.append(users[0])
        output = users[0].output[0]
    produced = {out for node in region for out in node.output}
    if any(i and i not in produced and i not in inits and i != start for node in region for i in node.input):
        return None
    order = {id(node): index for index, node in enumerate(graph.node)}
    return start, sorted(region, key=lambda node: order[id(node)]), output, proj


def _attention_parameters(region: list, qkv, proj, inits: dict, shapes: dict, dim: int):
    """(q/k/v weight [dim, 3 dim], its bias or None, projection weight [dim, dim] as x @ W, its
    bias, heads, scale) of an exporter's attention region."""
    consumers = {i: n for n in region for i in n.input}
    w_qkv = _array(inits[qkv.input[1]])
    after = consumers.get(qkv.output[0])
    b_qkv = next((_array(inits[i]) for i in after.input if i in inits), None) if after is not None and after.op_type == "Add" else None
    w_proj = _array(inits[proj.input[1]])
    if proj.op_type == "Gemm":
        w_proj = w_proj.T if _attrs(proj).get("transB", 0) else w_proj
        b_proj = _array(inits[proj.input[2]]) if len(proj.input) > 2 else None
    else:
        after = consumers.get(proj.output[0])
        b_proj = next((_array(inits[i]) for i in after.input if i in inits), None) if after is not None and after.op_type == "Add" else None
    products = [n for n in region if n.op_type == "MatMul" and not any(i in inits for i in n.input)]
    head_dim = shapes.get(products[0].input[0], [None])[-1] if products else None
    scale = 1.0
    for node in region:
        constant = next((_array(inits[i]) for i in node.input[1:] if i in inits and _array(inits[i]).size == 1), None)
        if constant is not None and node.op_type in ("Mul", "Div") and node is not proj:
            scale = scale * float(constant.reshape(())) if node.op_type == "Mul" else scale / float(constant.reshape(()))
    if not isinstance(head_dim, int) or dim % head_dim or b_proj is None:
        return None
    return w_qkv, b_qkv, w_proj, b_proj, dim // head_dim, scale


def _attention_node(prefix: str, op: str, name: str, inputs: list[str], **attrs):
    from onnx import helper

    return helper.make_node(op, inputs, [f"{prefix}.{name}"], name=f"{prefix}.{name}", **attrs)


def _canonical_qkv(prefix: str, x: str, tokens: int, dim: int, heads: int, has_qkv_bias: bool):
    """The one form's fused q/k/v projection, split into the heads' q, k, v (``<prefix>.q``, ...):
    nodes and integer constants."""
    from onnx import helper

    node = _attention_node
    consts = {f"{prefix}.qkv_shape": np.array([-1, tokens, 3, heads, dim // heads], np.int64), f"{prefix}.sizes": np.array([1, 1, 1], np.int64),
              f"{prefix}.axes": np.array([0], np.int64)}  # fmt: skip
    nodes = [node(prefix, "MatMul", "qkv.matmul", [x, f"{prefix}.qkv.weight"])]
    if has_qkv_bias:
        nodes.append(node(prefix, "Add", "qkv", [nodes[-1].output[0], f"{prefix}.qkv.bias"]))
    nodes += [node(prefix, "Reshape", "reshape", [nodes[-1].output[0], f"{prefix}.qkv_shape"]),
              node(prefix, "Transpose", "transpose", [f"{prefix}.reshape"], perm=[2, 0, 3, 1, 4]),
              helper.make_node("Split", [f"{prefix}.transpose", f"{prefix}.sizes"], [f"{prefix}.{p}.piece" for p in "qkv"], name=f"{prefix}.split", axis=0)]  # fmt: skip
    nodes += [node(prefix, "Squeeze", p, [f"{prefix}.{p}.piece", f"{prefix}.axes"]) for p in "qkv"]
    return nodes, consts


def _canonical_scaled_logits(prefix: str, q: str, k: str, scale: float):
    """q times sqrt(scale) by k^T times sqrt(scale) (``<prefix>.logits``)."""
    node = _attention_node
    nodes = [node(prefix, "Transpose", "k.transpose", [k], perm=[0, 1, 3, 2]),
             node(prefix, "Mul", "q.scale", [q, f"{prefix}.sqrt_scale"]),
             node(prefix, "Mul", "k.scale", [f"{prefix}.k.transpose", f"{prefix}.sqrt_scale"]),
             node(prefix, "MatMul", "logits", [f"{prefix}.q.scale", f"{prefix}.k.scale"])]  # fmt: skip
    return nodes, {f"{prefix}.sqrt_scale": np.array(np.float32(np.sqrt(scale)), np.float32)}


def _canonical_context(prefix: str, logits: str, output: str, tokens: int, dim: int):
    """Softmax of ``logits``, times v, the heads merged and projected into ``output``."""
    from onnx import helper

    node = _attention_node
    nodes = [node(prefix, "Softmax", "softmax", [logits], axis=-1),
             node(prefix, "MatMul", "context", [f"{prefix}.softmax", f"{prefix}.v"]),
             node(prefix, "Transpose", "context.transpose", [f"{prefix}.context"], perm=[0, 2, 1, 3]),
             node(prefix, "Reshape", "context.reshape", [f"{prefix}.context.transpose", f"{prefix}.context_shape"]),
             node(prefix, "MatMul", "proj.matmul", [f"{prefix}.context.reshape", f"{prefix}.proj.weight"]),
             helper.make_node("Add", [f"{prefix}.proj.matmul", f"{prefix}.proj.bias"], [output], name=f"{prefix}.proj")]  # fmt: skip
    return nodes, {f"{prefix}.context_shape": np.array([-1, tokens, dim], np.int64)}


def _canonical_attention(prefix: str, x: str, output: str, tokens: int, dim: int, heads: int, scale: float, has_qkv_bias: bool):
    """The one form's nodes and initializer names -> arrays (families/vit/template.py)."""
    parts = [_canonical_qkv(prefix, x, tokens, dim, heads, has_qkv_bias), _canonical_scaled_logits(prefix, f"{prefix}.q", f"{prefix}.k", scale),
             _canonical_context(prefix, f"{prefix}.logits", output, tokens, dim)]  # fmt: skip
    return [n for nodes, _ in parts for n in nodes], {k: v for _, consts in parts for k, v in consts.items()}


def _run_region(nodes: list, initializers: list, x: str, output: str, value: np.ndarray, opset: int) -> np.ndarray:
    import onnx
    import onnxruntime as ort

    graph = onnx.helper.make_graph(nodes, "region", [onnx.helper.make_tensor_value_info(x, onnx.TensorProto.FLOAT, list(value.shape))],
                                   [onnx.helper.make_tensor_value_info(output, onnx.TensorProto.FLOAT, None)], initializers)  # fmt: skip
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)])
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, {x: value})[0]


def _replace_if_same(graph, inits: dict, region: list, nodes: list, arrays: dict[str, np.ndarray], x: str, output: str, shape: tuple, seed: int, opset: int) -> bool:
    """``nodes`` (reading ``arrays``) put in the place of ``region`` when both compute the same
    ``output`` from seeded random ``x`` of ``shape`` (within ``ATTENTION_RTOL`` of its range)."""
    from onnx import numpy_helper

    new_inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in arrays.items()]
    used = {i for n in region for i in n.input if i in inits}
    value = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    expected = _run_region(list(region), [inits[i] for i in used], x, output, value, opset)
    got = _run_region(nodes, new_inits, x, output, value, opset)
    if expected.shape != got.shape or np.abs(expected - got).max() > ATTENTION_RTOL * max(float(np.ptp(expected)), 1e-30):
        return False
    position = list(graph.node).index(region[0])
    for node in region:
        graph.node.remove(node)
    for offset, node in enumerate(nodes):
        graph.node.insert(position + offset, node)
    graph.initializer.extend(new_inits)
    inits.update({t.name: t for t in new_inits})
    return True


def _attention_regions(model, inits: dict, **find) -> Iterator[tuple]:
    """Each attention region of ``model``, in order, found from a MatMul by a constant [C, 3 C]
    (a fused q/k/v projection; ``find``: ``_attention_region``'s options): (its index, that
    MatMul, (input, region, output, projection), the graph's inferred shapes, its opset). The
    graph is read again for each, as the caller replaces the region before."""
    graph = model.graph
    candidates = [n for n in graph.node if n.op_type == "MatMul" and n.input[1] in inits and len(inits[n.input[1]].dims) == 2
                  and inits[n.input[1]].dims[1] == 3 * inits[n.input[1]].dims[0]]  # fmt: skip
    if not candidates:
        return
    shapes, opset = _static_shapes(model), _opset(model)
    for index, qkv in enumerate(candidates):
        producer = {out: node for node in graph.node for out in node.output}
        found = _attention_region(graph, qkv, inits, _consumers(graph), producer, **find)
        if found is not None:
            yield index, qkv, found, shapes, opset


def attention_in_one_form(model) -> None:
    """Every self-attention in the one form (``families/vit/template.py``: the fused q/k/v
    projection, ``reshape``, ``transpose``, ``split`` into q, k, v, each of q and k times
    sqrt(scale), ``softmax``, context, ``reshape``, projection), in place, whatever the exporter
    wrote between the q/k/v projection and the residual addition (torchvision's
    ``nn.MultiheadAttention``: tokens transposed to [T, N, C], the heads folded into the batch,
    the output projection as a Gemm on [T * N, C]). The region is found by its weights (a MatMul
    by [C, 3C], then one by [C, C]) and holds only layout, scaling and softmax ops; heads and scale
    are read from it (the product's operand width, the constants multiplying). The one form is
    put in its place only after both computed the same on seeded random tokens (within
    ``ATTENTION_RTOL`` of the output's range), so a region that is not this attention is left as
    it is, and the match to the template then fails naming it."""
    graph = model.graph
    inits = _initializers(model)
    for index, qkv, (x, region, output, proj), shapes, opset in _attention_regions(model, inits):
        if collections.Counter(n.op_type for n in region) == _CANONICAL_ATTENTION:  # already the one form
            continue
        dim = int(inits[qkv.input[1]].dims[0])
        found = _attention_parameters(region, qkv, proj, inits, shapes, dim)
        tokens = shapes.get(x, [None, None, None])
        if found is None or len(tokens) != 3 or not isinstance(tokens[1], int):
            continue
        w_qkv, b_qkv, w_proj, b_proj, heads, scale = found
        prefix = f"attention{index}"
        nodes, consts = _canonical_attention(prefix, x, output, tokens[1], dim, heads, scale, b_qkv is not None)
        arrays = {**consts, f"{prefix}.qkv.weight": w_qkv, f"{prefix}.proj.weight": w_proj, f"{prefix}.proj.bias": b_proj}
        if b_qkv is not None:
            arrays[f"{prefix}.qkv.bias"] = b_qkv
        _replace_if_same(graph, inits, region, nodes, arrays, x, output, (1, tokens[1], dim), index, opset)
    _drop_dead_nodes(graph)
    _drop_unused_initializers(model)


def layer_norm_last_axis(model) -> None:
    """A LayerNormalization over the last axis named by its positive index (paddle2onnx's
    ``axis=2`` of [N, T, C]) says ``axis=-1``, as torch.onnx writes it, in place: the same op."""
    norms = [n for n in model.graph.node if n.op_type == "LayerNormalization" and _attrs(n).get("axis", -1) >= 0]
    if not norms:
        return
    shapes = _static_shapes(model)
    for node in norms:
        rank = len(shapes.get(node.input[0], []))
        if rank and _attrs(node)["axis"] == rank - 1:
            _set_attrs(node, axis=-1)


def token_slice_as_gather(model) -> None:
    """``Slice`` of one index on an axis then ``Squeeze`` of that axis (paddle2onnx's ``x[:, 0]``)
    becomes ``Gather(axis, index)`` (torch.onnx's form), in place: the same tensor."""
    import onnx
    import onnx.numpy_helper

    graph = model.graph
    inits = _initializers(model)
    consumers = _consumers(graph)
    for node in [n for n in graph.node if n.op_type == "Slice" and len(n.input) >= 4 and all(i in inits for i in n.input[1:])]:
        starts, ends, axes = (_array(inits[i]).tolist() for i in node.input[1:4])
        steps = _array(inits[node.input[4]]).tolist() if len(node.input) > 4 else [1]
        users = consumers.get(node.output[0], [])
        squeeze = users[0] if len(users) == 1 and users[0].op_type == "Squeeze" and len(users[0].input) == 2 and users[0].input[1] in inits else None
        if squeeze is None or len(axes) != 1 or steps != [1] or ends[0] != starts[0] + 1 or starts[0] < 0 or _array(inits[squeeze.input[1]]).tolist() != axes:
            continue
        index = f"{node.name or node.output[0]}.index"
        graph.initializer.append(onnx.numpy_helper.from_array(np.array(starts[0], np.int64), index))
        position = list(graph.node).index(node)
        graph.node.remove(node)
        graph.node.remove(squeeze)
        graph.node.insert(position, onnx.helper.make_node("Gather", [node.input[0], index], [squeeze.output[0]], name=squeeze.name or node.name, axis=axes[0]))
    _drop_unused_initializers(model)


def halving_as_mul(model) -> None:
    """``Div(x, 2)`` becomes ``Mul(x, 0.5)`` (paddle2onnx's form of DeiT's mean of two heads), in
    place: halving is exact either way in binary floating point."""
    import onnx.numpy_helper

    inits = _initializers(model)
    for node in [n for n in model.graph.node if n.op_type == "Div" and n.input[1] in inits]:
        value = _array(inits[node.input[1]])
        if value.size == 1 and float(value.reshape(())) == 2.0 and node.input[0] not in inits:
            half = f"{node.input[1]}.half"
            if half not in inits:
                inits[half] = onnx.numpy_helper.from_array(np.array(0.5, value.dtype), half)
                model.graph.initializer.append(inits[half])
            node.op_type, node.input[1] = "Mul", half
    _drop_unused_initializers(model)


# --- Swin (families/swin/template.py) -----------------------------------------------------------

#: the end torch.onnx gives a Slice to the end of an axis (``torch.roll``'s pieces)
ROLL_END = 2**63 - 1
#: ReduceMean / ReduceL2 take their axes as an input from opset 18, an attribute before
REDUCE_AXES_INPUTS_OPSET = 18
#: the smallest norm F.normalize divides by (Swin V2's q and k, every zoo)
NORMALIZE_EPS = 1e-12
#: a window attention's region may also hold V2's q and k normalisation (F.normalize)
_WINDOW_ATTENTION_OPS = _ATTENTION_OPS | {"ReduceL2", "Clip", "Expand"}


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


def _int_inputs(node, inits: dict) -> list | None:
    """The values of a node's inputs after the first, all initializers, as lists; None otherwise."""
    if not all(i in inits for i in node.input[1:] if i):
        return None
    return [_array(inits[i]).reshape(-1).tolist() for i in node.input[1:] if i]


def drop_identity_slices(model) -> None:
    """A Slice that keeps every element of its input (start 0, end past the size, step 1 on each
    axis it names: torchvision's Swin's ``x[:, :H, :W]`` after its windows) goes, in place."""
    graph = model.graph
    inits = _initializers(model)
    outputs = {o.name for o in graph.output}
    slices = [n for n in graph.node if n.op_type == "Slice" and len(n.input) >= 4 and n.output[0] not in outputs]
    shapes = _static_shapes(model) if slices else {}
    for node in slices:
        values, shape = _int_inputs(node, inits), shapes.get(node.input[0])
        if values is None or not shape:
            continue
        starts, ends, axes = values[:3]
        steps = values[3] if len(values) > 3 else [1] * len(axes)
        sizes = [shape[a] for a in axes]
        if all(isinstance(n, int) and s == 0 and e >= n and t == 1 for n, s, e, t in zip(sizes, starts, ends, steps)):
            _remove_passing_through(graph, node)
    _drop_unused_initializers(model)


def merge_reshape_chains(model) -> None:
    """A Reshape of a Reshape that nothing else reads becomes one Reshape to the second's shape,
    in place (timm's window partition of a map that is one window: [B, 1, w, 1, w, C] then
    [-1, w * w, C]); a reshape keeps the element order, so only the last shape counts."""
    graph = model.graph
    inits = _initializers(model)
    producer = {out: node for node in graph.node for out in node.output}
    consumers = _consumers(graph)
    outputs = {o.name for o in graph.output}
    for node in [n for n in graph.node if n.op_type == "Reshape" and n.input[1] in inits]:
        first = producer.get(node.input[0])
        if first is None or first.op_type != "Reshape" or len(consumers[first.output[0]]) != 1 or first.output[0] in outputs:
            continue
        if 0 in _array(inits[node.input[1]]).tolist() and not _attrs(node).get("allowzero", 0):  # 0 copies the input's size
            continue
        node.input[0] = first.input[0]
        graph.node.remove(first)
    _drop_unused_initializers(model)


def _window_attention_constants(region: list, inits: dict) -> dict[str, np.ndarray] | None:
    """The position bias [1, heads, N, N] (an Add's constant), the mask [1, windows, 1, N, N] (an
    Add's constant, shifted windows) and V2's logit scale [heads, 1, 1] (a Mul's constant) of a
    window attention region; None where it has no position bias (not a Swin window attention)."""
    found = {}
    for node in region:
        for name in node.input:
            tensor = inits.get(name)
            if tensor is None or tensor.data_type != 1:
                continue
            dims = list(tensor.dims)
            if node.op_type == "Add" and len(dims) == 4 and dims[0] == 1 and dims[2] == dims[3]:
                found["position_bias"] = _array(tensor)
            elif node.op_type == "Add" and len(dims) == 5 and dims[0] == dims[2] == 1 and dims[3] == dims[4]:
                found["mask"] = _array(tensor)
            elif node.op_type == "Mul" and len(dims) == 3 and dims[1:] == [1, 1]:
                found["logit_scale"] = _array(tensor)
    return found if "position_bias" in found else None


def _canonical_unit_norm(name: str, x: str, opset: int) -> list:
    """``F.normalize(x, dim=-1)`` into ``name``, in the template's form (``families/swin/template.py``)."""
    from onnx import helper

    if opset >= REDUCE_AXES_INPUTS_OPSET:
        l2 = helper.make_node("ReduceL2", [x, "normalize.axes"], [f"{name}.l2"], name=f"{name}.l2", keepdims=1)
    else:
        l2 = helper.make_node("ReduceL2", [x], [f"{name}.l2"], name=f"{name}.l2", axes=[-1], keepdims=1)
    if opset >= CLIP_INPUTS_OPSET:
        clip = helper.make_node("Clip", [f"{name}.l2", "normalize.eps"], [f"{name}.clip"], name=f"{name}.clip")
    else:
        clip = helper.make_node("Clip", [f"{name}.l2"], [f"{name}.clip"], name=f"{name}.clip", min=float(np.float32(NORMALIZE_EPS)))
    return [l2, clip, helper.make_node("Div", [x, f"{name}.clip"], [name], name=name)]


def _canonical_window_attention(prefix: str, x: str, output: str, tokens: int, dim: int, heads: int, scale: float, constants: dict, opset: int):
    """The template's window attention (``families/swin/template.py``) between the windows'
    tokens ``x`` and the projection's ``output``: nodes and initializer names -> arrays (but the
    projections' weights)."""
    node = _attention_node
    nodes, consts = _canonical_qkv(prefix, x, tokens, dim, heads, True)
    if "logit_scale" in constants:  # V2's cosine attention
        for part in "qk":
            nodes += _canonical_unit_norm(f"{prefix}.{part}.normalize", f"{prefix}.{part}", opset)
        nodes += [node(prefix, "Transpose", "k.transpose", [f"{prefix}.k.normalize"], perm=[0, 1, 3, 2]),
                  node(prefix, "MatMul", "product", [f"{prefix}.q.normalize", f"{prefix}.k.transpose"]),
                  node(prefix, "Mul", "logits", [f"{prefix}.product", f"{prefix}.logit_scale"])]  # fmt: skip
        consts.update({"normalize.axes": np.array([-1], np.int64), "normalize.eps": np.array(np.float32(NORMALIZE_EPS))})
        consts[f"{prefix}.logit_scale"] = constants["logit_scale"]
    else:
        scaled, scale_consts = _canonical_scaled_logits(prefix, f"{prefix}.q", f"{prefix}.k", scale)
        nodes += scaled
        consts.update(scale_consts)
    nodes.append(node(prefix, "Add", "bias", [f"{prefix}.logits", f"{prefix}.position_bias"]))
    consts[f"{prefix}.position_bias"] = constants["position_bias"]
    logits = f"{prefix}.bias"
    if "mask" in constants:
        windows = constants["mask"].shape[1]
        nodes += [node(prefix, "Reshape", "mask.split", [logits, f"{prefix}.mask_shape"]),
                  node(prefix, "Add", "mask", [f"{prefix}.mask.split", f"{prefix}.mask.value"]),
                  node(prefix, "Reshape", "mask.merge", [f"{prefix}.mask", f"{prefix}.logits_shape"])]  # fmt: skip
        consts.update({f"{prefix}.mask_shape": np.array([-1, windows, heads, tokens, tokens], np.int64), f"{prefix}.mask.value": constants["mask"],
                       f"{prefix}.logits_shape": np.array([-1, heads, tokens, tokens], np.int64)})  # fmt: skip
        logits = f"{prefix}.mask.merge"
    context, context_consts = _canonical_context(prefix, logits, output, tokens, dim)
    return nodes + context, {**consts, **context_consts}


def window_attention_in_one_form(model) -> None:
    """Every Swin window attention in the template's form (``families/swin/template.py``), in
    place, as ``attention_in_one_form`` does a ViT's: the region between the windows' tokens and
    the output projection's bias (found by the weights: a MatMul by [C, 3 C], then one by [C, C])
    whose constants hold a relative position bias [1, heads, N, N]; the shift mask, V2's logit
    scale and q/k normalisation, heads and scale are read from it. The one form is put in its
    place only after both computed the same on seeded random windows."""
    graph = model.graph
    inits = _initializers(model)
    for index, qkv, (x, region, output, proj), shapes, opset in _attention_regions(model, inits, ops=_WINDOW_ATTENTION_OPS, layout=False):
        constants = _window_attention_constants(region, inits)
        dim = int(inits[qkv.input[1]].dims[0])
        parameters = _attention_parameters(region, qkv, proj, inits, shapes, dim)
        tokens = shapes.get(x, [None, None, None])
        if constants is None or parameters is None or parameters[1] is None or len(tokens) != 3 or not isinstance(tokens[1], int):
            continue
        w_qkv, b_qkv, w_proj, b_proj, heads, scale = parameters
        prefix = f"window_attention{index}"
        nodes, consts = _canonical_window_attention(prefix, x, output, tokens[1], dim, heads, scale, constants, opset)
        arrays = {**consts, f"{prefix}.qkv.weight": w_qkv, f"{prefix}.qkv.bias": b_qkv, f"{prefix}.proj.weight": w_proj, f"{prefix}.proj.bias": b_proj}
        # a graph whose batch is pinned computes its own number of windows only
        windows = tokens[0] if isinstance(tokens[0], int) else 2 * (constants["mask"].shape[1] if "mask" in constants else 1)
        _replace_if_same(graph, inits, region, nodes, arrays, x, output, (windows, tokens[1], dim), index, opset)
    _drop_dead_nodes(graph)
    _drop_unused_initializers(model)


def patch_merging_as_reshape(model) -> None:
    """Swin's patch merging written as four strided Slices of the map [N, H, W, C] (offsets (0, 0),
    (1, 0), (0, 1), (1, 1) of (row, column)) and a Concat of their channels (torchvision) becomes
    the template's ``Reshape [-1, H/2, 2, W/2, 2, C]``, ``Transpose [0, 1, 3, 4, 2, 5]``, ``Reshape
    [-1, H/2, W/2, 4 C]`` (timm's), in place: the same tensor."""
    import onnx

    graph = model.graph
    inits = _initializers(model)
    producer = {out: node for node in graph.node for out in node.output}
    concats = [n for n in graph.node if n.op_type == "Concat" and len(n.input) == 4]
    shapes = _static_shapes(model) if concats else {}
    for concat in concats:
        pieces = [producer.get(i) for i in concat.input]
        if any(p is None or p.op_type != "Slice" or p.input[0] != pieces[0].input[0] for p in pieces):
            continue
        shape = shapes.get(pieces[0].input[0])
        if not shape or len(shape) != 4 or _attrs(concat)["axis"] % 4 != 3 or not all(isinstance(n, int) and n % 2 == 0 for n in shape[1:3]):
            continue
        values = [_int_inputs(p, inits) for p in pieces]
        if any(v is None or len(v) != 4 or sorted(a % 4 for a in v[2]) != [1, 2] or v[3] != [2, 2] for v in values):
            continue
        offsets = [tuple(dict(zip((a % 4 for a in v[2]), v[0]))[axis] for axis in (1, 2)) for v in values]
        if offsets != [(0, 0), (1, 0), (0, 1), (1, 1)] or any(e < n for v in values for e, n in zip(v[1], shape[1:3])):
            continue
        _, h, w, c = shape
        name = concat.name or concat.output[0]
        for suffix, target in (("split_shape", [-1, h // 2, 2, w // 2, 2, c]), ("merge_shape", [-1, h // 2, w // 2, 4 * c])):
            graph.initializer.append(onnx.numpy_helper.from_array(np.array(target, np.int64), f"{name}.{suffix}"))
        new = [onnx.helper.make_node("Reshape", [pieces[0].input[0], f"{name}.split_shape"], [f"{name}.split"], name=f"{name}.split"),
               onnx.helper.make_node("Transpose", [f"{name}.split"], [f"{name}.transpose"], name=f"{name}.transpose", perm=[0, 1, 3, 4, 2, 5]),
               onnx.helper.make_node("Reshape", [f"{name}.transpose", f"{name}.merge_shape"], [concat.output[0]], name=f"{name}.merge")]  # fmt: skip
        _replace_nodes(graph, [concat], new, concat)
    _drop_dead_nodes(graph)
    _drop_unused_initializers(model)


#: ops that compute each token from that token's channels alone (the other operand a constant of
#: at most one axis, or another such token tensor; LayerNorm and its decomposition over the last axis)
_TOKENWISE = frozenset({"LayerNormalization", "ReduceMean", "MatMul", "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Erf", "Sigmoid", "Relu", "Tanh"})


def _tokenwise(node, inits: dict) -> bool:
    if node.op_type not in _TOKENWISE:
        return False
    if node.op_type == "LayerNormalization":
        return _attrs(node).get("axis", -1) == -1
    if node.op_type == "ReduceMean":
        axes = _attrs(node).get("axes") or (_array(inits[node.input[1]]).tolist() if len(node.input) > 1 and node.input[1] in inits else None)
        return axes == [-1] and _attrs(node).get("keepdims", 1) == 1
    if node.op_type == "MatMul":
        return node.input[1] in inits and len(inits[node.input[1]].dims) == 2
    return all(len(inits[i].dims) <= 1 for i in node.input if i in inits)


def map_tokens_in_place(model) -> None:
    """A block's MLP computed on the map flattened to tokens (timm's Swin: ``reshape(B, -1, C)``
    of [B, H, W, C] before the MLP's residual branch, a Reshape back after it) computes on the map
    itself, in place: the first Reshape goes, and the Reshapes after it read the map (one back to
    the map's shape goes too). Only where every op between computes each token on its own and the
    flattened tokens feed a residual Add."""
    graph = model.graph
    inits = _initializers(model)
    outputs = {o.name for o in graph.output}
    reshapes = [n for n in graph.node if n.op_type == "Reshape"]
    shapes = _static_shapes(model) if reshapes else {}
    for first in reshapes:
        source, tokens = shapes.get(first.input[0]), shapes.get(first.output[0])
        if not source or not tokens or len(source) != 4 or len(tokens) != 3 or not all(isinstance(n, int) for n in source[1:]) or tokens[1:] != [source[1] * source[2], source[3]]:
            continue
        consumers = _consumers(graph)
        region, exits, seen, frontier, closed = [], [], set(), [first.output[0]], True
        while frontier and closed:
            tensor = frontier.pop()
            closed = tensor not in outputs
            for node in consumers.get(tensor, []):
                if id(node) in seen:
                    continue
                seen.add(id(node))
                if node.op_type == "Reshape" and node.input[0] == tensor:
                    exits.append(node)
                elif _tokenwise(node, inits):
                    region.append(node)
                    frontier.extend(node.output)
                else:
                    closed = False
        produced = {first.output[0]} | {o for n in region for o in n.output}
        residual = any(n.op_type == "Add" and first.output[0] in n.input and all(i in produced for i in n.input) for n in region)
        if not closed or not residual or not exits or any(i not in produced and i not in inits for n in region for i in n.input):
            continue
        for node in region + exits:
            node.input[:] = [first.input[0] if i == first.output[0] else i for i in node.input]
        graph.node.remove(first)
        for node in exits:
            if shapes.get(node.output[0]) == source and node.output[0] not in outputs:
                _remove_passing_through(graph, node)
    _drop_unused_initializers(model)


def spatial_mean_as_global_pool(model) -> None:
    """The mean over the rows and columns of an NHWC map without keeping them (timm's Swin head:
    ``ReduceMean(axes=[1, 2], keepdims=0)``) becomes ``Transpose`` to NCHW, ``GlobalAveragePool``
    and ``Flatten`` (torchvision's), in place: the same [N, C]."""
    import onnx

    graph = model.graph
    inits = _initializers(model)
    means = [n for n in graph.node if n.op_type == "ReduceMean" and not _attrs(n).get("keepdims", 1)]
    shapes = _static_shapes(model) if means else {}
    for node in means:
        axes = _attrs(node).get("axes")
        if axes is None and len(node.input) > 1 and node.input[1] in inits:
            axes = _array(inits[node.input[1]]).tolist()
        if len(shapes.get(node.input[0]) or []) != 4 or axes is None or sorted(a % 4 for a in axes) != [1, 2]:
            continue
        name = node.name or node.output[0]
        new = [onnx.helper.make_node("Transpose", [node.input[0]], [f"{name}.transpose"], name=f"{name}.transpose", perm=[0, 3, 1, 2]),
               onnx.helper.make_node("GlobalAveragePool", [f"{name}.transpose"], [f"{name}.pool"], name=f"{name}.pool"),
               onnx.helper.make_node("Flatten", [f"{name}.pool"], [node.output[0]], name=f"{name}.flatten", axis=1)]  # fmt: skip
        _replace_nodes(graph, [node], new, node)
    _drop_unused_initializers(model)
