"""The feeder of ImageNet evaluation: decoded, cropped, normalised batches, ahead of the model.

Decoding, resizing and cropping run in a thread pool (PIL, OpenCV and numpy release the GIL for
their heavy work), a bounded number of images ahead, while a feeder thread stacks batches into a
queue; the calling thread only runs the model. Crops come from the cache when it has them.
"""

from __future__ import annotations

import collections
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoocheck.checks.crop_cache import CACHE_CHUNK, CropCache
from zoocheck.checks.preprocess import ImageDecodeError, decode_image, geometry
from zoocheck.zoo_registry.types import Preprocess


def crop_image(path: Path, spec: Preprocess) -> np.ndarray:
    """Decode, resize and centre-crop: the uint8 HWC RGB crop (what the cache stores)."""
    return np.ascontiguousarray(geometry(decode_image(path, spec.image_library), spec))


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


class Feeder:
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
