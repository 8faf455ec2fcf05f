"""Running a zoocheck ONNX file in onnxruntime (CPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoocheck.converters.base import available_cpus


def session(path: str | Path, threads: int | None = None, *, optimize: bool = True):
    """A CPU session on ``threads`` cores (default: every core this process may use).
    ``optimize=False`` runs the graph as written, with no fusion hiding an intermediate tensor."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or available_cpus()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def run_first_output(sess, batch: np.ndarray, chunk: int = 8) -> np.ndarray:
    """The first output for ``batch``, fed in chunks of ``chunk`` (bounded memory for big models)."""
    input_name = sess.get_inputs()[0].name
    parts = [sess.run(None, {input_name: batch[i : i + chunk]})[0] for i in range(0, len(batch), chunk)]
    return np.concatenate(parts, axis=0)
