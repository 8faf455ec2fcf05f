"""The graph zoocheck writes for a conversion, in one of two forms:

- ``native``: the source exporter's graph, normalised (``normalize.py``: input/output names, dynamic
  batch, explicit pads, every node named, metadata);
- ``canonical``: the architecture's one canonical graph (``template.py``) holding the weights the
  source's exporter wrote (``canonical.py``), identical for every source but for those values.

Both carry their structure fingerprint (``fingerprint.py``) in the zoocheck metadata. Importing this
package imports no framework and not onnx.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

from zoocheck.converters.graph.template import NoCanonicalForm
from zoocheck.families.registry import Family, all_families, family_of
from zoocheck.zoo_registry.types import Architecture

GraphForm = Literal["canonical", "native"]
GRAPH_FORMS: tuple[str, ...] = ("canonical", "native")
FINGERPRINT_KEY = "structure_fingerprint"


#: the opset (and, for a template that takes one, the input size) a template is built at to learn
#: whether it refuses a spec (a refusal is the spec's)
_ANY_OPSET, _ANY_INPUT_SIZE = 17, 224


@cache
def _probe(arch: Architecture) -> tuple[str | None, str | None]:
    """(why ``arch`` has no canonical graph: its family has none, or the family's template refuses
    this spec (a variant it does not draw yet), None where it has one; the structure fingerprint
    of the template built to learn it). One build answers both: ``list --json`` asks both of
    every architecture in the registry."""
    from zoocheck.converters.graph.fingerprint import fingerprint

    family = family_of(arch)
    if family is None or not family.has_canonical_form:
        with_form = ", ".join(f.name for f in all_families() if f.has_canonical_form)
        return f"{arch.id}: zoocheck has a canonical graph for the families {with_form} only", None
    try:
        return None, fingerprint(_build(family, arch, _ANY_OPSET, _ANY_INPUT_SIZE))
    except NoCanonicalForm as exc:
        return str(exc), None


@cache
def _refusal(arch: Architecture, opset: int = _ANY_OPSET) -> str | None:
    """Why ``arch`` has no canonical graph at ``opset`` (a form may need what a lower opset lacks:
    GELU's Erf, Split's sizes as an input); None where it has one."""
    reason = _probe(arch)[0]
    if reason is not None or opset == _ANY_OPSET:
        return reason
    try:
        _build(family_of(arch), arch, opset, _ANY_INPUT_SIZE)
    except NoCanonicalForm as exc:
        return str(exc)
    return None


def _build(family: Family, arch: Architecture, opset: int, input_size: int | None):
    """A copy of ``arch``'s template, its own to fill in: each is built once (node by node in
    Python, the audit's half) and copied after, so the probe's build serves the conversion and the
    counts at 224 pixels too."""
    import onnx

    model = onnx.ModelProto()
    model.CopyFrom(_built(family, arch, opset, input_size if family.sized_template else None))
    return model


@cache
def _built(family: Family, arch: Architecture, opset: int, input_size: int | None):
    sized = {"input_size": input_size} if family.sized_template else {}
    return family.part("template")(arch.structure, arch.num_classes, opset=opset, graph_name=arch.id, **sized)


def has_canonical_form(arch: Architecture, opset: int = _ANY_OPSET) -> bool:
    return _refusal(arch, opset) is None


def canonical_refusal(arch: Architecture, opset: int = _ANY_OPSET) -> str | None:
    """Why ``arch`` has no canonical graph (at ``opset``), in one line; None where it has one."""
    return _refusal(arch, opset)


def _family_with_template(arch: Architecture, opset: int = _ANY_OPSET) -> Family:
    """The family whose template is ``arch``'s canonical graph; NoCanonicalForm where none is."""
    reason = _refusal(arch, opset)
    if reason is not None:
        raise NoCanonicalForm(reason)
    return family_of(arch)


def resolve_form(arch: Architecture, requested: str | None, *, opset: int = _ANY_OPSET, outputs_probabilities: bool = False) -> GraphForm:
    """``requested``, or canonical where the architecture has a canonical form at ``opset`` and
    native elsewhere.

    A graph that ends in softmax (some PaddleClas inference models) stays native: the canonical
    graph outputs logits, which such a file cannot give back. Raises NoCanonicalForm when
    canonical is asked for where there is none."""
    if requested is not None and requested not in GRAPH_FORMS:
        raise ValueError(f"graph form {requested!r}: expected one of {', '.join(GRAPH_FORMS)}")
    if requested == "native":
        return "native"
    if outputs_probabilities:
        if requested == "canonical":
            raise NoCanonicalForm(f"{arch.id}: this model ends in softmax, the canonical graph outputs logits; use --graph native")
        return "native"
    if requested == "canonical":
        _family_with_template(arch, opset)
        return "canonical"
    return "canonical" if has_canonical_form(arch, opset) else "native"


def template_for(arch: Architecture, opset: int, input_size: int | None = None):
    """The canonical template (initializers without data) of ``arch``, built by its family, for
    inputs of ``input_size`` pixels where its structure depends on the size (TF "same" padding:
    NoCanonicalForm where it is None)."""
    return _build(_family_with_template(arch, opset), arch, opset, input_size)


@cache
def canonical_fingerprint(arch: Architecture, opset: int, input_size: int | None = None) -> str | None:
    """The structure fingerprint every canonical file of ``arch`` (at ``input_size`` pixels, where
    its structure depends on the size) has; None if ``arch`` has no canonical form, or one that
    depends on the input size and none is given."""
    from zoocheck.converters.graph.fingerprint import fingerprint

    refusal, probed = _probe(arch)
    if refusal is not None:
        return None
    if opset == _ANY_OPSET and (input_size == _ANY_INPUT_SIZE or not family_of(arch).sized_template):
        return probed
    try:
        return fingerprint(template_for(arch, opset, input_size))
    except NoCanonicalForm:
        return None


def _static_input_size(model) -> int | None:
    """The side of a square input the graph declares, None where H or W is symbolic."""
    dims = model.graph.input[0].type.tensor_type.shape.dim[2:]
    sides = {d.dim_value if d.HasField("dim_value") else None for d in dims}
    return sides.pop() if len(sides) == 1 else None


def template_for_export(model, arch: Architecture):
    """The canonical template an export of ``arch`` (a normalised ModelProto) is made into: at the
    export's opset, and at its input size where it declares one (TF "same" padding)."""
    from zoocheck.converters.normalize import onnx_facts

    return template_for(arch, onnx_facts(model)["opset"], _static_input_size(model))


def finish_graph(raw_export, arch: Architecture, form: GraphForm):
    """The model to write from the ONNX file ``raw_export`` (a path: this function holds the only
    copy of its weights, so it can free them), and what to record about its graph: normalised
    (``normalize_model``), made canonical if ``form`` says so (at the export's opset), and
    ``{"graph": form, "structure_fingerprint": ...}``. The caller attaches the metadata."""
    import onnx

    from zoocheck.converters.graph.canonical import canonicalize, lift_weights
    from zoocheck.converters.graph.fingerprint import fingerprint
    from zoocheck.converters.normalize import normalize_model

    model = onnx.load(str(raw_export))
    if form == "canonical":
        # the weights move out to arrays and the loaded message, holding them once more, goes
        model, lifted = lift_weights(model)
        normalize_model(model, {}, num_classes=arch.num_classes)
        model = canonicalize(model, lifted, template_for_export(model, arch))
    else:
        normalize_model(model, {}, num_classes=arch.num_classes)
    return model, {"graph": form, FINGERPRINT_KEY: fingerprint(model)}


__all__ = [
    "FINGERPRINT_KEY",
    "GRAPH_FORMS",
    "GraphForm",
    "NoCanonicalForm",
    "canonical_fingerprint",
    "finish_graph",
    "has_canonical_form",
    "resolve_form",
    "template_for",
    "template_for_export",
]
