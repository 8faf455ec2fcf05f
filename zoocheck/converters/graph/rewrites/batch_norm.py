"""Batch normalisation, in the canonical graph's two forms:

- ``fold_batch_norms``: a batch norm after a convolution (whose output nothing else reads) folded
  into its weights and bias, on the lifted weight arrays (``canonical.lift_weights``; onnxslim
  does the same fold but only with the weights inside the graph, at several times their memory);
- ``batch_norm_to_affine``: a batch norm that is left after folding (v2's pre-activations) becomes
  ``Mul`` by scale then ``Add`` of shift, whatever epsilon/momentum the exporter wrote.
"""

from __future__ import annotations

import collections

import numpy as np

from zoocheck.converters.graph.rewrites.onnx_graph import (
    as_array,
    attributes,
    consumers_of,
    drop_unused_initializers,
    initializers_of,
    producers_of,
    replace_initializer,
)


def fold_batch_norms(model, lifted: dict[str, np.ndarray]) -> None:
    """Every inference-mode BatchNormalization whose input is the output of a Conv that nothing
    else reads (no other node, no graph output) and whose weight no other Conv uses is folded into
    that Conv, in place: W' = W * s, b' = (b - mean) * s + beta with s = gamma / sqrt(var + eps),
    computed in float64. The Conv weight is read from and written to ``lifted`` when it was
    lifted, else its initializer; the Conv takes the batch norm's output name and the batch norm
    goes."""
    graph = model.graph
    inits = initializers_of(model)
    producer = producers_of(graph)
    consumers = consumers_of(graph)
    weight_users = collections.Counter(node.input[1] for node in graph.node if node.op_type == "Conv")
    graph_outputs = {out.name for out in graph.output}
    folded = []
    for bn in graph.node:
        conv = producer.get(bn.input[0]) if bn.op_type == "BatchNormalization" else None
        if (
            conv is None
            or conv.op_type != "Conv"
            or len(consumers[conv.output[0]]) != 1
            or conv.output[0] in graph_outputs
            or weight_users[conv.input[1]] != 1
            or not all(n in inits for n in bn.input[1:5])
        ):
            continue
        if (len(bn.output) > 1 and any(bn.output[1:])) or attributes(bn).get("training_mode", 0):
            continue
        gamma, beta, mean, var = (as_array(inits[name]).astype(np.float64) for name in bn.input[1:5])
        scale = gamma / np.sqrt(var + attributes(bn).get("epsilon", 1e-5))
        weight_name = conv.input[1]
        weight = lifted[weight_name] if weight_name in lifted else as_array(inits[weight_name])
        bias = as_array(inits[conv.input[2]]).astype(np.float64) if len(conv.input) > 2 and conv.input[2] else np.zeros(len(scale))
        folded_weight = (weight.astype(np.float64) * scale.reshape(-1, *[1] * (weight.ndim - 1))).astype(np.float32)
        if weight_name in lifted:
            lifted[weight_name] = folded_weight
        else:
            replace_initializer(model, weight_name, folded_weight)
        bias_name = f"{bn.output[0]}.folded_bias"
        replace_initializer(model, bias_name, (bias - mean) * scale + beta)
        conv.input[:] = [conv.input[0], weight_name, bias_name]
        conv.output[0] = bn.output[0]
        folded.append(bn)
    for bn in folded:
        graph.node.remove(bn)
    drop_unused_initializers(model)


def batch_norm_to_affine(model) -> None:
    """Every inference-mode BatchNormalization becomes Mul(scale) + Add(shift), in place."""
    import onnx

    inits = initializers_of(model)
    graph = model.graph
    rebuilt = []
    for node in graph.node:
        if node.op_type != "BatchNormalization":
            rebuilt.append(node)
            continue
        if len(node.output) > 1 and any(node.output[1:]):
            raise ValueError(f"batch norm {node.name}: training-mode outputs cannot be folded")
        gamma, beta, mean, var = (as_array(inits[name]).astype(np.float64) for name in node.input[1:5])
        epsilon = attributes(node).get("epsilon", 1e-5)
        scale = gamma / np.sqrt(var + epsilon)
        shift = beta - mean * scale
        base = node.name or node.output[0]
        replace_initializer(model, f"{base}.scale", scale.reshape(-1, 1, 1))
        replace_initializer(model, f"{base}.shift", shift.reshape(-1, 1, 1))
        scaled = f"{base}.scaled"
        rebuilt.append(onnx.helper.make_node("Mul", [node.input[0], f"{base}.scale"], [scaled], name=f"{base}.mul"))
        rebuilt.append(onnx.helper.make_node("Add", [scaled, f"{base}.shift"], [node.output[0]], name=f"{base}.add"))
    del graph.node[:]
    graph.node.extend(rebuilt)
    drop_unused_initializers(model)
