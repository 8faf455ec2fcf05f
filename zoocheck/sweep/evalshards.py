"""The eval step of a sweep: a cached conversion in onnxruntime over a validation set."""

from __future__ import annotations

from pathlib import Path


def evaluate_onnx(job, onnx_path: Path, data: str | None, *, limit: int | None = None, batch_size: int | None = None, threads: int | None = None):
    """EvalResult of the ONNX file at ``onnx_path`` on the data set at ``data`` (any layout
    ``zoocheck eval`` reads), preprocessed by the entry's own spec."""
    from zoocheck.checks.evaluate import DEFAULT_BATCH_SIZE, evaluate
    from zoocheck.checks.imagenet import read_dataset
    from zoocheck.checks.onnx_runtime import session
    from zoocheck.converters.pipeline import sha256_of
    from zoocheck.zoo_registry.download import cache_dir

    if data is None:
        raise ValueError("the eval step needs a validation set: pass --data DIR")
    entry = job.entry
    sess = session(onnx_path, threads)
    name = sess.get_inputs()[0].name
    return evaluate(
        read_dataset(data),
        entry.preprocess,
        lambda batch: sess.run(None, {name: batch})[0],
        source=entry.source,
        model=entry.name,
        random_weights=job.weights is None,
        arch=entry.arch.id,
        onnx_path=str(onnx_path),
        weights=str(job.weights) if job.weights else None,
        run_key=f"onnx:{sha256_of(onnx_path)}",
        batch_size=batch_size or DEFAULT_BATCH_SIZE,
        limit=limit,
        workers=threads,
        cache_dir=cache_dir() / "preprocessed",
    )
