"""What every file zoocheck writes needs from the ONNX format (``converters/normalize.py``):

- ``declare_initializers_as_inputs``: at IR 3 (opsets 7, 8) the initializers listed as graph inputs
  too, as that IR version requires;
- ``constants_as_initializers``: below opset 9, whose Constant holds floats only, Constant nodes
  (paddle2onnx writes int64 shapes) become initializers;
- ``name_nodes``: every node gets a unique name (MXNet's exporter leaves some empty).
"""

from __future__ import annotations

from zoocheck.converters.graph.rewrites.onnx_graph import ANY_CONSTANT_OPSET, INITIALIZERS_NOT_INPUTS_IR, attributes, opset_of


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

    if opset_of(model) >= ANY_CONSTANT_OPSET:
        return
    graph = model.graph
    constants = [n for n in graph.node if n.op_type == "Constant"]
    for node in constants:
        value = attributes(node).get("value")
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
