"""ImageNet-1k evaluation: top-1/top-5 of a model on a validation set, fed as its source fed it.

The data never waits on the model and the model never waits on the data, as far as two CPU cores
allow: ``eval_feed.Feeder`` decodes and crops ahead in threads, ``crop_cache.CropCache`` keeps the
uint8 crops for the next model with the same geometry, and this module runs the loop: per-image
top-5 predictions are checkpointed atomically every few batches, so an interrupted evaluation
resumes where it stopped and never runs the model on a finished image again.

``evaluate`` never prints; it reports progress through a callback and returns a frozen EvalResult.
"""

from __future__ import annotations

import json
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zoocheck.checks.crop_cache import CropCache, geometry_key
from zoocheck.checks.eval_feed import Feeder
from zoocheck.checks.imagenet import NUM_CLASSES, Dataset
from zoocheck.checks.real_labels import real_accuracy, real_labels
from zoocheck.converters.base import available_cpus
from zoocheck.digests import json_digest
from zoocheck.records import EvalResult, SkippedImage, utc_now
from zoocheck.store import write_atomic
from zoocheck.zoo_registry.types import Preprocess

DEFAULT_BATCH_SIZE = 32
CHECKPOINT_EVERY = 10  # batches


# ---------------------------------------------------------------------------------------------
# keys


def spec_key(spec: Preprocess) -> str:
    """Hash of the whole preprocessing spec."""
    return json_digest(spec.to_dict())


# ---------------------------------------------------------------------------------------------
# checkpoint of an interrupted run


@dataclass
class _Checkpoint:
    path: Path | None
    run_key: str
    done: int = 0  # samples [0, done) are finished
    top5: np.ndarray | None = None  # [done, 5] int16, -1 for skipped images
    skipped: dict[int, str] = field(default_factory=dict)

    @classmethod
    def open(cls, path: Path | None, run_key: str, total: int) -> _Checkpoint:
        ckpt = cls(path, run_key, 0, np.full((total, 5), -1, dtype=np.int16))
        if path is None or not Path(path).is_file():
            return ckpt
        try:
            with np.load(path, allow_pickle=False) as z:
                header = json.loads(str(z["header"]))
                top5 = z["top5"]
        except (OSError, ValueError, KeyError):
            return ckpt
        if header.get("run_key") != run_key:
            return ckpt
        done = min(int(header["done"]), total, len(top5))
        ckpt.done = done
        ckpt.top5[:done] = top5[:done]
        ckpt.skipped = {int(k): v for k, v in header["skipped"].items() if int(k) < done}
        return ckpt

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        header = json.dumps({"run_key": self.run_key, "done": self.done, "skipped": {str(k): v for k, v in self.skipped.items()}})
        write_atomic(self.path, lambda fh: np.savez(fh, header=np.array(header), top5=self.top5[: self.done]))

    def remove(self) -> None:
        if self.path is not None:
            Path(self.path).unlink(missing_ok=True)


def accuracy(top5: np.ndarray, labels: np.ndarray) -> tuple[float | None, float | None]:
    """(top-1 %, top-5 %) of per-image top-5 predictions [N, 5] against labels [N]; None for N=0."""
    if not len(labels):
        return None, None
    top5 = np.asarray(top5, dtype=np.int64)
    return float(100.0 * np.mean(top5[:, 0] == labels)), float(100.0 * np.mean((top5 == labels[:, None]).any(axis=1)))


def top5_of(logits: np.ndarray) -> np.ndarray:
    """[N, C] scores -> [N, 5] class indices, best first (ties: lower index first)."""
    logits = np.asarray(logits)
    if logits.ndim != 2 or logits.shape[1] != NUM_CLASSES:
        raise ValueError(f"the model outputs shape {tuple(logits.shape)}; ImageNet-1k evaluation needs [N, {NUM_CLASSES}]")
    return np.argsort(-logits, axis=1, kind="stable")[:, :5].astype(np.int16)


def evaluate(
    dataset: Dataset,
    spec: Preprocess,
    predict: Callable[[np.ndarray], np.ndarray],
    *,
    source: str,
    model: str,
    backend: str = "onnxruntime",
    random_weights: bool = False,
    arch: str | None = None,
    onnx_path: str | None = None,
    weights: str | None = None,
    onnx_verified: bool = True,
    published_weights: bool = False,
    run_key: str = "",
    batch_size: int = DEFAULT_BATCH_SIZE,
    limit: int | None = None,
    workers: int | None = None,
    cache_dir: str | Path | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
    progress: Callable[[int, int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
    predictions: str | Path | None = None,
    subsample: int | None = None,
    precision: str = "fp32",
) -> EvalResult:
    """Top-1/top-5 of ``predict`` (float32 NCHW batch -> [N, 1000] scores) on ``dataset``.

    ``run_key`` identifies the model (e.g. the ONNX file's sha256): a checkpoint is resumed only
    for the same model, data and spec. ``cache_dir=None`` disables the preprocessed cache.
    ``progress(done, total)`` is called after every batch with samples finished so far;
    ``on_batch(batches_done)`` too (an exception from it interrupts the run, as Ctrl-C would,
    and the checkpoint keeps every finished batch). Unreadable images are skipped and listed.
    ``predictions``: a ``.npz`` file to write the per-image top-5 to (``top5`` [N, 5] int16 in data
    set order, -1 for a skipped image; ``labels`` [N]; ``images``: each file relative to the data
    set's folder), what a paired comparison of two evaluations reads. ``subsample``: every k-th
    image only, N of them (``selected_samples``). ``precision``: of the model evaluated.
    """
    samples = selected_samples(dataset.samples, limit, subsample)
    total = len(samples)
    fingerprint = dataset.fingerprint()
    key = json_digest([run_key, backend, fingerprint, spec_key(spec), subsample])
    ckpt = _Checkpoint.open(Path(checkpoint) if checkpoint else None, key, total)
    resumed = ckpt.done - len(ckpt.skipped)
    cache = CropCache(Path(cache_dir) / f"{fingerprint[:16]}-{geometry_key(spec)[:16]}") if cache_dir else None
    workers = workers or available_cpus()
    began = _time.perf_counter()
    pipeline = Feeder(samples, spec, ckpt.done, total, batch_size, workers, cache) if ckpt.done < total else None
    batches = 0
    try:
        if progress:
            progress(ckpt.done, total)
        for batch in pipeline or ():
            if batch.indices:
                ckpt.top5[batch.indices] = top5_of(predict(batch.inputs))
            ckpt.skipped.update(batch.skipped)
            ckpt.done = batch.upto
            batches += 1
            if batches % checkpoint_every == 0:
                ckpt.save()
            if progress:
                progress(ckpt.done, total)
            if on_batch:
                on_batch(batches)
    except BaseException:
        if batches:
            ckpt.save()
        raise
    finally:
        if pipeline is not None:
            pipeline.close()
    elapsed = _time.perf_counter() - began
    evaluated = np.ones(total, dtype=bool)
    evaluated[list(ckpt.skipped)] = False
    labels = np.fromiter((s.label for s in samples), dtype=np.int64, count=total)[evaluated]
    images = int(evaluated.sum())
    top1_acc, top5_acc = accuracy(ckpt.top5[evaluated], labels)
    per_image = ckpt.top5.copy()
    per_image[~evaluated] = -1
    all_labels = np.fromiter((s.label for s in samples), dtype=np.int64, count=total)
    names = [_relative_name(s.path, dataset.root) for s in samples]
    reals = real_labels(names)
    real_top1, real_top5, real_images = real_accuracy(per_image, reals) if reals is not None else (None, None, 0)
    if predictions is not None:
        write_atomic(Path(predictions), lambda fh: np.savez(fh, top5=per_image, labels=all_labels, images=np.array(names)))
    ckpt.remove()
    this_run = images - resumed
    return EvalResult(
        source=source,
        model=model,
        backend=backend,
        top1=top1_acc,
        top5=top5_acc,
        images=images,
        skipped=tuple(SkippedImage(str(samples[i].path), ckpt.skipped[i]) for i in sorted(ckpt.skipped)),
        time_s=elapsed,
        throughput=this_run / elapsed if elapsed > 0 else 0.0,
        dataset={**dataset.describe(), "evaluated_from": total},
        dataset_fingerprint=fingerprint,
        preprocess=spec.to_dict(),
        random_weights=random_weights,
        arch=arch,
        onnx_path=onnx_path,
        weights=weights,
        limit=limit,
        batch_size=batch_size,
        resumed_images=resumed,
        cached_images=pipeline.counters.cached if pipeline else 0,
        decoded_images=pipeline.counters.decoded if pipeline else 0,
        time=utc_now(),
        onnx_verified=onnx_verified,
        published_weights=published_weights,
        predictions=str(predictions) if predictions is not None else None,
        subsample=subsample,
        precision=precision,
        real_top1=real_top1,
        real_top5=real_top5,
        real_images=real_images,
    )


def selected_samples(samples, limit: int | None, subsample: int | None):
    """The samples an evaluation runs on: the first ``limit``, then with ``subsample`` N every
    k-th of them (k = len // N, from the first), N at most: a fixed subset any run repeats."""
    samples = samples[:limit] if limit is not None else samples
    if subsample is None or subsample >= len(samples):
        return samples
    return samples[:: len(samples) // subsample][:subsample]


def _relative_name(path: Path, root: Path) -> str:
    root = root if root.is_dir() else root.parent
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(path).name


__all__ = ["accuracy", "evaluate", "selected_samples", "spec_key", "top5_of"]
