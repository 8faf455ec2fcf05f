"""Talking to Paddle and paddle2onnx: importing Paddle quietly, keeping their stdout off zoocheck's,
their versions, and paddle2onnx's export of an inference program (under 2 GB, or the program alone
with the parameters attached as one ONNX external data file). Paddle is imported inside functions.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from zoocheck.converters.base import quote_names
from zoocheck.converters.normalize import PROTOBUF_LIMIT, save_with_external_data

#: Program files of an inference model, in the order they are looked for.
PROGRAM_SUFFIXES = (".json", ".pdmodel")


def import_paddle():
    """``import paddle`` without its import-time warning about ccache."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import paddle
    return paddle


@contextlib.contextmanager
def stdout_to_stderr():
    """Paddle's C++ code and paddle2onnx print progress on stdout; keep stdout for zoocheck."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def paddle_versions() -> dict[str, str]:
    paddle = import_paddle()
    import paddle2onnx

    return {"paddlepaddle": paddle.__version__, "paddle2onnx": paddle2onnx.__version__}


def _onnxruntime_tools_without_torch() -> None:
    """Registers ``onnxruntime.tools`` with its one PyTorch helper imported on first use. Polygraphy's
    constant folding inside paddle2onnx imports the package for its symbolic shape inference, and
    the package's ``__init__`` imports torch wherever torch is installed (3.7 s and 0.4 GB in a fresh
    process) for ``infer_input_info``, a helper of PyTorch exports no Paddle conversion calls."""
    import importlib
    import importlib.util

    if "onnxruntime.tools" in sys.modules:
        return
    spec = importlib.util.find_spec("onnxruntime.tools")
    if spec is None:
        return
    tools = importlib.util.module_from_spec(spec)  # the package without its __init__ run
    tools.have_torch = importlib.util.find_spec("torch")

    def infer_input_info(*args, **kwargs):
        return importlib.import_module("onnxruntime.tools.pytorch_export_helpers").infer_input_info(*args, **kwargs)

    tools.infer_input_info = infer_input_info
    sys.modules["onnxruntime.tools"] = tools
    importlib.import_module("onnxruntime").tools = tools


def _paddle2onnx(model_file: Path, params_file: Path | str, path: Path, opset: int, **options) -> None:
    """``paddle2onnx.export``, its progress kept off stdout. paddle2onnx answers a conversion error
    by logging it and calling ``sys.exit(-1)``: here a RuntimeError, like any library's failure (a
    SystemExit would end the whole process, or the export's thread without a word)."""
    import paddle2onnx

    _onnxruntime_tools_without_torch()
    try:
        with stdout_to_stderr():
            paddle2onnx.export(str(model_file), str(params_file), str(path), opset_version=opset, enable_optimize=True, **options)
    except SystemExit:
        raise RuntimeError(f"paddle2onnx could not convert {model_file} (its log on stderr says why)") from None


def export_program(model_file: Path, params_file: Path, path: Path, opset: int) -> None:
    """paddle2onnx ``model_file`` + ``params_file`` -> ``path`` (a graph under protobuf's 2 GB)."""
    import paddle2onnx

    if Path(params_file).stat().st_size > PROTOBUF_LIMIT:
        raise RuntimeError(
            f"{params_file}: {Path(params_file).stat().st_size / 2**30:.1f} GiB of weights; paddle2onnx "
            f"{paddle2onnx.__version__} serialises the whole ONNX model as one protobuf, which cannot exceed 2 GB "
            "(its external-data option only moves Constant nodes, and it keeps weights as initializers); "
            "convert the training weights (.pdparams) instead: zoocheck then writes them as ONNX external data"
        )
    path = Path(path)
    path.unlink(missing_ok=True)  # paddle2onnx logs its own failures and may write nothing
    _paddle2onnx(model_file, params_file, path, opset)
    if not path.exists() or path.stat().st_size == 0:  # a failed serialisation leaves an empty file
        raise RuntimeError(f"paddle2onnx wrote no ONNX model for {model_file} (its log on stderr says why)")


def export_large(model_file: Path, weights: dict, path: Path, opset: int) -> None:
    """paddle2onnx the program alone (no params file: a graph of a few hundred kB whose nodes name
    the Paddle parameters they use), then attach ``weights`` (Paddle name -> Paddle tensor, copied
    out one at a time so that only one more copy of the weights exists) as initializers
    and write them as ONE external data file ``<path>.data`` beside ``path``.

    paddle2onnx 2.1.0 cannot export a model over 2 GB itself (see ``_export``). Without the params
    its optimizer has no constants to fold, which for a ResNet changes nothing but the Conv+bias
    and MatMul+Add fusions, both left to onnxruntime."""
    import onnx
    from onnx import numpy_helper

    path = Path(path)
    skeleton = path.with_name(path.stem + ".graph.onnx")
    _paddle2onnx(model_file, "", skeleton, opset, optimize_tool="none")
    if not skeleton.exists() or skeleton.stat().st_size == 0:
        raise RuntimeError(f"paddle2onnx wrote no ONNX graph for {model_file} (its log on stderr says why)")
    model = onnx.load(str(skeleton))
    skeleton.unlink()
    graph = model.graph
    defined = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {o for n in graph.node for o in n.output}
    used = list(dict.fromkeys(i for n in graph.node for i in n.input if i and i not in defined))
    missing = [name for name in used if name not in weights]
    if missing:
        raise RuntimeError(
            f"paddle2onnx's graph of {model_file} uses {len(missing)} tensors that are not Paddle parameters: {quote_names(missing)}"
        )
    for name in used:
        graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(weights[name].numpy(), dtype=np.float32), name))
    save_with_external_data(model, path)
