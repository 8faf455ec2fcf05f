"""Paddle inference models (``inference.pdmodel`` or ``inference.json`` + ``inference.pdiparams``, in
a folder or a ``*_infer.tar``): found, unpacked safely, run by ``paddle.inference``'s predictor,
exported by paddle2onnx as published (a trailing softmax recognised from the program itself).
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path

import numpy as np

from zoocheck.converters.base import LayersUnavailable, NativeModel, WeightsError, quote_names
from zoocheck.converters.paddle_export import PROGRAM_SUFFIXES, export_program, import_paddle, paddle_versions, stdout_to_stderr
from zoocheck.zoo_registry.types import Entry

#: Images per forward call (keeps peak memory of the big ResNeXts bounded).
FORWARD_CHUNK = 8


def find_inference_files(folder: Path) -> tuple[Path, Path]:
    """(program file, params file) of the one inference model inside ``folder`` (or a subfolder)."""
    folder = Path(folder)
    found = []
    for params in sorted(folder.rglob("*.pdiparams")):
        for suffix in PROGRAM_SUFFIXES:
            program = params.with_suffix(suffix)
            if program.is_file():
                found.append((program, params))
                break
    if not found:
        raise WeightsError(f"{folder}: no Paddle inference model (inference.pdmodel or inference.json beside inference.pdiparams) found")
    if len(found) > 1:
        raise WeightsError(
            f"{folder}: several inference models ({quote_names([str(p.relative_to(folder)) for p, _ in found])}); point at one folder"
        )
    return found[0]


def program_ops(program_file: Path) -> list[str]:
    """The op types of an inference program, in order (``softmax``, ``fetch``, ...), params not loaded."""
    paddle = import_paddle()
    program_file = Path(program_file)
    try:
        with stdout_to_stderr():
            if program_file.suffix == ".pdmodel":
                with paddle.pir_utils.OldIrGuard():
                    program = paddle.static.Program.parse_from_string(program_file.read_bytes())
                    return [op.type for op in program.global_block().ops]
            with paddle.pir_utils.IrGuard():
                program = paddle.load(str(program_file))
                return [op.name().split(".", 1)[-1] for op in program.global_block().ops]
    except Exception as exc:
        raise WeightsError(f"{program_file}: not a Paddle inference program ({type(exc).__name__}: {str(exc)[:200]})") from exc


def ends_in_softmax(program_file: Path) -> bool:
    """Whether the program's last computing op (before ``fetch``) is a softmax."""
    ops = [op for op in program_ops(program_file) if op not in ("fetch", "fetch_v2", "feed", "data")]
    return bool(ops) and ops[-1] in ("softmax", "softmax_")


def _unpack(path: Path) -> tempfile.TemporaryDirectory:
    """Extract a tar into a temporary folder (members leaving it are refused)."""
    tmp = tempfile.TemporaryDirectory(prefix="zoocheck-paddle-infer-")
    try:
        with tarfile.open(path) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp.name, filter="data")
            else:  # Python without extraction filters: refuse absolute and escaping paths ourselves
                root = Path(tmp.name).resolve()
                for member in tar.getmembers():
                    if not (root / member.name).resolve().is_relative_to(root) or member.issym() or member.islnk():
                        raise WeightsError(f"{path}: unsafe member {member.name!r} in the tar")
                tar.extractall(tmp.name)
    except (tarfile.TarError, OSError) as exc:
        tmp.cleanup()
        raise WeightsError(f"{path}: cannot unpack the inference model tar: {exc}") from exc
    except BaseException:
        tmp.cleanup()
        raise
    return tmp


class PaddleInferenceModel(NativeModel):
    """A Paddle inference model (program + params), run by ``paddle.inference``'s predictor."""

    def __init__(self, entry: Entry, origin: Path, program: Path, params: Path, keepalive=None):
        paddle = import_paddle()
        self.entry, self.origin, self.program, self.params = entry, origin, program, params
        self._keepalive = keepalive  # the temporary folder a tar was unpacked into
        self.versions = paddle_versions()
        self.outputs_probabilities = ends_in_softmax(program)
        config = paddle.inference.Config(str(program), str(params))
        config.disable_glog_info()
        if hasattr(config, "disable_gpu"):
            config.disable_gpu()
        try:
            with stdout_to_stderr():
                self.predictor = paddle.inference.create_predictor(config)
        except Exception as exc:
            raise WeightsError(f"{origin}: Paddle cannot load this inference model: {type(exc).__name__}: {str(exc)[:300]}") from exc
        inputs = self.predictor.get_input_names()
        if len(inputs) != 1:
            raise WeightsError(f"{origin}: expected an inference model with one image input, found {inputs}")

    def forward(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        handle = self.predictor.get_input_handle(self.predictor.get_input_names()[0])
        outputs = []
        for start in range(0, len(batch), FORWARD_CHUNK):
            chunk = batch[start : start + FORWARD_CHUNK]
            handle.reshape(list(chunk.shape))
            handle.copy_from_cpu(chunk)
            self.predictor.run()
            out = self.predictor.get_output_handle(self.predictor.get_output_names()[0]).copy_to_cpu()
            outputs.append(np.asarray(out, dtype=np.float32).reshape(len(chunk), -1))
        result = np.concatenate(outputs) if outputs else np.zeros((0, self.entry.arch.num_classes), np.float32)
        if result.shape[1] != self.entry.arch.num_classes:
            raise WeightsError(
                f"{self.origin}: the inference model outputs {result.shape[1]} values per image, {self.entry.key} has {self.entry.arch.num_classes} classes"
            )
        return result

    def layer_outputs(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        raise LayersUnavailable(
            "an inference model runs in paddle.inference's predictor, which hands out the program's fetch targets only, "
            "not its intermediate tensors; parity of the training weights (.pdparams) locates where it starts"
        )

    def export_onnx(self, path: Path, opset: int) -> None:
        export_program(self.program, self.params, path, opset)


def _inference_source(weights: Path) -> Path | None:
    """The folder or tar holding an inference model, when ``weights`` names one; else None."""
    if weights.is_dir():
        return weights
    if weights.suffix in (".pdmodel", ".pdiparams") or (weights.suffix == ".json" and weights.with_suffix(".pdiparams").exists()):
        return weights.parent
    if weights.suffix != ".pdparams" and tarfile.is_tarfile(weights):
        return weights
    return None


def load_inference(entry: Entry, source: Path) -> PaddleInferenceModel:
    """Open an inference model from a folder or a ``.tar``."""
    source = Path(source)
    keepalive = None
    folder = source
    if source.is_file():
        keepalive = _unpack(source)
        folder = Path(keepalive.name)
    try:
        program, params = find_inference_files(folder)
        return PaddleInferenceModel(entry, source, program, params, keepalive)
    except WeightsError as exc:
        if keepalive is not None:
            keepalive.cleanup()
            raise WeightsError(str(exc).replace(str(folder), str(source))) from exc
        raise
    except BaseException:
        if keepalive is not None:
            keepalive.cleanup()
        raise
