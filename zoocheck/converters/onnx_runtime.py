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


class IntermediatesUnavailable(RuntimeError):
    """A file whose intermediate tensors zoocheck does not read (its weights in external data)."""


def _with_outputs(path: Path, names: list[str], folder: Path) -> Path:
    """A copy of the ONNX file at ``path`` whose graph outputs are ``names``."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
        raise IntermediatesUnavailable(f"{path}: weights in external data (over 2 GB); intermediate outputs are not compared")
    # an fp16 variant's tensors are half precision: each output is declared with its own type
    types = {v.name: v.type.tensor_type.elem_type for v in onnx.shape_inference.infer_shapes(model).graph.value_info}
    del model.graph.output[:]
    for name in names:
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, types.get(name) or onnx.TensorProto.FLOAT, None))
    copy = folder / path.name
    onnx.save(model, str(copy))
    return copy


def intermediate_outputs(path: str | Path, names: list[str], batch: np.ndarray) -> dict[str, np.ndarray]:
    """The tensors ``names`` of the ONNX file at ``path`` on ``batch``, computed by the graph as
    written (no optimisation: no fusion may change a tensor), fed one chunk of the batch size the
    file declares at a time (the ONNX model zoo's files take one image)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="zoocheck-intermediates-") as tmp:
        sess = session(_with_outputs(Path(path), list(names), Path(tmp)), optimize=False)
    first = sess.get_inputs()[0]
    chunk = first.shape[0] if isinstance(first.shape[0], int) and first.shape[0] > 0 else max(len(batch), 1)
    parts = [sess.run(list(names), {first.name: batch[i : i + chunk]}) for i in range(0, len(batch), chunk)]
    return {name: np.concatenate([part[k] for part in parts]) for k, name in enumerate(names)}
