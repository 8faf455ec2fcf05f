"""Preprocessing checks against the source library and comparisons of two zoos' versions of one
architecture."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from zoocheck.records.codec import Record, Status, _finite_or_text, utc_now
from zoocheck.records.parity import Divergence, OutputComparison, Tolerance


@dataclass(frozen=True)
class ImagePixelDifference(Record):
    """Two preprocessings of one image, in 0-255 pixel steps."""

    image: str
    max_pixel_diff: float
    mean_pixel_diff: float
    shapes: tuple[tuple[int, ...], tuple[int, ...]] | None = None  # set when the two tensors differ in shape
    error: str | None = None  # the image could not be preprocessed by one side


def _max_pixel_diff(rows: tuple[ImagePixelDifference, ...]) -> float:
    return max((r.max_pixel_diff for r in rows if r.error is None), default=math.nan)


@dataclass(frozen=True)
class LogitEffect(Record):
    """What a preprocessing difference does to one model's outputs on the same photographs."""

    model: str  # the ONNX file both preprocessings were fed through
    max_rel_err: float  # max |logits_a - logits_b| over the logit range of a
    top1_flips: tuple[str, ...]  # the images whose top-1 class changed


@dataclass(frozen=True)
class LibraryPreprocessCheck(Record):
    """zoocheck's preprocessing of one entry against its source library's own transform."""

    KIND: ClassVar[str] = "preprocess"

    source: str
    model: str
    library: str  # the transform built, or why none could be
    status: Status
    images: tuple[ImagePixelDifference, ...] = ()
    tolerance: float = 0.5  # pixel steps
    effect: LogitEffect | None = None
    time: str = field(default_factory=utc_now)

    @property
    def max_pixel_diff(self) -> float:
        return _max_pixel_diff(self.images)

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "max_pixel_diff": _finite_or_text(self.max_pixel_diff)}


@dataclass(frozen=True)
class PreprocessingDifference(Record):
    """Two entries' own preprocessings of the same photographs, and what the difference does."""

    a: str  # entry keys
    b: str
    images: tuple[ImagePixelDifference, ...]
    effect: LogitEffect | None  # b's preprocessing fed to a's model, against a's own

    @property
    def max_pixel_diff(self) -> float:
        return _max_pixel_diff(self.images)

    @property
    def mean_pixel_diff(self) -> float:
        """The images' mean pixel differences averaged, leaving out the NaN ones."""
        means = [r.mean_pixel_diff for r in self.images if not math.isnan(r.mean_pixel_diff)]
        return math.fsum(means) / len(means) if means else math.nan

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "max_pixel_diff": _finite_or_text(self.max_pixel_diff)}


@dataclass(frozen=True)
class TensorDifference(Record):
    name: str
    max_abs_diff: float
    rel_diff: float  # max_abs_diff over the larger side's max |value|
    cosine: float
    shapes: tuple[tuple[int, ...], tuple[int, ...]] | None = None  # set when the shapes differ


@dataclass(frozen=True)
class WeightsComparison(Record):
    tensors: int  # initializers compared
    differing: tuple[TensorDifference, ...]  # in graph order
    only_in_a: tuple[str, ...] = ()
    only_in_b: tuple[str, ...] = ()

    @property
    def identical(self) -> bool:
        return not self.differing and not self.only_in_a and not self.only_in_b

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "identical": self.identical}


@dataclass(frozen=True)
class FunctionComparison(Record):
    """Both files on the same inputs (random tensors and side a's preprocessing of the photographs)."""

    comparisons: tuple[OutputComparison, ...]
    tolerance: Tolerance

    @property
    def within_tolerance(self) -> bool:
        return self.tolerance.passed(self.comparisons)

    @property
    def max_rel_err(self) -> float:
        return max((c.max_rel_err for c in self.comparisons), default=math.nan)

    @property
    def top1_agreement(self) -> tuple[int, int]:
        return sum(c.top1_agree for c in self.comparisons), len(self.comparisons)

    def to_json(self) -> dict[str, Any]:
        agree, total = self.top1_agreement
        return {
            **super().to_json(),
            "max_rel_err": _finite_or_text(self.max_rel_err),
            "top1_agree": agree,
            "inputs": total,
            "within_tolerance": self.within_tolerance,
        }


@dataclass(frozen=True)
class Side(Record):
    """One side of a comparison: which entry, which weights, which canonical file."""

    source: str
    model: str
    arch: str
    onnx_path: str
    weights: str | None  # the weights file; None for random weights
    weights_sha256: str | None = None
    random_seed: int | None = None

    @property
    def key(self) -> str:
        return f"{self.source}/{self.model}"


Verdict = Literal["identical", "equivalent", "different"]


@dataclass(frozen=True)
class Comparison(Record):
    """Two zoos' versions of one architecture (``zoocheck compare``), verdict derived."""

    KIND: ClassVar[str] = "compare"

    a: Side
    b: Side
    weights: WeightsComparison
    function: FunctionComparison
    preprocessing: PreprocessingDifference | None
    first_divergence: Divergence | None = None
    divergence_note: str | None = None  # why no first divergence could be looked for
    time: str = field(default_factory=utc_now)

    @property
    def verdict(self) -> Verdict:
        if self.weights.identical:
            return "identical"
        return "equivalent" if self.function.within_tolerance else "different"

    @property
    def status(self) -> Status:
        return "failed" if self.verdict == "different" else "ok"

    @property
    def random_weights(self) -> bool:
        return self.a.weights is None or self.b.weights is None

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "verdict": self.verdict, "status": self.status, "random_weights": self.random_weights}


#: record kind -> type, for everything the results store holds
