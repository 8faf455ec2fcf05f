"""Two evaluations on the same images, compared image by image.

Whether a 0.2-point top-1 difference on a few thousand images is real is a statement about the
images that flipped: an exact McNemar test on the discordant pairs (the images exactly one side
got right) says how likely such a split is if both models were equally accurate, and a paired
bootstrap over the images gives a confidence interval of the difference. The verdict is MLPerf's
rule on the point estimate (the candidate keeps ``1 - max_drop`` of the reference's top-1), and
whether the interval lies wholly on one side of the allowed drop says if the images suffice to
conclude.

Each side is an evaluation's per-image predictions file (``evaluate(predictions=...)``: top5,
labels, images); two files of different images are refused, never silently intersected.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoocheck.errors import BadInput
from zoocheck.records import EvalResult, EvaluatedModel, PairedEval

#: MLPerf's ImageNet rule: the candidate keeps 99% of the reference's top-1
DEFAULT_MAX_DROP = 0.01
BOOTSTRAP_SAMPLES = 10_000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95
#: how many flipped images a record names each way
FLIPS_LISTED = 20


@dataclass(frozen=True)
class Predictions:
    top5: np.ndarray  # [N, 5], -1 where the image was not evaluated
    labels: np.ndarray  # [N]
    images: np.ndarray  # [N] names relative to the data set's folder


def read_predictions(path: Path) -> Predictions:
    """An evaluation's per-image predictions file; BadInput naming the file when it is not one."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as saved:
            found = Predictions(saved["top5"], saved["labels"], saved["images"])
    except (OSError, ValueError, KeyError) as exc:
        raise BadInput(
            f"{path}: not a zoocheck predictions file ({type(exc).__name__}); give the .npz an evaluation recorded (`zoocheck eval` prints it)"
        ) from None
    if not (len(found.top5) == len(found.labels) == len(found.images)) or found.top5.ndim != 2:
        raise BadInput(f"{path}: its top-5, labels and image names differ in length; evaluate again")
    return found


def same_images(reference: EvalResult, candidate: EvalResult, a: Predictions, b: Predictions) -> str | None:
    """Why two evaluations were not made on the same images (None when they were)."""
    if reference.dataset_fingerprint != candidate.dataset_fingerprint:
        return f"different data sets (fingerprints {reference.dataset_fingerprint[:12]} and {candidate.dataset_fingerprint[:12]})"
    if (reference.limit, reference.subsample) != (candidate.limit, candidate.subsample):
        return f"different selections (--limit {reference.limit} / --subsample {reference.subsample} vs --limit {candidate.limit} / --subsample {candidate.subsample})"
    if len(a.images) != len(b.images) or not np.array_equal(a.images, b.images) or not np.array_equal(a.labels, b.labels):
        return "different image lists"
    return None


def mcnemar_exact(reference_only: int, candidate_only: int) -> float:
    """Two-sided exact McNemar p-value: the discordant images as a binomial(n, 1/2)."""
    from scipy.stats import binomtest

    discordant = reference_only + candidate_only
    return 1.0 if discordant == 0 else float(binomtest(candidate_only, discordant, 0.5).pvalue)


def bootstrap_interval(
    reference_right: np.ndarray, candidate_right: np.ndarray, samples: int = BOOTSTRAP_SAMPLES, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """Percentile interval of the top-1 difference (points) over ``samples`` resamplings of the
    images with replacement (seeded: the same images give the same interval)."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    delta = candidate_right.astype(np.int8) - reference_right.astype(np.int8)
    n = len(delta)
    # an image's difference is -1, 0 or +1, so resampling the images with replacement is drawing
    # how many of each: a multinomial over the three counts (exact, and O(samples) not O(samples * n))
    shares = [np.mean(delta == -1), np.mean(delta == 0), np.mean(delta == 1)]
    counts = rng.multinomial(n, shares, size=samples)
    draws = (counts[:, 2] - counts[:, 0]) / n
    tail = (1 - confidence) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    return 100.0 * float(low), 100.0 * float(high)


def pair(reference: EvalResult, candidate: EvalResult, *, max_drop: float = DEFAULT_MAX_DROP) -> PairedEval:
    """The paired comparison of two evaluations; BadInput when they are not on the same images or
    lack per-image predictions."""
    for result in (reference, candidate):
        if not result.predictions:
            raise BadInput(
                f"the evaluation of {result.source}/{result.model} kept no per-image predictions; evaluate it again with `zoocheck eval`"
            )
    a, b = read_predictions(Path(reference.predictions)), read_predictions(Path(candidate.predictions))
    why = same_images(reference, candidate, a, b)
    if why is not None:
        raise BadInput(
            f"{reference.predictions} and {candidate.predictions} were evaluated on {why}; "
            f"evaluate both with the same --data, --limit and --subsample"
        )
    both = (a.top5[:, 0] >= 0) & (b.top5[:, 0] >= 0)
    if not both.any():
        raise BadInput(f"{reference.predictions} and {candidate.predictions} share no evaluated image")
    labels = a.labels[both]
    a_top5, b_top5, names = a.top5[both], b.top5[both], a.images[both]
    a_right, b_right = a_top5[:, 0] == labels, b_top5[:, 0] == labels
    a_top5_right, b_top5_right = (a_top5 == labels[:, None]).any(1), (b_top5 == labels[:, None]).any(1)
    reference_only, candidate_only = int((a_right & ~b_right).sum()), int((~a_right & b_right).sum())
    difference = 100.0 * float(b_right.mean() - a_right.mean())
    low, high = bootstrap_interval(a_right, b_right)
    allowed = max_drop * 100.0 * float(a_right.mean())
    verdict = "pass" if difference >= -allowed else "fail"
    conclusive = low >= -allowed if verdict == "pass" else high < -allowed
    real = None
    if reference.real_top1 is not None and candidate.real_top1 is not None:
        real = candidate.real_top1 - reference.real_top1
    return PairedEval(
        reference=_side(reference),
        candidate=_side(candidate),
        dataset_fingerprint=reference.dataset_fingerprint,
        images=int(both.sum()),
        difference=difference,
        top5_difference=100.0 * float(b_top5_right.mean() - a_top5_right.mean()),
        reference_only=reference_only,
        candidate_only=candidate_only,
        mcnemar_p=mcnemar_exact(reference_only, candidate_only),
        ci_low=low,
        ci_high=high,
        confidence=CONFIDENCE,
        bootstrap_samples=BOOTSTRAP_SAMPLES,
        max_drop=max_drop,
        verdict=verdict,
        conclusive=bool(conclusive),
        flipped_to_wrong=tuple(str(n) for n in names[a_right & ~b_right][:FLIPS_LISTED]),
        flipped_to_right=tuple(str(n) for n in names[~a_right & b_right][:FLIPS_LISTED]),
        real_difference=real,
    )


def _side(result: EvalResult) -> EvaluatedModel:
    return EvaluatedModel(
        source=result.source,
        model=result.model,
        precision=result.precision,
        backend=result.backend,
        random_weights=result.random_weights,
        predictions=str(result.predictions),
        onnx_path=result.onnx_path,
        top1=result.top1,
        top5=result.top5,
        real_top1=result.real_top1,
    )


def interval_bought(top1: float | None, images: int, confidence: float = CONFIDENCE) -> float | None:
    """Half-width (points) of the normal-approximation interval of a top-1 measured on ``images``
    images: what a subsample of that size can resolve."""
    from scipy.stats import norm

    if top1 is None or images <= 0:
        return None
    p = top1 / 100.0
    return 100.0 * float(norm.ppf(0.5 + confidence / 2) * np.sqrt(max(p * (1 - p), 1e-12) / images))
