"""Reading and editing an ONNX graph in place, for the rewrites: node attributes, initializers as
arrays, who reads a tensor, nodes replaced or removed, inferred shapes and ranks; and the opset
(and IR) facts the rewrites and the canonical templates test against. Imports onnx lazily.
"""

from __future__ import annotations

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
#: The first opset whose Clip takes its bounds as inputs (attributes before).
CLIP_INPUTS_OPSET = 11
#: The first opset with the HardSwish operator (below it: Mul(x, HardSigmoid(x, 1/6, 0.5))).
HARDSWISH_OPSET = 14
#: ReduceMean / ReduceL2 take their axes as an input from opset 18, an attribute before
REDUCE_AXES_INPUTS_OPSET = 18
#: Split takes its sizes and Squeeze its axes as inputs from opset 13 (the attention's one form)
SPLIT_INPUTS_OPSET = 13


def attributes(node) -> dict:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def set_attributes(node, **values) -> None:
    import onnx

    keep = [a for a in node.attribute if a.name not in values]
    del node.attribute[:]
    node.attribute.extend(keep)
    for name, value in values.items():
        if value is not None:
            node.attribute.append(onnx.helper.make_attribute(name, value))


def as_str(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def opset_of(model) -> int:
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def initializers_of(model) -> dict:
    return {t.name: t for t in model.graph.initializer}


def as_array(tensor) -> np.ndarray:
    from onnx import numpy_helper

    return numpy_helper.to_array(tensor)


#: The external-data location of a lifted weight's stand-in, followed by the weight's name (no two
#: stand-ins compare equal, where onnxslim compares constants by their fields): no file of that
#: name is ever written, so a library that tried to read a lifted value would fail, not read
#: something else.
LIFTED_LOCATION = "zoocheck-lifted-weight"


def make_stand_in(tensor) -> None:
    """Clear ``tensor``'s values and mark it as a lifted weight (``canonical.lift_weights``), in
    place: name, dtype and shape kept."""
    import onnx

    for field in ("raw_data", "float_data"):
        tensor.ClearField(field)
    del tensor.external_data[:]
    tensor.data_location = onnx.TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value=f"{LIFTED_LOCATION}/{tensor.name}")


def value_of(name: str, inits: dict, lifted: dict[str, np.ndarray]) -> np.ndarray:
    """An initializer's values, read from ``lifted`` where it is a lifted weight's stand-in."""
    return lifted[name] if name in lifted else as_array(inits[name])


def lift_weight(model, name: str, array: np.ndarray, lifted: dict[str, np.ndarray]) -> None:
    """``array`` as the initializer ``name`` of ``model``, lifted: a stand-in in the graph, the
    values in ``lifted``."""
    import onnx

    stand_in = onnx.TensorProto(name=name, data_type=onnx.TensorProto.FLOAT, dims=array.shape)
    make_stand_in(stand_in)
    _put_initializer(model, stand_in)
    lifted[name] = np.ascontiguousarray(array, dtype=np.float32)


def replace_initializer(model, name: str, array: np.ndarray) -> None:
    from onnx import numpy_helper

    _put_initializer(model, numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))


def _put_initializer(model, tensor) -> None:
    """``tensor`` in place of ``model``'s initializer of its name, or added."""
    inits = model.graph.initializer
    for i, t in enumerate(inits):
        if t.name == tensor.name:
            inits[i].CopyFrom(tensor)
            return
    inits.append(tensor)


def drop_unused_initializers(model, lifted: dict[str, np.ndarray] | None = None) -> None:
    """Initializers no node reads removed, and the ``lifted`` values of those that were stand-ins."""
    # deleted in place: extending a repeated field with the kept tensors would copy every one
    # (for a 3.3 GB model, gigabytes that the allocator keeps after they are freed)
    used = {name for node in model.graph.node for name in node.input}
    inits = model.graph.initializer
    for index in reversed(range(len(inits))):
        if inits[index].name not in used:
            if lifted is not None:
                lifted.pop(inits[index].name, None)
            del inits[index]


def producers_of(graph) -> dict[str, object]:
    """The node writing each tensor, by name (inputs and initializers have none)."""
    return {out: node for node in graph.node for out in node.output}


def consumers_of(graph) -> dict[str, list]:
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    return consumers


def remove_passing_through(graph, node) -> None:
    """Remove a node computing the identity, its consumers reading its input instead."""
    for other in graph.node:
        other.input[:] = [node.input[0] if name == node.output[0] else name for name in other.input]
    graph.node.remove(node)


def replace_nodes(graph, removed: list, added: list, at) -> None:
    """``added`` inserted where ``at`` is, then every node of ``removed`` taken out."""
    position = list(graph.node).index(at)
    for offset, node in enumerate(added):
        graph.node.insert(position + offset, node)
    for node in removed:
        graph.node.remove(node)


def drop_dead_nodes(graph) -> None:
    """Remove the nodes whose outputs nothing reads (and no graph output is), until none is left."""
    outputs = {o.name for o in graph.output}
    while True:
        read = {name for node in graph.node for name in node.input} | outputs
        dead = [node for node in graph.node if not any(out in read for out in node.output)]
        if not dead:
            return
        for node in dead:
            graph.node.remove(node)


def int_inputs(node, inits: dict) -> list | None:
    """The values of a node's inputs after the first, all initializers, as lists; None otherwise."""
    if not all(i in inits for i in node.input[1:] if i):
        return None
    return [as_array(inits[i]).reshape(-1).tolist() for i in node.input[1:] if i]


#: initializers up to this many values keep them in ``weightless_copy``: shape arithmetic reads
#: its small constants (Reshape targets, Slice bounds, Pad amounts), never a weight
SHAPE_VALUES_UP_TO = 64


def weightless_copy(model):
    """``model`` with its float initializers over ``SHAPE_VALUES_UP_TO`` values (the weights) as
    graph inputs of their shape and type, for shape inference: serialising a ViT-B's 330 MB of
    weights into onnx's C++ and back costs seconds a call, and no shape depends on them (an
    initializer without its values would not do: onnxruntime's symbolic shape inference reads some,
    a position embedding's among them)."""
    import onnx

    light = onnx.ModelProto(ir_version=max(model.ir_version, 4))  # IR 4: initializers need not be inputs
    light.opset_import.extend(model.opset_import)
    light.functions.extend(model.functions)
    for field in ("node", "input", "output", "value_info"):
        getattr(light.graph, field).extend(getattr(model.graph, field))
    declared = {value.name for value in model.graph.input}
    for tensor in model.graph.initializer:
        weight = tensor.data_type == onnx.TensorProto.FLOAT and int(np.prod(tensor.dims)) > SHAPE_VALUES_UP_TO
        if weight or tensor.data_location == onnx.TensorProto.EXTERNAL:
            if tensor.name not in declared:
                light.graph.input.append(onnx.helper.make_tensor_value_info(tensor.name, tensor.data_type, tensor.dims))
        else:
            light.graph.initializer.append(tensor)
    return light


def _inferred_values(model, data_prop: bool = False) -> list:
    """The value infos shape inference gives every tensor of ``model`` (inputs and outputs included)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(weightless_copy(model), data_prop=data_prop).graph
    declared = {value.name for value in model.graph.input}  # not the weights the copy declares
    return [*inferred.value_info, *(v for v in inferred.input if v.name in declared), *inferred.output]


def spatial_shapes(model) -> dict[str, list[int]]:
    """Static spatial sizes of every tensor shape inference can tell (only called when needed)."""
    shapes = {}
    for vi in _inferred_values(model):
        dims = vi.type.tensor_type.shape.dim
        if len(dims) == 4 and all(d.HasField("dim_value") for d in dims[2:]):
            shapes[vi.name] = [d.dim_value for d in dims[2:]]
    return shapes


def static_shapes(model) -> dict[str, list]:
    """Every tensor's inferred shape, a symbolic dimension as its name (``data_prop``: Pad outputs
    whose amounts are now initializers get their sizes)."""
    shapes = {}
    for vi in _inferred_values(model, data_prop=True):
        t = vi.type.tensor_type
        if t.HasField("shape"):
            shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.shape.dim]
    return shapes


def tensor_ranks(model) -> dict[str, int]:
    """Every tensor's rank shape inference can tell."""
    ranks = {t.name: len(t.dims) for t in model.graph.initializer}
    for vi in _inferred_values(model):
        if vi.type.tensor_type.HasField("shape"):
            ranks[vi.name] = len(vi.type.tensor_type.shape.dim)
    return ranks
