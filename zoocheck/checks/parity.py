"""Output comparison: reference logits vs test logits, per input (Polygraphy-style comparator)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zoocheck.checks.results import Failure, OutputComparison, ParityResult, Tolerance


def compare_outputs(name: str, reference: np.ndarray, test: np.ndarray) -> OutputComparison:
    """Compare one input's logits (1-D, same length)."""
    ref = np.asarray(reference, dtype=np.float64).ravel()
    out = np.asarray(test, dtype=np.float64).ravel()
    if ref.shape != out.shape:
        raise ValueError(f"{name}: output shapes differ: {reference.shape} vs {test.shape}")
    nonfinite = not (np.isfinite(ref).all() and np.isfinite(out).all())
    diff = np.abs(ref - out)
    max_abs = float(diff.max()) if diff.size else 0.0
    span = float(ref.max() - ref.min()) if ref.size else 0.0
    max_rel = max_abs / span if span > 0 else (0.0 if max_abs == 0 else float("inf"))
    norm = float(np.linalg.norm(ref) * np.linalg.norm(out))
    cosine = float(ref @ out / norm) if norm > 0 else (1.0 if max_abs == 0 else 0.0)
    top5_ref = set(np.argsort(-ref, kind="stable")[:5].tolist())
    top5_out = set(np.argsort(-out, kind="stable")[:5].tolist())
    if nonfinite:
        max_abs, max_rel, cosine = float("nan"), float("nan"), float("nan")
    return OutputComparison(
        input=name,
        max_abs_err=max_abs,
        max_rel_err=max_rel,
        cosine=cosine,
        top1_reference=int(np.argmax(ref)),
        top1_test=int(np.argmax(out)),
        top5_overlap=len(top5_ref & top5_out),
        nonfinite=nonfinite,
    )


def compare_batches(names: Sequence[str], reference: np.ndarray, test: np.ndarray) -> tuple[OutputComparison, ...]:
    """Compare [N, C] reference and test outputs row by row."""
    if reference.shape != test.shape or reference.shape[0] != len(names):
        raise ValueError(f"output shapes differ or do not match the inputs: {reference.shape} vs {test.shape}, {len(names)} inputs")
    return tuple(compare_outputs(n, r, t) for n, r, t in zip(names, reference, test))


def parity_result(
    *,
    source: str,
    model: str,
    reference_runtime: str,
    test_runtime: str,
    names: Sequence[str],
    reference: np.ndarray | None,
    test: np.ndarray | None,
    random_weights: bool,
    tolerance: Tolerance = Tolerance(),
    onnx_path: str | None = None,
    weights: str | None = None,
    failure: Failure | None = None,
) -> ParityResult:
    """Build a ParityResult; a comparison that cannot be made becomes an 'error' result, never a raise."""
    comparisons: tuple[OutputComparison, ...] = ()
    if failure is None:
        try:
            comparisons = compare_batches(names, reference, test)
        except Exception as exc:  # a shape mismatch is a finding about the model, not a crash
            failure = Failure.from_exception(source, model, "parity", exc)
    return ParityResult(
        source=source,
        model=model,
        reference=reference_runtime,
        test=test_runtime,
        tolerance=tolerance,
        comparisons=comparisons,
        random_weights=random_weights,
        onnx_path=onnx_path,
        weights=weights,
        failure=failure,
    )
