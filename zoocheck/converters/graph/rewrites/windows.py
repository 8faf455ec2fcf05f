"""Swin in one form (``families/swin/template.py``'s), whatever the zoo's exporter wrote:

- ``window_attention_in_one_form``: each window attention (relative position bias, shift mask,
  V2's cosine attention) as the template's;
- ``patch_merging_as_reshape``: torchvision's four strided Slices and Concat as timm's
  Reshape/Transpose/Reshape;
- ``map_tokens_in_place``: timm's MLP on the map flattened to tokens computed on the map itself;
- ``spatial_mean_as_global_pool``: timm's head mean over rows and columns as torchvision's
  Transpose, GlobalAveragePool and Flatten.
"""

from __future__ import annotations

import numpy as np

from zoocheck.converters.graph.rewrites.attention import (
    ATTENTION_OPS,
    attention_node,
    attention_parameters,
    attention_regions,
    canonical_context,
    canonical_qkv,
    canonical_scaled_logits,
    replace_if_same,
)
from zoocheck.converters.graph.rewrites.onnx_graph import (
    CLIP_INPUTS_OPSET,
    REDUCE_AXES_INPUTS_OPSET,
    as_array,
    attributes,
    consumers_of,
    drop_dead_nodes,
    drop_unused_initializers,
    initializers_of,
    int_inputs,
    producers_of,
    remove_passing_through,
    replace_nodes,
    static_shapes,
)

#: the end torch.onnx gives a Slice to the end of an axis (``torch.roll``'s pieces)
ROLL_END = 2**63 - 1
#: the smallest norm F.normalize divides by (Swin V2's q and k, every zoo)
NORMALIZE_EPS = 1e-12
#: a window attention's region may also hold V2's q and k normalisation: torch's F.normalize,
#: or paddle2onnx's p_norm (the root of the summed squares of the absolute values)
_WINDOW_ATTENTION_OPS = ATTENTION_OPS | {"ReduceL2", "Clip", "Expand", "Abs", "Pow", "ReduceSum"}


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
                found["position_bias"] = as_array(tensor)
            elif node.op_type == "Add" and len(dims) == 5 and dims[0] == dims[2] == 1 and dims[3] == dims[4]:
                found["mask"] = as_array(tensor)
            elif node.op_type == "Mul" and len(dims) == 3 and dims[1:] == [1, 1]:
                found["logit_scale"] = as_array(tensor)
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


def _canonical_window_attention(
    prefix: str, x: str, output: str, tokens: int, dim: int, heads: int, scale: float, constants: dict, opset: int
):
    """The template's window attention (``families/swin/template.py``) between the windows'
    tokens ``x`` and the projection's ``output``: nodes and initializer names -> arrays (but the
    projections' weights)."""
    node = attention_node
    nodes, consts = canonical_qkv(prefix, x, tokens, dim, heads, True)
    if "logit_scale" in constants:  # V2's cosine attention
        for part in "qk":
            nodes += _canonical_unit_norm(f"{prefix}.{part}.normalize", f"{prefix}.{part}", opset)
        nodes += [
            node(prefix, "Transpose", "k.transpose", [f"{prefix}.k.normalize"], perm=[0, 1, 3, 2]),
            node(prefix, "MatMul", "product", [f"{prefix}.q.normalize", f"{prefix}.k.transpose"]),
            node(prefix, "Mul", "logits", [f"{prefix}.product", f"{prefix}.logit_scale"]),
        ]
        consts.update({"normalize.axes": np.array([-1], np.int64), "normalize.eps": np.array(np.float32(NORMALIZE_EPS))})
        consts[f"{prefix}.logit_scale"] = constants["logit_scale"]
    else:
        scaled, scale_consts = canonical_scaled_logits(prefix, f"{prefix}.q", f"{prefix}.k", scale)
        nodes += scaled
        consts.update(scale_consts)
    nodes.append(node(prefix, "Add", "bias", [f"{prefix}.logits", f"{prefix}.position_bias"]))
    consts[f"{prefix}.position_bias"] = constants["position_bias"]
    logits = f"{prefix}.bias"
    if "mask" in constants:
        windows = constants["mask"].shape[1]
        nodes += [
            node(prefix, "Reshape", "mask.split", [logits, f"{prefix}.mask_shape"]),
            node(prefix, "Add", "mask", [f"{prefix}.mask.split", f"{prefix}.mask.value"]),
            node(prefix, "Reshape", "mask.merge", [f"{prefix}.mask", f"{prefix}.logits_shape"]),
        ]
        consts.update(
            {
                f"{prefix}.mask_shape": np.array([-1, windows, heads, tokens, tokens], np.int64),
                f"{prefix}.mask.value": constants["mask"],
                f"{prefix}.logits_shape": np.array([-1, heads, tokens, tokens], np.int64),
            }
        )
        logits = f"{prefix}.mask.merge"
    context, context_consts = canonical_context(prefix, logits, output, tokens, dim)
    return nodes + context, {**consts, **context_consts}


def window_attention_in_one_form(model, lifted: dict[str, np.ndarray]) -> None:
    """Every Swin window attention in the template's form (``families/swin/template.py``), in
    place, as ``attention_in_one_form`` does a ViT's: the region between the windows' tokens and
    the output projection's bias (found by the weights: a MatMul by [C, 3 C], then one by [C, C])
    whose constants hold a relative position bias [1, heads, N, N]; the shift mask, V2's logit
    scale and q/k normalisation, heads and scale are read from it. The one form is put in its
    place only after both computed the same on seeded random windows (the weights from ``lifted``
    where lifted)."""
    graph = model.graph
    inits = initializers_of(model)
    for index, qkv, (x, region, output, proj), shapes, opset in attention_regions(model, inits, ops=_WINDOW_ATTENTION_OPS, layout=False):
        constants = _window_attention_constants(region, inits)
        dim = int(inits[qkv.input[1]].dims[0])
        parameters = attention_parameters(region, qkv, proj, inits, shapes, dim, lifted)
        tokens = shapes.get(x, [None, None, None])
        if constants is None or parameters is None or parameters[1] is None or len(tokens) != 3 or not isinstance(tokens[1], int):
            continue
        w_qkv, b_qkv, w_proj, b_proj, heads, scale = parameters
        prefix = f"window_attention{index}"
        nodes, consts = _canonical_window_attention(prefix, x, output, tokens[1], dim, heads, scale, constants, opset)
        arrays = {
            **consts,
            f"{prefix}.qkv.weight": w_qkv,
            f"{prefix}.qkv.bias": b_qkv,
            f"{prefix}.proj.weight": w_proj,
            f"{prefix}.proj.bias": b_proj,
        }
        # a graph whose batch is pinned computes its own number of windows only
        windows = tokens[0] if isinstance(tokens[0], int) else 2 * (constants["mask"].shape[1] if "mask" in constants else 1)
        replace_if_same(model, inits, lifted, region, nodes, arrays, x, output, (windows, tokens[1], dim), index, opset)
    drop_dead_nodes(graph)
    drop_unused_initializers(model, lifted)


def patch_merging_as_reshape(model) -> None:
    """Swin's patch merging written as four strided Slices of the map [N, H, W, C] (offsets (0, 0),
    (1, 0), (0, 1), (1, 1) of (row, column)) and a Concat of their channels (torchvision) becomes
    the template's ``Reshape [-1, H/2, 2, W/2, 2, C]``, ``Transpose [0, 1, 3, 4, 2, 5]``, ``Reshape
    [-1, H/2, W/2, 4 C]`` (timm's), in place: the same tensor."""
    import onnx

    graph = model.graph
    inits = initializers_of(model)
    producer = producers_of(graph)
    concats = [n for n in graph.node if n.op_type == "Concat" and len(n.input) == 4]
    shapes = static_shapes(model) if concats else {}
    for concat in concats:
        pieces = [producer.get(i) for i in concat.input]
        if any(p is None or p.op_type != "Slice" or p.input[0] != pieces[0].input[0] for p in pieces):
            continue
        shape = shapes.get(pieces[0].input[0])
        if (
            not shape
            or len(shape) != 4
            or attributes(concat)["axis"] % 4 != 3
            or not all(isinstance(n, int) and n % 2 == 0 for n in shape[1:3])
        ):
            continue
        values = [int_inputs(p, inits) for p in pieces]
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
        replace_nodes(graph, [concat], new, concat)
    drop_dead_nodes(graph)
    drop_unused_initializers(model)


#: ops that compute each token from that token's channels alone (the other operand a constant of
#: at most one axis, or another such token tensor; LayerNorm and its decomposition over the last axis)
_TOKENWISE = frozenset(
    {"LayerNormalization", "ReduceMean", "MatMul", "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Erf", "Sigmoid", "Relu", "Tanh"}
)


def _tokenwise(node, inits: dict) -> bool:
    if node.op_type not in _TOKENWISE:
        return False
    if node.op_type == "LayerNormalization":
        return attributes(node).get("axis", -1) == -1
    if node.op_type == "ReduceMean":
        axes = attributes(node).get("axes") or (
            as_array(inits[node.input[1]]).tolist() if len(node.input) > 1 and node.input[1] in inits else None
        )
        return axes == [-1] and attributes(node).get("keepdims", 1) == 1
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
    inits = initializers_of(model)
    outputs = {o.name for o in graph.output}
    reshapes = [n for n in graph.node if n.op_type == "Reshape"]
    shapes = static_shapes(model) if reshapes else {}
    for first in reshapes:
        source, tokens = shapes.get(first.input[0]), shapes.get(first.output[0])
        if (
            not source
            or not tokens
            or len(source) != 4
            or len(tokens) != 3
            or not all(isinstance(n, int) for n in source[1:])
            or tokens[1:] != [source[1] * source[2], source[3]]
        ):
            continue
        consumers = consumers_of(graph)
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
                remove_passing_through(graph, node)
    drop_unused_initializers(model)


def spatial_mean_as_global_pool(model) -> None:
    """The mean over the rows and columns of an NHWC map without keeping them (timm's Swin head:
    ``ReduceMean(axes=[1, 2], keepdims=0)``) becomes ``Transpose`` to NCHW, ``GlobalAveragePool``
    and ``Flatten`` (torchvision's), in place: the same [N, C]."""
    import onnx

    graph = model.graph
    inits = initializers_of(model)
    means = [n for n in graph.node if n.op_type == "ReduceMean" and not attributes(n).get("keepdims", 1)]
    shapes = static_shapes(model) if means else {}
    for node in means:
        axes = attributes(node).get("axes")
        if axes is None and len(node.input) > 1 and node.input[1] in inits:
            axes = as_array(inits[node.input[1]]).tolist()
        if len(shapes.get(node.input[0]) or []) != 4 or axes is None or sorted(a % 4 for a in axes) != [1, 2]:
            continue
        name = node.name or node.output[0]
        new = [onnx.helper.make_node("Transpose", [node.input[0]], [f"{name}.transpose"], name=f"{name}.transpose", perm=[0, 3, 1, 2]),
               onnx.helper.make_node("GlobalAveragePool", [f"{name}.transpose"], [f"{name}.pool"], name=f"{name}.pool"),
               onnx.helper.make_node("Flatten", [f"{name}.pool"], [node.output[0]], name=f"{name}.flatten", axis=1)]  # fmt: skip
        replace_nodes(graph, [node], new, node)
    drop_unused_initializers(model)
