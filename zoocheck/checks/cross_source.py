"""Cross-source checks: two zoos that publish the same weights must compute the same function.

Which entries hold the same weights is the registry's data (``zoo_registry/data/relations.csv``):
``exported_from`` (the ONNX model zoo's ResNet v1/v2 files were exported from the MXNet Gluon
model zoo) and ``same_weights_as`` (timm's ``*.tv_in1k`` are torchvision's files). Run in
onnxruntime, a published ONNX file must agree with the other source's framework forward of the
weights it came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from zoocheck.records import ParityResult, Tolerance
from zoocheck.zoo_registry.types import Entry


def cross_check_reference(entry: Entry, candidates: Iterable[Entry]) -> Entry | None:
    """The entry among ``candidates`` that ``entry`` is ``exported_from``, else the first it has
    the ``same_weights_as``; None when the registry relates it to none of them."""
    by_key = {c.key: c for c in candidates}
    related = ([entry.exported_from] if entry.exported_from else []) + list(entry.same_weights_as)
    return next((by_key[key] for key in related if key in by_key), None)


def cross_source_parity(
    entry: Entry,
    reference_entry: Entry,
    *,
    weights: Path | None,
    reference_weights: Path | None,
    random_seed: int | None = None,
    images: Sequence[Path] | None = None,
    tolerance: Tolerance = Tolerance(),
) -> ParityResult:
    """``reference_entry``'s framework forward (reference: its source) vs ``entry``'s own forward
    (test: its source, e.g. onnxruntime on the original ONNX-zoo file), on the same preprocessed
    inputs of ``entry``.

    Both forwards run in isolated children (pipeline.convert with no output). With weights None
    and ``random_seed`` both sides get the same seeded random weights (the ONNX-zoo side exports
    them zoo-style first). Never raises for a model's failure: status 'error' instead.
    """
    from zoocheck.checks.parity import model_inputs, parity_result
    from zoocheck.converters.pipeline import convert

    if cross_check_reference(entry, [reference_entry]) is None:
        raise ValueError(
            f"the registry records {entry.key} neither as exported from nor as the same weights as {reference_entry.key} "
            "(zoo_registry/data/relations.csv): nothing says the two compute the same function"
        )
    fed = model_inputs(entry, images)
    names, batch = fed.names, fed.batch
    reference = convert(reference_entry, output=None, weights=reference_weights, random_seed=random_seed, inputs=batch)
    common = dict(
        source=entry.source,
        model=entry.name,
        reference_runtime=reference_entry.source,
        test_runtime=entry.source,
        names=names,
        inputs=fed.described,
        skipped=fed.skipped,
        random_weights=weights is None and reference_weights is None,
        tolerance=tolerance,
        onnx_path=str(weights) if weights else None,
        weights=str(reference_weights) if reference_weights else None,
    )
    if not reference.ok:
        return parity_result(reference=None, test=None, failure=reference.failure, **common)
    test = convert(entry, output=None, weights=weights, random_seed=random_seed, inputs=batch)
    if not test.ok:
        return parity_result(reference=None, test=None, failure=test.failure, **common)
    return parity_result(reference=reference.native_outputs, test=test.native_outputs, **common)


__all__ = ["cross_check_reference", "cross_source_parity"]
