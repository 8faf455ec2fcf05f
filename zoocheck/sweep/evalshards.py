"""The eval step of a sweep: a cached conversion in onnxruntime over a validation set, whole or in
shards that are merged exactly.

A shard is a contiguous slice of the data set evaluated by ``checks.evaluate`` itself, writing its
per-image top-5; the merge concatenates the slices in data set order and scores them with the same
``accuracy`` as a single run, so top-1/top-5 and every per-image prediction are those of one
process (onnxruntime's output for an image does not depend on which task ran it).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from zoocheck.digests import file_digest


def predictions_path(results_dir: Path, job) -> Path:
    """Where the per-image top-5 of ``job`` (an eval job) is kept: named by the job's key."""
    return Path(results_dir) / "sweep" / "predictions" / f"{job.entry.source}-{job.entry.name}-{job.key[:16]}.npz"


def _dataset(data: str, limit: int | None, start: int = 0, end: int | None = None):
    from zoocheck.checks.imagenet import read_dataset

    dataset = read_dataset(data)
    samples = dataset.samples[:limit] if limit is not None else dataset.samples
    return dataset, dataclasses.replace(dataset, samples=samples[start:end])


def evaluate_onnx(
    job,
    onnx_path: Path,
    data: str | None,
    *,
    predictions: Path,
    limit: int | None = None,
    start: int = 0,
    end: int | None = None,
    batch_size: int | None = None,
    threads: int | None = None,
    precision: str = "fp32",
):
    """EvalResult of the ONNX file at ``onnx_path`` on images ``start:end`` of the data set at
    ``data`` (any layout ``zoocheck eval`` reads; first ``limit`` images), preprocessed by the
    entry's own spec; the per-image top-5 go to ``predictions``."""
    from zoocheck.checks.evaluate import DEFAULT_BATCH_SIZE, evaluate
    from zoocheck.converters.onnx_runtime import session
    from zoocheck.zoo_registry.download import cache_dir, is_published_file

    if data is None:
        raise ValueError("the eval step needs a validation set: pass --data DIR")
    entry = job.entry
    _, part = _dataset(data, limit, start, end)
    sess = session(onnx_path, threads)
    name = sess.get_inputs()[0].name
    Path(predictions).parent.mkdir(parents=True, exist_ok=True)
    return evaluate(
        part,
        entry.preprocess,
        lambda batch: sess.run(None, {name: batch})[0],
        source=entry.source,
        model=entry.name,
        random_weights=job.weights is None,
        arch=entry.arch.id,
        onnx_path=str(onnx_path),
        weights=str(job.weights) if job.weights else None,
        published_weights=job.weights is not None and is_published_file(entry, job.weights),
        run_key=f"onnx:{file_digest(onnx_path)}",
        batch_size=batch_size or DEFAULT_BATCH_SIZE,
        workers=threads,
        cache_dir=cache_dir() / "preprocessed",
        predictions=predictions,
        precision=precision,
    )


def shard_ranges(total: int, shards: int) -> list[tuple[int, int]]:
    """``shards`` contiguous [start, end) ranges covering ``total`` images, sizes differing by at most 1."""
    shards = max(1, min(shards, total or 1))
    bounds = [round(i * total / shards) for i in range(shards + 1)]
    return [(a, b) for a, b in zip(bounds, bounds[1:])]


def merge_shards(job, data: str, limit: int | None, parts: list, shard_predictions: list[Path], predictions: Path):
    """One EvalResult from the shards' results (in data set order) and their per-image top-5."""
    from zoocheck.checks.evaluate import accuracy
    from zoocheck.records import EvalResult

    _, whole = _dataset(data, limit)
    shards = [np.load(p) for p in shard_predictions]
    top5 = np.concatenate([shard["top5"] for shard in shards], axis=0)
    if len(top5) != len(whole.samples):
        raise ValueError(f"shards predicted {len(top5)} images, the data set has {len(whole.samples)}")
    evaluated = top5[:, 0] >= 0
    labels = np.fromiter((s.label for s in whole.samples), dtype=np.int64, count=len(whole.samples))
    top1, top5_acc = accuracy(top5[evaluated], labels[evaluated])
    Path(predictions).parent.mkdir(parents=True, exist_ok=True)
    np.savez(predictions, top5=top5, labels=labels, images=np.concatenate([shard["images"] for shard in shards]))
    wall = max((p.time_s for p in parts), default=0.0)
    first = parts[0]
    return EvalResult(
        source=first.source,
        model=first.model,
        backend=first.backend,
        top1=top1,
        top5=top5_acc,
        images=int(evaluated.sum()),
        skipped=tuple(s for p in parts for s in p.skipped),
        time_s=wall,
        throughput=int(evaluated.sum()) / wall if wall > 0 else 0.0,
        dataset={**whole.describe(), "evaluated_from": len(whole.samples), "shards": len(parts)},
        dataset_fingerprint=whole.fingerprint(),
        preprocess=first.preprocess,
        random_weights=first.random_weights,
        arch=first.arch,
        onnx_path=first.onnx_path,
        weights=first.weights,
        published_weights=first.published_weights,
        limit=limit,
        batch_size=first.batch_size,
        cached_images=sum(p.cached_images for p in parts),
        decoded_images=sum(p.decoded_images for p in parts),
    )


__all__ = ["evaluate_onnx", "merge_shards", "predictions_path", "shard_ranges"]
