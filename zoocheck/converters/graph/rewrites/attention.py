"""A transformer's self-attention in one form (``families/vit/template.py``): the region between the
fused q/k/v projection and the residual addition, found by its weights, replaced by the one form
only after both computed the same on seeded random tokens (``attention_in_one_form``). The region
walk, the parameters read from it and the one form's parts serve Swin's window attention too
(``windows.py``).
"""

from __future__ import annotations

import collections
from collections.abc import Iterator

import numpy as np

from zoocheck.converters.graph.rewrites.onnx_graph import (
    as_array,
    attributes,
    consumers_of,
    drop_dead_nodes,
    drop_unused_initializers,
    initializers_of,
    lift_weight,
    opset_of,
    producers_of,
    static_shapes,
    value_of,
)

#: the ops a self-attention region may hold besides its two projections: layout, the scaled
#: product, softmax, and the shape arithmetic some exporters compute the layout with
ATTENTION_OPS = frozenset(
    {
        "MatMul",
        "Gemm",
        "Add",
        "Mul",
        "Div",
        "Softmax",
        "Reshape",
        "Transpose",
        "Split",
        "Squeeze",
        "Unsqueeze",
        "Gather",
        "Slice",
        "Shape",
        "Concat",
        "Cast",
        "Identity",
    }
)
#: the op counts of the one form (no q/k/v bias: one Add fewer)
_CANONICAL_ATTENTION = collections.Counter(
    {"MatMul": 4, "Add": 2, "Reshape": 2, "Transpose": 3, "Split": 1, "Squeeze": 3, "Mul": 2, "Softmax": 1}
)
#: how far an exporter's self-attention may be from the one form, relative to its output's range
ATTENTION_RTOL = 1e-5
#: a scale read from an exporter's float32 constants (sqrt(scale) on q and on k, or 1 / sqrt(d) on
#: the logits) within this of 1 / sqrt(head_dim) is that scale, which the template writes: a head
#: dimension that is not a power of 4 (ViT-H's 80) rounds differently on each path
SCALE_RTOL = 1e-6


def _attention_region(graph, qkv, inits: dict, consumers: dict, producer: dict, ops: frozenset = ATTENTION_OPS, layout: bool = True):
    """(input, nodes, output) of the self-attention whose fused q/k/v projection is the MatMul
    ``qkv``: from the tensor the block normalised (through the layout ops before the projection)
    to the tensor the residual addition reads, everything between; None where it is not one.
    Without ``layout`` it is the projections' tokens in and out (Swin's windows: the layout
    around them is the window partition's)."""
    dim = int(inits[qkv.input[1]].dims[0])
    start = qkv.input[0]
    region = [qkv]
    while (
        layout
        and start in producer
        and producer[start].op_type in ("Transpose", "Reshape")
        and all(i in inits for i in producer[start].input[1:])
    ):
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
        if (
            len(users) != 1
            or users[0].op_type not in ("Add", "Reshape", "Transpose")[: 3 if layout else 1]
            or not all(i in inits for i in users[0].input if i != output)
        ):
            break
        region.append(users[0])
        output = users[0].output[0]
    produced = {out for node in region for out in node.output}
    if any(i and i not in produced and i not in inits and i != start for node in region for i in node.input):
        return None
    order = {id(node): index for index, node in enumerate(graph.node)}
    return start, sorted(region, key=lambda node: order[id(node)]), output, proj


def attention_parameters(region: list, qkv, proj, inits: dict, shapes: dict, dim: int, lifted: dict[str, np.ndarray]):
    """(q/k/v weight [dim, 3 dim], its bias or None, projection weight [dim, dim] as x @ W, its
    bias, heads, scale) of an exporter's attention region (matrices from ``lifted`` where lifted)."""
    consumers = {i: n for n in region for i in n.input}
    w_qkv = value_of(qkv.input[1], inits, lifted)
    after = consumers.get(qkv.output[0])
    b_qkv = next((as_array(inits[i]) for i in after.input if i in inits), None) if after is not None and after.op_type == "Add" else None
    w_proj = value_of(proj.input[1], inits, lifted)
    if proj.op_type == "Gemm":
        w_proj = w_proj.T if attributes(proj).get("transB", 0) else w_proj
        b_proj = as_array(inits[proj.input[2]]) if len(proj.input) > 2 else None
    else:
        after = consumers.get(proj.output[0])
        b_proj = (
            next((as_array(inits[i]) for i in after.input if i in inits), None) if after is not None and after.op_type == "Add" else None
        )
    products = [n for n in region if n.op_type == "MatMul" and not any(i in inits for i in n.input)]
    head_dim = shapes.get(products[0].input[0], [None])[-1] if products else None
    scale = 1.0
    for node in region:
        constant = next((as_array(inits[i]) for i in node.input[1:] if i in inits and np.prod(inits[i].dims) == 1), None)
        if constant is not None and node.op_type in ("Mul", "Div") and node is not proj:
            scale = scale * float(constant.reshape(())) if node.op_type == "Mul" else scale / float(constant.reshape(()))
    if not isinstance(head_dim, int) or dim % head_dim or b_proj is None:
        return None
    if abs(scale - head_dim**-0.5) <= SCALE_RTOL * head_dim**-0.5:
        scale = head_dim**-0.5  # the float32 constants an exporter wrote for 1 / sqrt(head_dim)
    return w_qkv, b_qkv, w_proj, b_proj, dim // head_dim, scale


def attention_node(prefix: str, op: str, name: str, inputs: list[str], **attrs):
    from onnx import helper

    return helper.make_node(op, inputs, [f"{prefix}.{name}"], name=f"{prefix}.{name}", **attrs)


def canonical_qkv(prefix: str, x: str, tokens: int, dim: int, heads: int, has_qkv_bias: bool):
    """The one form's fused q/k/v projection, split into the heads' q, k, v (``<prefix>.q``, ...):
    nodes and integer constants."""
    from onnx import helper

    node = attention_node
    consts = {f"{prefix}.qkv_shape": np.array([-1, tokens, 3, heads, dim // heads], np.int64), f"{prefix}.sizes": np.array([1, 1, 1], np.int64),
              f"{prefix}.axes": np.array([0], np.int64)}  # fmt: skip
    nodes = [node(prefix, "MatMul", "qkv.matmul", [x, f"{prefix}.qkv.weight"])]
    if has_qkv_bias:
        nodes.append(node(prefix, "Add", "qkv", [nodes[-1].output[0], f"{prefix}.qkv.bias"]))
    nodes += [
        node(prefix, "Reshape", "reshape", [nodes[-1].output[0], f"{prefix}.qkv_shape"]),
        node(prefix, "Transpose", "transpose", [f"{prefix}.reshape"], perm=[2, 0, 3, 1, 4]),
        helper.make_node(
            "Split", [f"{prefix}.transpose", f"{prefix}.sizes"], [f"{prefix}.{p}.piece" for p in "qkv"], name=f"{prefix}.split", axis=0
        ),
    ]
    nodes += [node(prefix, "Squeeze", p, [f"{prefix}.{p}.piece", f"{prefix}.axes"]) for p in "qkv"]
    return nodes, consts


def canonical_scaled_logits(prefix: str, q: str, k: str, scale: float):
    """q times sqrt(scale) by k^T times sqrt(scale) (``<prefix>.logits``)."""
    node = attention_node
    nodes = [node(prefix, "Transpose", "k.transpose", [k], perm=[0, 1, 3, 2]),
             node(prefix, "Mul", "q.scale", [q, f"{prefix}.sqrt_scale"]),
             node(prefix, "Mul", "k.scale", [f"{prefix}.k.transpose", f"{prefix}.sqrt_scale"]),
             node(prefix, "MatMul", "logits", [f"{prefix}.q.scale", f"{prefix}.k.scale"])]  # fmt: skip
    return nodes, {f"{prefix}.sqrt_scale": np.array(np.float32(np.sqrt(scale)), np.float32)}


def canonical_context(prefix: str, logits: str, output: str, tokens: int, dim: int):
    """Softmax of ``logits``, times v, the heads merged and projected into ``output``."""
    from onnx import helper

    node = attention_node
    nodes = [node(prefix, "Softmax", "softmax", [logits], axis=-1),
             node(prefix, "MatMul", "context", [f"{prefix}.softmax", f"{prefix}.v"]),
             node(prefix, "Transpose", "context.transpose", [f"{prefix}.context"], perm=[0, 2, 1, 3]),
             node(prefix, "Reshape", "context.reshape", [f"{prefix}.context.transpose", f"{prefix}.context_shape"]),
             node(prefix, "MatMul", "proj.matmul", [f"{prefix}.context.reshape", f"{prefix}.proj.weight"]),
             helper.make_node("Add", [f"{prefix}.proj.matmul", f"{prefix}.proj.bias"], [output], name=f"{prefix}.proj")]  # fmt: skip
    return nodes, {f"{prefix}.context_shape": np.array([-1, tokens, dim], np.int64)}


def _canonical_attention(prefix: str, x: str, output: str, tokens: int, dim: int, heads: int, scale: float, has_qkv_bias: bool):
    """The one form's nodes and initializer names -> arrays (families/vit/template.py)."""
    parts = [canonical_qkv(prefix, x, tokens, dim, heads, has_qkv_bias), canonical_scaled_logits(prefix, f"{prefix}.q", f"{prefix}.k", scale),
             canonical_context(prefix, f"{prefix}.logits", output, tokens, dim)]  # fmt: skip
    return [n for nodes, _ in parts for n in nodes], {k: v for _, consts in parts for k, v in consts.items()}


def _run_region(nodes: list, initializers: list, x: str, output: str, value: np.ndarray, opset: int) -> np.ndarray:
    import onnx
    import onnxruntime as ort

    graph = onnx.helper.make_graph(
        nodes,
        "region",
        [onnx.helper.make_tensor_value_info(x, onnx.TensorProto.FLOAT, list(value.shape))],
        [onnx.helper.make_tensor_value_info(output, onnx.TensorProto.FLOAT, None)],
        initializers,
    )
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)])
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, {x: value})[0]


def replace_if_same(
    model,
    inits: dict,
    lifted: dict[str, np.ndarray],
    region: list,
    nodes: list,
    arrays: dict[str, np.ndarray],
    x: str,
    output: str,
    shape: tuple,
    seed: int,
    opset: int,
) -> bool:
    """``nodes`` (reading ``arrays``) put in the place of ``region`` when both compute the same
    ``output`` from seeded random ``x`` of ``shape`` (within ``ATTENTION_RTOL`` of its range); both
    run with the weights' values (``lifted``'s where lifted), and the new matrices are lifted."""
    from onnx import numpy_helper

    graph = model.graph
    used = {i for n in region for i in n.input if i in inits}
    value = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    expected = _run_region(list(region), [numpy_helper.from_array(value_of(i, inits, lifted), i) for i in used], x, output, value, opset)
    got = _run_region(nodes, [numpy_helper.from_array(np.asarray(v), k) for k, v in arrays.items()], x, output, value, opset)
    if expected.shape != got.shape or np.abs(expected - got).max() > ATTENTION_RTOL * max(float(np.ptp(expected)), 1e-30):
        return False
    position = list(graph.node).index(region[0])
    for node in region:
        graph.node.remove(node)
    for offset, node in enumerate(nodes):
        graph.node.insert(position + offset, node)
    for name, array in arrays.items():
        if np.ndim(array) == 2:  # the projections' matrices
            lift_weight(model, name, np.asarray(array), lifted)
        else:
            graph.initializer.append(numpy_helper.from_array(np.asarray(array), name))
    inits.update({t.name: t for t in graph.initializer if t.name in arrays})
    return True


def attention_regions(model, inits: dict, **find) -> Iterator[tuple]:
    """Each attention region of ``model``, in order, found from a MatMul by a constant [C, 3 C]
    (a fused q/k/v projection; ``find``: ``_attention_region``'s options): (its index, that
    MatMul, (input, region, output, projection), the graph's inferred shapes, its opset). The
    graph is read again for each, as the caller replaces the region before."""
    graph = model.graph
    candidates = [
        n
        for n in graph.node
        if n.op_type == "MatMul"
        and n.input[1] in inits
        and len(inits[n.input[1]].dims) == 2
        and inits[n.input[1]].dims[1] == 3 * inits[n.input[1]].dims[0]
    ]
    if not candidates:
        return
    shapes, opset = static_shapes(model), opset_of(model)
    for index, qkv in enumerate(candidates):
        producer = producers_of(graph)
        found = _attention_region(graph, qkv, inits, consumers_of(graph), producer, **find)
        if found is not None:
            yield index, qkv, found, shapes, opset


def attention_in_one_form(model, lifted: dict[str, np.ndarray]) -> None:
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
    it is, and the match to the template then fails naming it. Weights are read from, and the new
    matrices written to, ``lifted`` (``canonical.lift_weights``)."""
    graph = model.graph
    inits = initializers_of(model)
    for index, qkv, (x, region, output, proj), shapes, opset in attention_regions(model, inits):
        if collections.Counter(n.op_type for n in region) == _CANONICAL_ATTENTION:  # already the one form
            continue
        dim = int(inits[qkv.input[1]].dims[0])
        found = attention_parameters(region, qkv, proj, inits, shapes, dim, lifted)
        tokens = shapes.get(x, [None, None, None])
        if found is None or len(tokens) != 3 or not isinstance(tokens[1], int):
            continue
        w_qkv, b_qkv, w_proj, b_proj, heads, scale = found
        prefix = f"attention{index}"
        nodes, consts = _canonical_attention(prefix, x, output, tokens[1], dim, heads, scale, b_qkv is not None)
        arrays = {**consts, f"{prefix}.qkv.weight": w_qkv, f"{prefix}.proj.weight": w_proj, f"{prefix}.proj.bias": b_proj}
        if b_qkv is not None:
            arrays[f"{prefix}.qkv.bias"] = b_qkv
        replace_if_same(model, inits, lifted, region, nodes, arrays, x, output, (1, tokens[1], dim), index, opset)
    drop_dead_nodes(graph)
    drop_unused_initializers(model, lifted)
