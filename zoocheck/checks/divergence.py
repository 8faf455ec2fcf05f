"""Where two ONNX graphs of one model start to differ: the first node whose output exceeds tolerance.

Polygraphy users expect a parity failure to name the layer where it starts (``--mark all``). zoocheck's
canonical graphs give every node and tensor the same name in every file of one architecture, so two
files' intermediate values compare by name, without aligning graphs: every node output that both
files compute is made a graph output, both run on the same inputs, and the nodes are walked in the
reference file's (topological) order until one output's error exceeds the tolerance. A fresh
conversion is compared the same way with the source framework's own per-layer outputs
(``NativeModel.layer_outputs``, named by the canonical tensors: each batch norm's output is the
Conv it is folded into).

The error of a tensor is judged like the logits are: max |ref - test| over the reference tensor's
range (max - min), so early activations of any scale are judged alike.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from zoocheck.records import Divergence, NodeError
from zoocheck.zoo_registry.types import Architecture

#: the suffix onnxruntime's QDQ quantizer gives a tensor's dequantized value
DEQUANTIZED = "_DequantizeLinear_Output"


class DivergenceUnavailable(RuntimeError):
    """The two files cannot be compared node by node (no common tensor names, or too large)."""


def _relative_error(reference: np.ndarray, test: np.ndarray) -> tuple[float, float]:
    ref, out = np.asarray(reference, np.float64), np.asarray(test, np.float64)
    if ref.shape != out.shape:
        return float("inf"), float("inf")
    if not (np.isfinite(ref).all() and np.isfinite(out).all()):
        return float("inf"), float("inf")
    max_abs = float(np.abs(ref - out).max()) if ref.size else 0.0
    span = float(ref.max() - ref.min()) if ref.size else 0.0
    return (max_abs / span if span > 0 else (0.0 if max_abs == 0 else float("inf"))), max_abs


def _run(path: Path, names: Sequence[str], batch: np.ndarray) -> dict[str, np.ndarray]:
    from zoocheck.converters.onnx_runtime import IntermediatesUnavailable, intermediate_outputs

    try:
        return intermediate_outputs(path, list(names), batch)
    except IntermediatesUnavailable as exc:
        raise DivergenceUnavailable(str(exc)) from exc


def _conv_weight_shapes(path: Path) -> list[tuple[int, ...]] | None:
    """The shapes of the ONNX file's convolution weights, in graph order; None where a weight is
    computed in the graph rather than stored."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    stored = {t.name: tuple(t.dims) for t in graph.initializer}
    weights = [node.input[1] for node in graph.node if node.op_type == "Conv"]
    return [stored[w] for w in weights] if all(w in stored for w in weights) else None


def architecture_difference(reference: str | Path, test: str | Path) -> str | None:
    """How the graph of ``test`` departs from the architecture of ``reference`` (a conversion of
    the model ``test`` is checked as), or None when it may be that architecture: the convolutions'
    weight shapes compared in any order and under any names, which every exporter of one
    architecture keeps (batch norm folded or not, canonical or native names)."""
    from collections import Counter

    expected, found = _conv_weight_shapes(Path(reference)), _conv_weight_shapes(Path(test))
    if expected is None or found is None or Counter(expected) == Counter(found):
        return None
    shared = sum((Counter(expected) & Counter(found)).values())
    return f"{len(found)} convolutions where the architecture has {len(expected)}, {shared} of their weight shapes in common"


def first_divergence(reference: str | Path, test: str | Path, batch: np.ndarray, *, tolerance: float) -> Divergence | None:
    """The first node (in the reference's order) whose output differs between the two ONNX files by
    more than ``tolerance`` on ``batch``; None when every common tensor agrees.

    Raises DivergenceUnavailable when the files share no node outputs by name."""
    import onnx

    reference, test = Path(reference), Path(test)
    ref_graph = onnx.load(str(reference), load_external_data=False).graph
    test_outputs = {o for n in onnx.load(str(test), load_external_data=False).graph.node for o in n.output}
    names = [out for node in ref_graph.node for out in node.output[:1] if out and out in test_outputs]
    if not names:
        raise DivergenceUnavailable(f"{reference.name} and {test.name} share no tensor names; compare canonical graphs")
    # an int8 (QDQ) file keeps each tensor's name on the op computing it, but what the next op
    # reads is its dequantized value, which also carries an activation the quantizer removed
    # (a ReLU folded into the quantization range): compare that one
    read = {name: f"{name}{DEQUANTIZED}" if f"{name}{DEQUANTIZED}" in test_outputs else name for name in names}
    ref_values = _run(reference, names, batch)
    test_values = _run(test, [read[name] for name in names], batch)
    test_values = {name: test_values[read[name]] for name in names}
    return _first_exceeding(ref_graph, ref_values, test_values, tolerance)


def first_divergence_from_layers(
    layers: Mapping[str, np.ndarray], test: str | Path, batch: np.ndarray, *, tolerance: float, arch: Architecture | None = None
) -> Divergence | None:
    """The first node of the ONNX file ``test`` (in its order) whose output differs from the source
    framework's own output of that layer, ``layers`` (``NativeModel.layer_outputs`` on ``batch``:
    canonical tensor names), by more than ``tolerance``; None when every layer agrees.

    A file that does not compute every one of the tensors by name (a native graph) is compared through its
    canonical form, computed in memory for ``arch`` (``graph/correspondence.py``): each layer is
    looked up under the native tensor holding its value, the file itself is run, and the
    divergence names the native node with the canonical ``layer`` beside it. Raises
    DivergenceUnavailable when neither names the layers (no ``arch``, or a graph that is not its
    canonical form's)."""
    import onnx

    test = Path(test)
    graph = onnx.load(str(test), load_external_data=False).graph
    names = [out for node in graph.node for out in node.output[:1] if out in layers]
    layer_of: dict[str, str] = {}
    if len(names) < len(layers) and arch is not None:  # not the canonical graph, which computes every layer
        layer_of = _native_tensors(test, arch, layers)
        layers = {native: layers[canonical] for native, canonical in layer_of.items()}
        names = [out for node in graph.node for out in node.output[:1] if out in layers]
    if not names:
        raise DivergenceUnavailable(f"{test.name} computes none of the framework's layers by name; only canonical graphs name them")
    values = _run(test, names, batch)
    divergence = _first_exceeding(graph, {n: _as_map(layers[n], values[n].shape) for n in names}, values, tolerance)
    if divergence is None or not layer_of:
        return divergence
    return dataclasses.replace(divergence, layer=layer_of.get(divergence.output))


def _as_map(layer: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A framework's tokens [N, H * W, C] as the map [N, H, W, C] of the graph's tensor (timm's Swin
    blocks flatten the map around their MLP: the same values, row by row); any other layer as it is."""
    if layer.ndim == 3 and len(shape) == 4 and layer.shape == (shape[0], shape[1] * shape[2], shape[3]):
        return layer.reshape(shape)
    return layer


def _native_tensors(path: Path, arch: Architecture, layers: Mapping[str, np.ndarray]) -> dict[str, str]:
    """Native tensor of the file at ``path`` -> the canonical tensor among ``layers`` whose value it
    holds (``correspondence.canonical_tensors``)."""
    import onnx

    from zoocheck.converters.graph.correspondence import UnpairedGraph, paired_tensors

    try:
        pairs = paired_tensors(onnx.load(str(path)), arch, path.name)
    except UnpairedGraph as exc:
        raise DivergenceUnavailable(str(exc)) from exc
    return {native: canonical for canonical, native in pairs.items() if canonical in layers}


def _first_exceeding(graph, reference: Mapping[str, np.ndarray], test: Mapping[str, np.ndarray], tolerance: float) -> Divergence | None:
    """Walk ``graph``'s nodes in order over the tensors compared: the first whose error exceeds
    ``tolerance``, as a Divergence (with the initializers the node consumes)."""
    initializers = {t.name for t in graph.initializer}
    compared = [(node, node.output[0]) for node in graph.node if node.output and node.output[0] in reference]
    errors = []
    for index, (node, out) in enumerate(compared):
        rel, absolute = _relative_error(reference[out], test[out])
        errors.append(NodeError(node.name or out, out, rel))
        if not rel <= tolerance:
            return Divergence(
                node=node.name or out,
                op_type=node.op_type,
                output=out,
                max_rel_err=rel,
                max_abs_err=absolute,
                nodes_compared=index,
                tolerance=tolerance,
                initializers=tuple(i for i in node.input if i in initializers),
                node_errors=tuple(errors),
            )
    return None


__all__ = ["Divergence", "DivergenceUnavailable", "architecture_difference", "first_divergence", "first_divergence_from_layers"]
