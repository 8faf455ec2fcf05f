"""ImageNet-1k evaluation: top-1/top-5 of a model on a validation set, fed as its source fed it.

The data pipeline never waits on the model and the model never waits on the data, as far as two
CPU cores allow:

- decoding, resizing and cropping run in a thread pool (PIL, OpenCV and numpy release the GIL for
  their heavy work), a bounded number of images ahead, while a feeder thread stacks batches into
  a queue; the calling thread only runs the model;
- the uint8 crops (everything before scale/mean/std) are cached on disk in memory-mapped ``.npy``
  chunks keyed by (data set fingerprint, geometric preprocessing spec), so a second model with the
  same resize/crop/interpolation/library decodes nothing, whatever its mean, std or channel order;
- per-image top-5 predictions are checkpointed atomically every few batches: an interrupted
  evaluation resumes where it stopped and never runs the model on a finished image again.

``evaluate`` never prints; it reports progress through a callback and returns a frozen EvalResult.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import queue
import tempfile
import threading
import time as _time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zoocheck.checks.imagenet import NUM_CLASSES, Dataset
from zoocheck.converters.onnx_runtime import available_cpus
from zoocheck.checks.preprocess import ImageDecodeError, center_crop, decode_image, resize
from zoocheck.records import EvalResult, SkippedImage, utc_now
from zoocheck.zoo_registry.types import Preprocess

DEFAULT_BATCH_SIZE = 32
CACHE_CHUNK = 256  # images per cache file
CHECKPOINT_EVERY = 10  # batches
# The spec fields that decide the uint8 crop; scale/mean/std/channel order are applied afterwards.
GEOMETRY_FIELDS = ("resize", "crop", "interpolation", "image_library", "antialias", "resize_mode", "size_rounding", "crop_rounding")
_CACHE_FORMAT = "zoocheck-crops-v1"


# ---------------------------------------------------------------------------------------------
# keys


def geometry_key(spec: Preprocess) -> str:
    """Hash of the spec fields that decide the uint8 crop (the cache key's preprocessing part)."""
    geometry = {name: getattr(spec, name) for name in GEOMETRY_FIELDS}
    return hashlib.sha256(json.dumps([_CACHE_FORMAT, geometry], sort_keys=True).encode()).hexdigest()


def spec_key(spec: Preprocess) -> str:
    """Hash of the whole preprocessing spec."""
    return hashlib.sha256(json.dumps(spec.to_dict(), sort_keys=True).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# per-image work


def crop_image(path: Path, spec: Preprocess) -> np.ndarray:
    """Decode, resize and centre-crop: the uint8 HWC RGB crop (what the cache stores)."""
    return np.ascontiguousarray(center_crop(resize(decode_image(path, spec.image_library), spec), spec.crop, spec.crop_rounding))


def _lookup_tables(spec: Preprocess) -> np.ndarray:
    """[3, 256] float32: every uint8 value of each channel through scale, mean and std, with the
    float32 operations of ``preprocess.normalize`` in its order, so a table lookup is bit-identical
    to the arithmetic (and a fraction of its cost)."""
    values = np.arange(256, dtype=np.uint8).astype(np.float32)[:, None].repeat(3, axis=1)
    if spec.scale != 1.0:
        values *= np.float32(spec.scale)
    values -= np.asarray(spec.mean, dtype=np.float32)
    values /= np.asarray(spec.std, dtype=np.float32)
    return np.ascontiguousarray(values.T)


def normalize_batch(crops, spec: Preprocess, tables: np.ndarray | None = None) -> np.ndarray:
    """uint8 RGB crops ([N, H, W, 3] or a list of [H, W, 3]) -> [N, 3, H, W] float32, bit-identical
    to ``preprocess.normalize`` on each image, channel order included."""
    tables = _lookup_tables(spec) if tables is None else tables
    height, width = crops[0].shape[:2]
    out = np.empty((len(crops), 3, height, width), dtype=np.float32)
    order = (2, 1, 0) if spec.channel_order == "BGR" else (0, 1, 2)
    for n, crop in enumerate(crops):
        for k, channel in enumerate(order):
            np.take(tables[channel], crop[:, :, channel], out=out[n, k], mode="clip")
    return out


def _crop_or_reason(path: Path, spec: Preprocess) -> np.ndarray | str:
    if not path.exists():
        return "missing file"
    try:
        return crop_image(path, spec)
    except ImageDecodeError as exc:
        return f"cannot decode: {str(exc).split(': ', 1)[-1]}"
    except (OSError, ValueError) as exc:  # a truncated or odd file found after decoding started
        return f"{type(exc).__name__}: {exc}"


# ---------------------------------------------------------------------------------------------
# the preprocessed cache


class CropCache:
    """uint8 crops of one (data set, geometry) in chunks of ``CACHE_CHUNK`` images.

    ``c<start>-<end>.npy`` holds crops [start, end) (zeros for images that could not be read);
    ``c<start>-<end>.json`` lists those images and is written last: a chunk without it is ignored.
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.enabled = True
        self.error: str | None = None

    def _paths(self, start: int, end: int) -> tuple[Path, Path]:
        stem = f"c{start:07d}-{end:07d}"
        return self.directory / f"{stem}.npy", self.directory / f"{stem}.json"

    def load(self, start: int, end: int) -> tuple[np.ndarray, dict[int, str]] | None:
        data, meta = self._paths(start, end)
        if not self.enabled or not meta.is_file() or not data.is_file():
            return None
        try:
            skipped = {int(k): v for k, v in json.loads(meta.read_text())["skipped"].items()}
            return np.load(data, mmap_mode="r"), skipped
        except (OSError, ValueError, KeyError):
            return None

    def store(self, start: int, end: int, crops: np.ndarray, skipped: dict[int, str]) -> None:
        if not self.enabled:
            return
        data, meta = self._paths(start, end)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            _atomic_write(data, lambda fh: np.save(fh, crops))
            _atomic_write(meta, lambda fh: fh.write(json.dumps({"skipped": {str(k): v for k, v in skipped.items()}}).encode()))
        except OSError as exc:  # a full disk costs the cache, not the evaluation
            self.enabled, self.error = False, f"preprocessed cache disabled: {exc}"


def _atomic_write(path: Path, write: Callable) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    def open(cls, path: Path | None, run_key: str, total: int) -> "_Checkpoint":
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
        _atomic_write(self.path, lambda fh: np.savez(fh, header=np.array(header), top5=self.top5[: self.done]))

    def remove(self) -> None:
        if self.path is not None:
            Path(self.path).unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# the pipeline


@dataclass
class _Batch:
    indices: list[int]  # sample indices in the batch, in order
    inputs: np.ndarray | None  # [len(indices), 3, H, W] float32
    skipped: dict[int, str]  # images dropped since the previous batch
    upto: int  # every sample below this index is in this batch or an earlier one


@dataclass
class _Counters:
    decoded: int = 0
    cached: int = 0


class _Pipeline:
    """Feeds batches from ``start`` to ``end`` through a bounded queue, filled by a feeder thread."""

    def __init__(self, samples, spec, start, end, batch_size, workers, cache: CropCache | None, prefetch_batches: int = 3):
        self.samples, self.spec = samples, spec
        self.start, self.end, self.batch_size = start, end, batch_size
        self.cache = cache
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="zoocheck-decode")
        self.lookahead = max(2 * workers, batch_size * 2)
        self.queue: queue.Queue = queue.Queue(maxsize=prefetch_batches)
        self.counters = _Counters()
        self.tables = _lookup_tables(spec)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._feed, name="zoocheck-feeder", daemon=True)
        self.thread.start()

    # -- per image stream, in order: (index, crop or None, reason or None)
    def _chunks(self) -> Iterator[tuple[int, int]]:
        first = (self.start // CACHE_CHUNK) * CACHE_CHUNK
        for chunk_start in range(first, self.end, CACHE_CHUNK):
            yield chunk_start, min(chunk_start + CACHE_CHUNK, self.end)

    def _stream(self) -> Iterator[tuple[int, np.ndarray | None, str | None]]:
        spec = self.spec
        pending: collections.deque = collections.deque()

        def task(i: int):
            crop = _crop_or_reason(self.samples[i].path, spec)
            return (i, None, crop) if isinstance(crop, str) else (i, crop, None)

        for chunk_start, chunk_end in self._chunks():
            lo = max(chunk_start, self.start)
            cached = self.cache.load(chunk_start, chunk_end) if self.cache else None
            if cached is not None:
                crops, skipped = cached
                for i in range(lo, chunk_end):
                    if i - chunk_start in skipped:
                        yield i, None, skipped[i - chunk_start]
                    else:
                        self.counters.cached += 1
                        yield i, crops[i - chunk_start], None
                continue
            # Only a whole chunk is written to the cache (a resumed run starts mid-chunk).
            whole = self.cache is not None and self.cache.enabled and lo == chunk_start
            buffer = np.zeros((chunk_end - chunk_start, spec.crop, spec.crop, 3), np.uint8) if whole else None
            chunk_skipped: dict[int, str] = {}
            for i in range(lo, chunk_end):
                pending.append(self.pool.submit(task, i))
                while len(pending) >= self.lookahead:
                    yield from self._take(pending, buffer, chunk_start, chunk_skipped)
            while pending:
                yield from self._take(pending, buffer, chunk_start, chunk_skipped)
            if whole:
                self.cache.store(chunk_start, chunk_end, buffer, chunk_skipped)

    def _take(self, pending, buffer, chunk_start, chunk_skipped):
        i, crop, reason = pending.popleft().result()
        self.counters.decoded += 1
        if buffer is not None:
            if crop is not None:
                buffer[i - chunk_start] = crop
            else:
                chunk_skipped[i - chunk_start] = reason
        yield i, crop, reason

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _emit(self, indices, crops, skipped, upto) -> bool:
        inputs = normalize_batch(crops, self.spec, self.tables) if crops else None
        return self._put(_Batch(indices, inputs, skipped, upto))

    def _feed(self) -> None:
        try:
            indices, crops, skipped = [], [], {}
            for i, crop, reason in self._stream():
                if self._stop.is_set():
                    return
                if crop is None:
                    skipped[i] = reason
                else:
                    indices.append(i)
                    crops.append(crop)
                if len(indices) == self.batch_size:
                    if not self._emit(indices, crops, skipped, i + 1):
                        return
                    indices, crops, skipped = [], [], {}
            if indices or skipped:
                self._emit(indices, crops, skipped, self.end)
            self._put(None)
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(exc)

    def __iter__(self) -> Iterator[_Batch]:
        while True:
            item = self.queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self.thread.join()
        self.pool.shutdown(wait=True, cancel_futures=True)


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
) -> EvalResult:
    """Top-1/top-5 of ``predict`` (float32 NCHW batch -> [N, 1000] scores) on ``dataset``.

    ``run_key`` identifies the model (e.g. the ONNX file's sha256): a checkpoint is resumed only
    for the same model, data and spec. ``cache_dir=None`` disables the preprocessed cache.
    ``progress(done, total)`` is called after every batch with samples finished so far;
    ``on_batch(batches_done)`` too (an exception from it interrupts the run, as Ctrl-C would,
    and the checkpoint keeps every finished batch). Unreadable images are skipped and listed.
    ``predictions``: a ``.npy`` file to write the per-image top-5 to ([N, 5] int16 in data set
    order, -1 for a skipped image).
    """
    samples = dataset.samples[:limit] if limit is not None else dataset.samples
    total = len(samples)
    fingerprint = dataset.fingerprint()
    key = hashlib.sha256(json.dumps([run_key, backend, fingerprint, spec_key(spec)]).encode()).hexdigest()
    ckpt = _Checkpoint.open(Path(checkpoint) if checkpoint else None, key, total)
    resumed = ckpt.done - len(ckpt.skipped)
    cache = CropCache(Path(cache_dir) / f"{fingerprint[:16]}-{geometry_key(spec)[:16]}") if cache_dir else None
    workers = workers or available_cpus()
    began = _time.perf_counter()
    pipeline = _Pipeline(samples, spec, ckpt.done, total, batch_size, workers, cache) if ckpt.done < total else None
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
    if predictions is not None:
        per_image = ckpt.top5.copy()
        per_image[~evaluated] = -1
        _atomic_write(Path(predictions), lambda fh: np.save(fh, per_image))
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
        preprocess=json.loads(json.dumps(spec.to_dict())),  # as stored: lists, not tuples
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
    )


__all__ = ["CACHE_CHUNK", "CropCache", "EvalResult", "SkippedImage", "accuracy", "crop_image", "evaluate", "geometry_key", "normalize_batch", "spec_key", "top5_of"]
