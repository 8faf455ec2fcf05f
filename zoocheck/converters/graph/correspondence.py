"""Which tensor of a native graph holds the value of each tensor of the canonical graph.

A native file (the source exporter's graph, ``--graph native``; an ONNX model zoo file; MXNet's
export) names its tensors its own way, so the framework's per-layer outputs (named by the canonical
graph: ``NativeModel.layer_outputs``) cannot be looked up in it by name. The canonical form
computed in memory (``canonical.simplify`` + ``canonical.match``, exactly what a canonical
conversion does, weights lifted so nothing large is copied) pairs every template node with the
exporter's node computing the same thing; the rewrites keep the exporter's tensor names where a
value survives (a Conv with a batch norm folded in takes the batch norm's output name, a batch
norm made Mul + Add outputs under its own), so the pair's output names the native tensor. A
canonical tensor whose value the native graph never holds (a rewrite's new tensor) is left out.
"""

from __future__ import annotations

from zoocheck.zoo_registry.types import Architecture


def canonical_tensors(model, arch: Architecture) -> dict[str, str]:
    """Canonical graph tensor -> the tensor of ``model`` (a normalised export of ``arch``: input
    ``input``, output ``logits``; left unchanged) holding the same value, in the canonical graph's
    order. Raises GraphMismatch where the graph is not ``arch``'s, NoCanonicalForm where ``arch``
    has no canonical graph."""
    import onnx

    from zoocheck.converters.graph import template_for_export
    from zoocheck.converters.graph.canonical import lift_weights, match, simplify

    native_tensors = {out for node in model.graph.node for out in node.output}
    template = template_for_export(model, arch)
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    lifted_graph, lifted = lift_weights(copy)
    pairs = match(template, simplify(lifted_graph, lifted))
    found = {}
    for node in template.graph.node:
        paired = pairs.get(node.name)
        if paired is not None and paired.output and paired.output[0] in native_tensors:
            found[node.output[0]] = paired.output[0]
    return found


class UnpairedGraph(ValueError):
    """A graph whose tensors cannot be paired with the canonical graph's, said in one line."""


def paired_tensors(model, arch: Architecture, what: str) -> dict[str, str]:
    """``canonical_tensors``; a graph that is not ``arch``'s, or an ``arch`` with no canonical
    graph, raised as UnpairedGraph naming ``what`` (the file)."""
    from zoocheck.converters.graph import NoCanonicalForm
    from zoocheck.converters.graph.canonical import GraphMismatch

    try:
        return canonical_tensors(model, arch)
    except (GraphMismatch, NoCanonicalForm) as exc:
        raise UnpairedGraph(f"{what}: its layers cannot be paired with the canonical graph's ({exc})") from exc


def layer_tensors(model, arch: Architecture, present: set[str], what: str) -> dict[str, str]:
    """Each layer of ``arch``'s per-layer outputs (``weights.layouts.layer_modules``) -> the tensor of
    ``model`` holding its value, among the tensors ``present`` (those a framework can hand out);
    LayersUnavailable, in one line, where none can be paired."""
    from zoocheck.converters.base import LayersUnavailable
    from zoocheck.converters.weights.layouts import layer_modules

    try:
        pairs = paired_tensors(model, arch, what)
    except UnpairedGraph as exc:
        raise LayersUnavailable(str(exc)) from exc
    taps = {layer: pairs[layer] for layer in layer_modules(arch) if pairs.get(layer) in present}
    if not taps:
        raise LayersUnavailable(f"{what}: none of its tensors holds a layer of the canonical graph")
    return taps


__all__ = ["UnpairedGraph", "canonical_tensors", "layer_tensors", "paired_tensors"]
