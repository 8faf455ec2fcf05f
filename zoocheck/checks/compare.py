"""Two zoos' versions of one architecture, side by side: weights, function and preprocessing.

The two sides are canonical ONNX files (``converters/graph``): one graph per architecture id, with
the same node, tensor and initializer names from every source, so weights compare tensor by tensor
and intermediate values node by node, by name.

Verdict, stated first: ``identical`` when every initializer agrees (to ``WEIGHTS_RTOL`` of the
tensor's largest magnitude: folding batch norm in two frameworks may round differently),
``equivalent`` when the weights differ but the outputs agree within the parity tolerance,
``different`` otherwise; a ``different`` verdict names the first diverging node.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from zoocheck.checks.divergence import DivergenceUnavailable, first_divergence
from zoocheck.checks.library_preprocess import preprocessing_difference
from zoocheck.digests import file_digest_or_none
from zoocheck.records import Comparison, Failure, FunctionComparison, Side, TensorDifference, Tolerance, WeightsComparison
from zoocheck.zoo_registry.types import Entry

#: two initializers are the same weights when they agree to this fraction of their largest magnitude
WEIGHTS_RTOL = 1e-6


class ArchitectureMismatch(ValueError):
    """The two entries are different architectures: nothing to compare."""


def _initializers(path: Path) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def compare_weights(file_a: str | Path, file_b: str | Path, rtol: float = WEIGHTS_RTOL) -> WeightsComparison:
    """Every initializer of ``file_a`` against the one of the same name in ``file_b``."""
    a, b = _initializers(Path(file_a)), _initializers(Path(file_b))
    differing = []
    for name, x in a.items():
        if name not in b:
            continue
        y = b[name]
        if x.shape != y.shape:
            differing.append(TensorDifference(name, float("inf"), float("inf"), float("nan"), (tuple(x.shape), tuple(y.shape))))
            continue
        x64, y64 = x.astype(np.float64).ravel(), y.astype(np.float64).ravel()
        max_abs = float(np.abs(x64 - y64).max()) if x64.size else 0.0
        scale = max(float(np.abs(x64).max(initial=0.0)), float(np.abs(y64).max(initial=0.0)))
        rel = max_abs / scale if scale > 0 else 0.0
        if rel > rtol:
            norm = float(np.linalg.norm(x64) * np.linalg.norm(y64))
            differing.append(TensorDifference(name, max_abs, rel, float(x64 @ y64 / norm) if norm > 0 else 0.0))
    return WeightsComparison(
        tensors=len([n for n in a if n in b]),
        differing=tuple(differing),
        only_in_a=tuple(n for n in a if n not in b),
        only_in_b=tuple(n for n in b if n not in a),
    )


def compare_files(
    entry_a: Entry,
    side_a: Side,
    entry_b: Entry,
    side_b: Side,
    *,
    images: Sequence[Path],
    tolerance: Tolerance = Tolerance(),
    random_count: int = 2,
    seed: int = 0,
) -> Comparison:
    """Compare two canonical ONNX files of one architecture (``side_a.onnx_path``, ``side_b.onnx_path``)."""
    from zoocheck.checks.parity import compare_batches, model_inputs
    from zoocheck.converters.onnx_runtime import run_first_output, session

    if entry_a.arch.id != entry_b.arch.id:
        raise ArchitectureMismatch(
            f"{entry_a.key} is {entry_a.arch.id} and {entry_b.key} is {entry_b.arch.id}: different architectures, nothing to compare"
        )
    weights = compare_weights(side_a.onnx_path, side_b.onnx_path)
    fed = model_inputs(entry_a, images, random_count=random_count, seed=seed)
    names, batch = fed.names, fed.batch
    outputs_a = run_first_output(session(side_a.onnx_path), batch)
    outputs_b = run_first_output(session(side_b.onnx_path), batch)
    function = FunctionComparison(compare_batches(names, outputs_a, outputs_b), tolerance)
    divergence, note = None, None
    if not weights.identical and not function.within_tolerance:
        try:
            divergence = first_divergence(side_a.onnx_path, side_b.onnx_path, batch[: random_count + 1], tolerance=tolerance.max_rel_err)
        except DivergenceUnavailable as exc:
            note = str(exc)
        if divergence is None and note is None:
            note = "no intermediate tensor exceeds the tolerance on the first inputs"
    preprocessing = preprocessing_difference(entry_a, entry_b, images, onnx_path_a=side_a.onnx_path) if images else None
    return Comparison(side_a, side_b, weights, function, preprocessing, divergence, note)


def compare_entries(
    entry_a: Entry,
    entry_b: Entry,
    *,
    weights: tuple[Path, Path] | None,
    random_seed: int | None,
    images: Sequence[Path],
    workdir: Path,
    tolerance: Tolerance = Tolerance(),
) -> Comparison | Failure:
    """Convert both entries to their canonical graphs and compare them (:func:`compare_files`).

    ``weights``: a weights file per side in its source's own format; or ``random_seed``: one common
    random set (``converters.weights``) written in each side's format into ``workdir`` and read back
    through each source's own loader, so ``identical`` proves both weight mappings right.
    A side that cannot be written or converted is returned as its Failure: nothing was compared."""
    from zoocheck.converters.base import NoBuilder
    from zoocheck.converters.graph import canonical_fingerprint
    from zoocheck.converters.pipeline import convert
    from zoocheck.converters.weights import random_weights, write_weights

    if entry_a.arch.id != entry_b.arch.id:
        raise ArchitectureMismatch(
            f"{entry_a.key} is {entry_a.arch.id} and {entry_b.key} is {entry_b.arch.id}: different architectures, nothing to compare"
        )
    entries = (entry_a, entry_b)
    if entry_b.input_size != entry_a.input_size and canonical_fingerprint(entry_a.arch, 17) is None:
        # a canonical graph whose structure depends on the input size (TF "same" pads) is one
        # function at one size: side b is converted at side a's, which the inputs are fed at
        entries = (entry_a, dataclasses.replace(entry_b, input_size=entry_a.input_size))
    if weights is None:
        # an architecture without canonical weights, or a side whose format has no writer for it:
        # that side's failure, with the way that still compares them
        given_files = "compare the published files instead (--weights A B)"
        try:
            common = random_weights(entry_a.arch, random_seed, entry_a.input_size)
        except ValueError as exc:
            return Failure.from_exception(entry_a.source, entry_a.name, "load", exc, fix=given_files)
        written = []
        for side, e in zip("ab", entries, strict=True):
            try:
                written.append(write_weights(e, common, workdir / f"{side}-{e.weights.file_name if e.weights else e.name + '.pth'}"))
            except ValueError as exc:
                return Failure.from_exception(e.source, e.name, "load", exc, fix=given_files)
            except NoBuilder as exc:  # a writer that cannot make such a file (the ONNX zoo's Caffe2 files)
                return Failure.from_exception(e.source, e.name, "build", exc, fix=given_files)
        weights = tuple(written)
    sides = []
    for side, entry, path in zip("ab", entries, weights):
        conversion = convert(entry, output=workdir / f"{side}.onnx", weights=Path(path), graph="canonical")
        if not conversion.ok:
            return conversion.failure
        given = random_seed is None
        sides.append(
            Side(
                entry.source,
                entry.name,
                entry.arch.id,
                str(conversion.onnx_path),
                str(path) if given else None,
                file_digest_or_none(path) if given else None,
                None if given else random_seed,
            )
        )
    return compare_files(entry_a, sides[0], entry_b, sides[1], images=images, tolerance=tolerance)


__all__ = [
    "ArchitectureMismatch",
    "compare_entries",
    "WEIGHTS_RTOL",
    "compare_files",
    "compare_weights",
]
