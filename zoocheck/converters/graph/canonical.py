"""From a source exporter's graph to the canonical graph of its architecture.

0. **Lift** the convolution weights and Linear layers' matrices out of the protobuf
   (``lift_weights``): the graph keeps data-less stand-ins (name, dtype, shape) and the values live
   in numpy arrays, one copy. Every later step reads shapes only, except batch-norm folding, the
   attention rewrites' checks and the fill, which read the arrays. Why: protobuf keeps a message's
   bytes until the whole message is freed, and onnxslim rebuilds the model several times per pass;
   with the weights inside, the largest models (3.1 GiB of weights) needed six to eight times their
   weights and did not fit in 24 GiB (with them outside, about two), and each pass spent most of
   its time copying them.
1. **Simplify**: batch norm folded into the convolution it follows (``rewrites/batch_norm.py``,
   on the lifted arrays: onnxslim's folding would need the values inside the graph), then onnxslim
   (a maintained library: Identity / Dropout / dead nodes removed, shape computations on static
   shapes folded), then zoocheck's few exact rewrites (``rewrites/``: explicit pads, remaining
   batch norms as Mul + Add, one Flatten, a Gemm head).
2. **Match** the simplified graph onto the architecture's template (``template.py``), node for
   node, from the output back to the input: every node of both graphs gets a structural digest
   (op type, semantic attributes, shapes of its weights, values of its scalar constants, digests of what feeds it; the inputs of
   Add and Mul unordered) and paired nodes must have equal digests. Nothing is guessed: a graph
   whose structure differs anywhere from the template fails with the first template layer (in
   graph order) that has no counterpart.
3. **Fill** the template's float initializers with the paired nodes' weights (a Conv without a
   bias gets a zero bias), each lifted array dropped once it is copied; its integer constants (a
   Reshape's shape, a Gather's index) are the template's. The result is the template, so
   its structure is the architecture's, and the values are the exporter's, so ``zoocheck parity``
   checks the source framework against them.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import io
import logging
import os

import numpy as np

from zoocheck.converters.graph.rewrites import activations, attention, batch_norm, channels_last, heads, pads, shapes, tokens, windows
from zoocheck.converters.graph.rewrites.onnx_graph import make_stand_in, producers_of, weightless_copy

# Attributes that decide what a node computes, with the default ONNX gives each one; attributes
# outside this table are compared as written.
_SEMANTIC_DEFAULTS: dict[str, dict[str, object]] = {
    "Conv": {"auto_pad": "NOTSET", "dilations": [1, 1], "group": 1, "pads": [0, 0, 0, 0], "strides": [1, 1]},
    "MaxPool": {"auto_pad": "NOTSET", "ceil_mode": 0, "dilations": [1, 1], "pads": [0, 0, 0, 0], "storage_order": 0, "strides": [1, 1]},
    "AveragePool": {
        "auto_pad": "NOTSET",
        "ceil_mode": 0,
        "count_include_pad": 0,
        "dilations": [1, 1],
        "pads": [0, 0, 0, 0],
        "strides": [1, 1],
    },
    "Gemm": {"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 0},
    "Flatten": {"axis": 1},
    "HardSigmoid": {"alpha": float(np.float32(0.2)), "beta": 0.5},  # float attributes are float32
    "LayerNormalization": {"axis": -1, "epsilon": float(np.float32(1e-5)), "stash_type": 1},
    "Softmax": {"axis": -1},
    "Reshape": {"allowzero": 0},
    "Gather": {"axis": 0},
    "Split": {"axis": 0},
    "Pad": {"mode": "constant"},
}
_COMMUTATIVE = ("Add", "Mul")


class GraphMismatch(ValueError):
    """The exporter's graph does not have the structure of the architecture's canonical graph."""


def lift_weights(model) -> tuple[object, dict[str, np.ndarray]]:
    """``model``'s graph with its weights replaced by stand-ins without data (name, dtype, shape;
    marked external: ``onnx_graph.make_stand_in``), and those weights as arrays by name: every
    Conv's weight, and every Linear layer's matrix (an initializer read only as the right operand
    of MatMuls whose left operand depends on the graph's input: no constant folding reads it, as
    it would Swin V2's position-bias MLP on its constant table). onnxslim imports
    and exports the whole graph each round, a ViT-B's 330 MB of matrices included (2.5 s of its
    3 s there).

    ``model`` is spent (its weights are cleared); the graph returned is a new, small message where
    the lifted weights were most of its bytes, so that dropping ``model`` frees them (a cleared
    field's bytes stay in the message)."""
    import onnx
    from onnx import numpy_helper

    from zoocheck.converters.normalize import initializer_bytes

    readers: dict[str, list] = collections.defaultdict(list)
    # what depends on the input (nodes are in order; an old IR lists initializers as inputs too)
    computed = {value.name for value in model.graph.input} - {t.name for t in model.graph.initializer}
    for node in model.graph.node:
        for position, name in enumerate(node.input):
            readers[name].append((node, position))
        if any(name in computed for name in node.input):
            computed.update(node.output)
    conv_weights = {node.input[1] for node in model.graph.node if node.op_type == "Conv" and len(node.input) > 1}

    def linear_matrix(tensor) -> bool:
        read = readers.get(tensor.name, [])
        return (
            len(tensor.dims) == 2
            and tensor.data_type == onnx.TensorProto.FLOAT
            and bool(read)
            and all(node.op_type == "MatMul" and position == 1 and node.input[0] in computed for node, position in read)
        )

    weights = {}
    total = initializer_bytes(model)
    # by index: a reference left to any part of a message would keep all of its bytes alive
    for index in range(len(model.graph.initializer)):
        tensor = model.graph.initializer[index]
        if tensor.name in conv_weights or linear_matrix(tensor):
            weights[tensor.name] = numpy_helper.to_array(tensor)
            make_stand_in(tensor)
    if sum(w.nbytes for w in weights.values()) * 2 < total:
        return model, weights
    return onnx.ModelProto.FromString(model.SerializeToString()), weights


#: how many times onnxslim runs again on the pinned batch while shape arithmetic remains (one pass
#: leaves some of a Swin-T's: each pass folds what the last one made static)
PINNED_SLIM_PASSES = 4


#: onnxslim's own bound on its optimise / infer-shapes rounds
SLIM_ROUNDS = 10
#: weights left in the graph (bytes) above which shape inference runs on a ``weightless_copy``: a
#: transformer's Linear weights (convolution weights are lifted out before); below, onnxslim's own
#: rounds are quicker (a ResNet-18's pass: 0.15 s, twice that through the weightless rounds)
WEIGHTLESS_SHAPES_ABOVE = 64 << 20


def _slim(model, skip_fusion_patterns: tuple[str, ...] = ()):
    """onnxslim's optimisations, rounds of them and of shape inference until the graph stops
    changing. Above ``WEIGHTLESS_SHAPES_ABOVE`` of weights the rounds are run here, as
    ``onnxslim.slim`` runs them, with the shapes inferred on a ``weightless_copy``: onnxslim infers
    them on the whole model, which for a ViT-B is its 330 MB of weights serialised into onnx's C++
    and back each round (20 s of a 30 s canonical pass)."""
    import onnxslim
    from onnxslim.core import shape_infer  # onnxruntime's symbolic shape inference, else onnx's

    # no weight tying: each layer keeps an initializer of its own, as in the template; no Conv + Mul
    # fusion: it would read a lifted weight (and a layer scale stays a Mul); no MatMul + Add as a
    # Gemm: it would read a lifted matrix, and Linear layers stay MatMul + Add (on the pinned batch
    # of one too; ``heads.gemm_head`` makes the classifier a Gemm)
    options = {"skip_optimizations": ["weight_tying"], "skip_fusion_patterns": ["FusionConvMul", "FusionGemm", *skip_fusion_patterns]}
    # onnxslim reports progress through print() and its logger: not zoocheck's output
    with contextlib.redirect_stdout(io.StringIO()):
        logging.getLogger("onnxslim").setLevel(logging.WARNING)
        if sum(len(t.raw_data) + 4 * len(t.float_data) for t in model.graph.initializer) <= WEIGHTLESS_SHAPES_ABOVE:
            return onnxslim.slim(model, **options)
        with _one_optimisation_a_call():
            for _ in range(SLIM_ROUNDS):
                before = _structure(model)
                model = onnxslim.slim(model, no_shape_infer=True, **options)
                inferred = shape_infer(weightless_copy(model)).graph
                del model.graph.value_info[:]
                model.graph.value_info.extend(inferred.value_info)
                for output, typed in zip(model.graph.output, inferred.output):
                    output.type.CopyFrom(typed.type)
                if _structure(model) == before:
                    return model
    return model


@contextlib.contextmanager
def _one_optimisation_a_call():
    """``onnxslim.slim`` optimises once a call (its ``ONNXSLIM_MAX_ITER``): the rounds are
    ``_slim``'s, each followed by shape inference (without, slim would optimise again to find that
    nothing changed)."""
    previous = os.environ.get("ONNXSLIM_MAX_ITER")
    os.environ["ONNXSLIM_MAX_ITER"] = "1"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["ONNXSLIM_MAX_ITER"]
        else:
            os.environ["ONNXSLIM_MAX_ITER"] = previous


def _structure(model) -> tuple:
    """What a round of ``_slim`` can change: the nodes and every tensor's inferred shape."""
    return (
        tuple((n.op_type, tuple(n.input), tuple(n.output), tuple(a.SerializeToString() for a in n.attribute)) for n in model.graph.node),
        tuple(v.SerializeToString() for v in (*model.graph.value_info, *model.graph.output)),
    )


def simplify(model, weights: dict[str, np.ndarray] | None = None):
    """Batch norms folded (into ``weights``, the lifted weights), onnxslim, then
    zoocheck's exact rewrites; returns a new ModelProto. Where shape arithmetic remains after
    onnxslim (an exporter's computed from the batch size), the batch is pinned to one and onnxslim
    runs again, up to ``PINNED_SLIM_PASSES`` times (``shapes.pin_batch``)."""
    weights = weights if weights is not None else {}
    batch_norm.fold_batch_norms(model, weights)
    pads.static_pads(model)

    slim = _slim(model)
    tokens.class_tokens_as_pad(slim)
    attention.attention_in_one_form(slim, weights)
    for _ in range(PINNED_SLIM_PASSES):
        if not any(node.op_type == "Shape" for node in slim.graph.node):
            break
        shapes.pin_batch(slim)
        slim = _slim(slim, skip_fusion_patterns=("FusionGemmMul", "FusionGemmAdd"))
    shapes.drop_identity_slices(slim)
    shapes.default_slice_steps(slim)
    shapes.merge_reshape_chains(slim)
    windows.window_attention_in_one_form(slim, weights)
    windows.patch_merging_as_reshape(slim)
    windows.map_tokens_in_place(slim)
    windows.spatial_mean_as_global_pool(slim)
    tokens.layer_norm_last_axis(slim)
    tokens.token_slice_as_gather(slim)
    tokens.halving_as_mul(slim)
    heads.reduce_mean_as_global_pool(slim)
    pads.explicit_pads(slim)
    heads.drop_identity_pools(slim)
    heads.drop_flattens_of_matrices(slim)
    shapes.flatten_concats(slim)
    heads.head_pool_as_global(slim)
    heads.dense_convs_as_gemm(slim, weights)
    heads.pointwise_classifier_as_gemm(slim, weights)
    shapes.scalar_constants(slim)
    activations.hard_sigmoid_from_clip(slim)
    activations.hardswish_op(slim)
    heads.flatten_pooled_reshape(slim)
    batch_norm.batch_norm_to_affine(slim)
    channels_last.pointwise_convs_as_matmul(slim, weights)
    channels_last.layer_scale_before_transpose(slim)
    channels_last.channels_last_constants(slim)
    channels_last.pooled_norm_transpose_back(slim)
    heads.flatten_head(slim)
    heads.gemm_head(slim, weights)
    return slim


def _semantic_attrs(node, initializers: dict) -> tuple:
    import onnx

    values = dict(_SEMANTIC_DEFAULTS.get(node.op_type, {}))
    for a in node.attribute:
        value = onnx.helper.get_attribute_value(a)
        values[a.name] = value.decode() if isinstance(value, bytes) else value
    if node.op_type == "Conv" and "kernel_shape" not in values and node.input[1] in initializers:
        values["kernel_shape"] = list(initializers[node.input[1]].dims[2:])
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in values.items()))


def _initializer_digest(tensor) -> str:
    """A weight by its shape and dtype; a scalar with its value too (an operator's constant, such
    as Clip's bounds: part of the structure, which the template holds)."""
    import onnx
    from onnx import numpy_helper

    if not tensor.dims and tensor.data_location != onnx.TensorProto.EXTERNAL:
        return f"constant:{tensor.data_type}={numpy_helper.to_array(tensor).item()!r}"
    return f"weight{tuple(tensor.dims)}:{tensor.data_type}"


class _Digests:
    """Structural digest of every node of a graph, computed on demand, memoised; in producer order
    without recursion (a ViT-L's chain of nodes is deeper than Python's recursion limit)."""

    def __init__(self, model):
        graph = model.graph
        self.initializers = {t.name: t for t in graph.initializer}
        self.producer = producers_of(graph)
        self.graph_inputs = {i.name for i in graph.input}
        self._memo: dict[int, str] = {}

    def _counted(self, node) -> list[str]:
        """The input names that count; a Conv's bias does not (optional)."""
        return [name for position, name in enumerate(node.input) if name and not (node.op_type == "Conv" and position == 2)]

    def inputs(self, node) -> list[tuple[str, object]]:
        """(digest, producing node or None) per input that counts."""
        result = []
        for name in self._counted(node):
            if name in self.initializers:
                result.append((_initializer_digest(self.initializers[name]), None))
            elif name in self.graph_inputs:
                result.append(("input", None))
            else:
                producer = self.producer[name]
                result.append((self.of(producer), producer))
        return result

    def of(self, node) -> str:
        stack = [node]
        while stack:
            current = stack[-1]
            if id(current) in self._memo:
                stack.pop()
                continue
            producers = (self.producer[n] for n in self._counted(current) if n not in self.initializers and n not in self.graph_inputs)
            pending = [p for p in producers if id(p) not in self._memo]
            if pending:  # their digests first: ``inputs`` then reads them from the memo
                stack.extend(pending)
                continue
            stack.pop()
            children = [d for d, _ in self.inputs(current)]
            if current.op_type in _COMMUTATIVE:
                children = sorted(children)
            text = repr((current.op_type, current.domain or "", _semantic_attrs(current, self.initializers), children))
            self._memo[id(current)] = hashlib.sha256(text.encode()).hexdigest()
        return self._memo[id(node)]


def _pair_inputs(template: _Digests, t_node, exported: _Digests, e_node):
    t_in, e_in = template.inputs(t_node), exported.inputs(e_node)
    if t_node.op_type in _COMMUTATIVE:
        if len({d for d, _ in t_in}) != len(t_in):
            raise GraphMismatch(f"{t_node.name}: two inputs with the same structure cannot be told apart")
        e_by_digest = {d: n for d, n in e_in}
        return [(t, e_by_digest.get(d)) for d, t in t_in if t is not None]
    return [(t, e) for (_, t), (_, e) in zip(t_in, e_in) if t is not None]


def match(template_model, exported_model) -> dict[str, object]:
    """Template node name -> the exported graph's node computing the same thing (GraphMismatch
    naming the first template layer without a counterpart)."""
    t, e = _Digests(template_model), _Digests(exported_model)
    t_out = t.producer[template_model.graph.output[0].name]
    outputs = exported_model.graph.output
    e_out = e.producer.get(outputs[0].name) if outputs else None
    if e_out is None or t.of(t_out) != e.of(e_out):
        exported = {e.of(n) for n in exported_model.graph.node}
        first = next((n for n in template_model.graph.node if t.of(n) not in exported), t_out)
        raise GraphMismatch(f"the exported graph differs from the canonical one from layer {first.name} ({first.op_type}) on")
    pairs: dict[str, object] = {}
    stack = [(t_out, e_out)]
    while stack:
        t_node, e_node = stack.pop()
        if t_node.name in pairs:
            if pairs[t_node.name] is not e_node:
                raise GraphMismatch(f"{t_node.name}: matched to two different exported nodes")
            continue
        pairs[t_node.name] = e_node
        stack.extend(_pair_inputs(t, t_node, e, e_node))
    return pairs


def _weights(node, initializers: dict, lifted: dict[str, np.ndarray]) -> list:
    """The weight inputs of an exported node, in the template's order for its op."""
    from onnx import numpy_helper

    arrays = [lifted[name] if name in lifted else numpy_helper.to_array(initializers[name]) for name in node.input if name in initializers]
    if node.op_type == "Conv" and len(arrays) == 1:
        arrays.append(np.zeros(arrays[0].shape[0], np.float32))
    return arrays


def canonicalize(exported_model, lifted: dict[str, np.ndarray], template):
    """``template`` (``template.build_template``, changed in place and returned) filled with the
    weights of ``exported_model``, a normalised export (input ``input``, output ``logits``) whose
    weights ``lift_weights`` took out into ``lifted`` (emptied here as the template
    fills). Raises GraphMismatch when the export does not have the template's structure."""
    import onnx
    from onnx import numpy_helper

    exported = simplify(exported_model, lifted)
    pairs = match(template, exported)
    exported_inits = {t.name: t for t in exported.graph.initializer}
    template_inits = {t.name: i for i, t in enumerate(template.graph.initializer)}
    uses = collections.Counter(name for matched in pairs.values() for name in matched.input)
    for node in template.graph.node:
        names = [name for name in node.input if name in template_inits]
        if not names:
            continue
        values = _weights(pairs[node.name], exported_inits, lifted)
        for name, value in zip(names, values):
            slot = template.graph.initializer[template_inits[name]]
            if slot.data_type != onnx.TensorProto.FLOAT:  # a shape or an index: the template's own
                continue
            if tuple(value.shape) != tuple(slot.dims):
                raise GraphMismatch(f"{name}: the exporter's tensor has shape {tuple(value.shape)}, the canonical {tuple(slot.dims)}")
            # reshaped: ascontiguousarray makes a scalar (a Clip bound) one-dimensional
            slot.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(value, dtype=np.float32).reshape(value.shape), name))
        del values
        for source_name in pairs[node.name].input:  # copied: the lifted array can go
            uses[source_name] -= 1
            if uses[source_name] == 0:
                lifted.pop(source_name, None)
    return template
