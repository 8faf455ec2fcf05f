"""Evaluations: top-1/top-5 of one model on one data set, and the paired comparison of two
evaluations on the same images."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from zoocheck.records.codec import Record, Status, utc_now


@dataclass(frozen=True)
class SkippedImage(Record):
    path: str
    reason: str


@dataclass(frozen=True)
class EvalResult(Record):
    """Top-1/top-5 (percent) of one model on one data set, with everything needed to reproduce it."""

    KIND: ClassVar[str] = "eval"

    source: str
    model: str
    backend: str  # 'onnxruntime' or 'native'
    top1: float | None  # None when no image could be evaluated
    top5: float | None
    images: int  # images evaluated (all runs, resumed ones included)
    skipped: tuple[SkippedImage, ...]
    time_s: float  # wall time of this run
    throughput: float  # images per second of this run
    dataset: dict[str, Any]  # layout, root, label file, images listed
    dataset_fingerprint: str
    preprocess: dict[str, Any]
    random_weights: bool
    arch: str | None = None
    onnx_path: str | None = None
    weights: str | None = None
    limit: int | None = None
    batch_size: int = 32
    resumed_images: int = 0  # predictions taken from the checkpoint of an interrupted run
    cached_images: int = 0  # crops read from the preprocessed cache
    decoded_images: int = 0  # image files decoded by this run
    time: str = field(default_factory=utc_now)
    onnx_verified: bool = True  # False: an ONNX file without zoocheck metadata, taken on request
    published_weights: bool = False  # as ParityResult.published_weights
    predictions: str | None = None  # the per-image top-5 (.npz: top5, labels, images) a paired comparison reads
    subsample: int | None = None  # every k-th image only, this many (checks/evaluate.selected_samples)
    precision: str = "fp32"  # of the model evaluated (an fp16/int8 variant's file)
    # ImageNet-ReaL (checks/real_labels.py): where the images are ImageNet val's
    real_top1: float | None = None
    real_top5: float | None = None
    real_images: int = 0

    @property
    def status(self) -> Status:
        return "ok" if self.images else "error"


@dataclass(frozen=True)
class EvaluatedModel(Record):
    """One side of a paired comparison: which evaluation, of which model and file."""

    source: str
    model: str
    precision: str
    backend: str
    random_weights: bool
    predictions: str  # the .npz its per-image top-5 came from
    onnx_path: str | None = None
    top1: float | None = None
    top5: float | None = None
    real_top1: float | None = None


@dataclass(frozen=True)
class PairedEval(Record):
    """Two evaluations on the same images, image by image (``checks/paired.py``): the top-1
    difference, the images that flipped each way, an exact McNemar test, a bootstrap confidence
    interval of the difference, and the verdict against the largest drop allowed."""

    KIND: ClassVar[str] = "paired_eval"

    reference: EvaluatedModel  # 'a': the fp32 file, the source framework, zoo A
    candidate: EvaluatedModel  # 'b': the variant, the ONNX file, zoo B
    dataset_fingerprint: str
    images: int  # images both evaluated
    difference: float  # candidate top-1 - reference top-1, points
    top5_difference: float
    reference_only: int  # images the reference got right (top-1) and the candidate wrong
    candidate_only: int
    mcnemar_p: float  # exact two-sided (binomial on the discordant images)
    ci_low: float  # bootstrap percentile interval of the difference, points
    ci_high: float
    confidence: float
    bootstrap_samples: int
    max_drop: float  # allowed relative drop of the reference's top-1 (0.01: MLPerf's 99%)
    verdict: Literal["pass", "fail"]  # the point estimate against max_drop (MLPerf's rule)
    conclusive: bool  # the whole interval is on the verdict's side of the allowed drop
    flipped_to_wrong: tuple[str, ...] = ()  # images (first ones) the candidate lost
    flipped_to_right: tuple[str, ...] = ()  # images the candidate gained
    real_difference: float | None = None  # the same difference in ImageNet-ReaL top-1
    time: str = field(default_factory=utc_now)

    @property
    def allowed_drop(self) -> float:
        """The largest top-1 drop allowed, in points."""
        return self.max_drop * (self.reference.top1 or 0.0)

    @property
    def status(self) -> Status:
        return "ok" if self.verdict == "pass" else "failed"
