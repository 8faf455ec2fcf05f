"""Running a zoocheck ONNX file in onnxruntime (CPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoocheck.converters.base import available_cpus

#: the execution provider every session of this process uses (``use_execution_provider``)
_provider = "CPUExecutionProvider"


def use_execution_provider(name: str) -> None:
    """Run every later session on onnxruntime's provider ``name`` (CPU where none is chosen);
    ValueError naming the providers this onnxruntime has when it lacks ``name``."""
    import onnxruntime as ort

    global _provider
    available = ort.get_available_providers()
    if name not in available:
        raise ValueError(f"execution provider {name!r} is not in this onnxruntime; it has {', '.join(available)}")
    _provider = name


def session(path: str | Path, threads: int | None = None, *, optimize: bool = True):
    """A session on the chosen execution provider (CPU by default; ``threads`` CPU cores, default
    every core this process may use). ``optimize=False`` runs the graph as written, with no fusion
    hiding an intermediate tensor."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or available_cpus()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    providers = [_provider] + (["CPUExecutionProvider"] if _provider != "CPUExecutionProvider" else [])
    return ort.InferenceSession(str(path), sess_options=options, providers=providers)


def run_first_output(sess, batch: np.ndarray, chunk: int = 8) -> np.ndarray:
    """The first output for ``batch``, fed in chunks of ``chunk`` (bounded memory for big models)."""
    input_name = sess.get_inputs()[0].name
    parts = [sess.run(None, {input_name: batch[i : i + chunk]})[0] for i in range(0, len(batch), chunk)]
    return np.concatenate(parts, axis=0)
