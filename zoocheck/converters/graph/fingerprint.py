"""The structure fingerprint: a hash of an ONNX graph without initializer values or metadata.

Two files have equal fingerprints exactly when they have the same nodes in the same order (op
type, domain, name, inputs, outputs, attributes), the same initializers by name, dtype and shape,
the same declared inputs and outputs, and the same IR version and opsets. Producer, doc strings,
the graph's name and ``metadata_props`` do not count, nor do initializer values.
"""

from __future__ import annotations

import hashlib
import json


def _value_info(vi) -> list:
    t = vi.type.tensor_type
    return [vi.name, t.elem_type, [d.dim_param or d.dim_value for d in t.shape.dim]]


def _attribute(a):
    import onnx

    value = onnx.helper.get_attribute_value(a)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return [v.decode() if isinstance(v, bytes) else repr(v) if isinstance(v, float) else v for v in value]
    if isinstance(value, (int, str)):
        return value
    # tensors / graphs as attributes: their serialised form (none in a ResNet)
    return hashlib.sha256(value.SerializeToString()).hexdigest()


def structure(model) -> dict:
    """What the fingerprint hashes, as plain data (for tests and for showing a difference)."""
    graph = model.graph
    return {
        "ir_version": model.ir_version,
        "opsets": sorted([o.domain or "", o.version] for o in model.opset_import),
        "inputs": [_value_info(i) for i in graph.input],
        "outputs": [_value_info(o) for o in graph.output],
        "initializers": sorted([t.name, t.data_type, list(t.dims)] for t in graph.initializer),
        "nodes": [
            [n.op_type, n.domain or "", n.name, list(n.input), list(n.output), sorted([a.name, _attribute(a)] for a in n.attribute)]
            for n in graph.node
        ],
    }


def fingerprint(model) -> str:
    """``sha256:<hex>`` of ``structure(model)``."""
    text = json.dumps(structure(model), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
