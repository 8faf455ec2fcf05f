"""PaddleClas (``ppcls``) converter: PaddleClas weights -> Paddle forward -> paddle2onnx.

Two on-disk formats are accepted as weights:

- **training weights** ``*_pretrained.pdparams`` (``paddle.save`` of the model's ``state_dict``),
  keyed by PaddleClas's structured parameter names. They are loaded by name, strictly, into the
  network of ``paddle_arch`` (the scheme picked by the entry's builder name, the shape by its
  architecture); the native forward is Paddle dygraph; the export goes through ``paddle.jit.save``
  (an inference model with input ``[None, 3, S, S]``, S = the entry's input size) and paddle2onnx.
- **inference models**, the ``*_infer.tar`` PaddleClas publishes or a folder: ``inference.pdmodel``
  (legacy program) or ``inference.json`` (PIR, Paddle 3) beside ``inference.pdiparams``; a tar may
  hold them under a top folder (``ResNet50_infer/``). The native forward is ``paddle.inference``'s
  predictor on those files; paddle2onnx exports the same files.

Inference models that end in softmax: PaddleClas's export appends a softmax by default, so many
published inference models output probabilities. The converter recognises this from the program
itself (the last op before ``fetch`` is ``softmax``) and sets ``outputs_probabilities``. It then
keeps the graph as published: the ONNX file ends in the same softmax (its output still carries
zoocheck's standard name, and the metadata says ``"output": "probabilities"``), and the native
forward is the predictor's output, also probabilities, so parity compares probabilities with
probabilities, like with like. Logits are not recoverable from such a file anyway (softmax drops
the per-row offset), so nothing is lost by not stripping it.

Seeded random weights (``weights=None``): He-normal convolutions, batch norm with perturbed
statistics (``_mean ~ N(0, 0.1)``, ``_variance ~ U(0.5, 1.5)``, scale and offset perturbed, the last
unit of each residual branch damped so that depth does not blow activations up) and a classifier
scaled for logits of a few units. :func:`write_random_pdparams` and :func:`write_inference_model`
write such weights in PaddleClas's real formats, for tests that go through the real loading path.

Paddle is imported only inside functions: importing this module costs nothing.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tarfile
import tempfile
import warnings
from pathlib import Path

import numpy as np

from zoocheck.converters.base import Converter, NativeModel, WeightsError, check_weights_fit, framework_unavailable, quote_names
from zoocheck.converters.normalize import PROTOBUF_LIMIT
from zoocheck.converters.paddle_arch import Scheme, build_network, scheme_for
from zoocheck.converters.safe_pickle import UnsafePickleError, load_state_pickle
from zoocheck.zoo_registry.types import Entry

#: Images per forward call (keeps peak memory of the big ResNeXts bounded).
FORWARD_CHUNK = 8
#: Program files of an inference model, in the order they are looked for.
PROGRAM_SUFFIXES = (".json", ".pdmodel")


def _import_paddle():
    """``import paddle`` without its import-time warning about ccache."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import paddle
    return paddle


@contextlib.contextmanager
def _stdout_to_stderr():
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


def _versions() -> dict[str, str]:
    paddle = _import_paddle()
    import paddle2onnx

    return {"paddlepaddle": paddle.__version__, "paddle2onnx": paddle2onnx.__version__}


def _export(model_file: Path, params_file: Path, path: Path, opset: int) -> None:
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
    with _stdout_to_stderr():
        paddle2onnx.export(str(model_file), str(params_file), str(path), opset_version=opset, enable_optimize=True)
    if not path.exists() or path.stat().st_size == 0:  # a failed serialisation leaves an empty file
        raise RuntimeError(f"paddle2onnx wrote no ONNX model for {model_file} (its log on stderr says why)")


def _export_large(model_file: Path, weights: dict, path: Path, opset: int) -> None:
    """paddle2onnx the program alone (no params file: a graph of a few hundred kB whose nodes name
    the Paddle parameters they use), then attach ``weights`` (Paddle name -> Paddle tensor, copied
    out one at a time so that only one more copy of the weights exists) as initializers
    and write them as ONE external data file ``<path>.data`` beside ``path``.

    paddle2onnx 2.1.0 cannot export a model over 2 GB itself (see ``_export``). Without the params
    its optimizer has no constants to fold, which for a ResNet changes nothing but the Conv+bias
    and MatMul+Add fusions, both left to onnxruntime."""
    import onnx
    import paddle2onnx
    from onnx import numpy_helper

    path = Path(path)
    skeleton = path.with_name(path.stem + ".graph.onnx")
    with _stdout_to_stderr():
        paddle2onnx.export(str(model_file), "", str(skeleton), opset_version=opset, enable_optimize=True, optimize_tool="none")
    if not skeleton.exists() or skeleton.stat().st_size == 0:
        raise RuntimeError(f"paddle2onnx wrote no ONNX graph for {model_file} (its log on stderr says why)")
    model = onnx.load(str(skeleton))
    skeleton.unlink()
    graph = model.graph
    defined = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {o for n in graph.node for o in n.output}
    used = list(dict.fromkeys(i for n in graph.node for i in n.input if i and i not in defined))
    missing = [name for name in used if name not in weights]
    if missing:
        raise RuntimeError(f"paddle2onnx's graph of {model_file} uses {len(missing)} tensors that are not Paddle parameters: {quote_names(missing)}")
    for name in used:
        graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(weights[name].numpy(), dtype=np.float32), name))
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location=path.name + ".data", size_threshold=1024)


# -- building and loading -------------------------------------------------------------------------


def build_model(entry: Entry):
    """``entry``'s network in Paddle, in eval mode, with PaddleClas's parameter names."""
    _import_paddle()
    network = build_network(entry.arch, scheme_for(entry.arch, entry.naming))
    network.eval()
    return network


#: keys ``paddle.save`` adds beside the parameters of a state dict
_NAME_TABLE, _BIG_PARAM_INFO = "StructuredToParameterName@@", "UnpackBigParamInfor@@"


def read_pdparams(path: Path) -> dict[str, np.ndarray]:
    """The name -> array mapping in a ``.pdparams`` file; WeightsError if it is not one.

    Read with zoocheck's restricted unpickler, never ``paddle.load`` (a bare ``pickle.load`` that
    would run whatever a crafted file names), then unpacked as ``paddle.load`` does: the name table
    dropped, ``(name, array)`` pairs of Paddle 2.1 reduced to the array, and the slices that protocol
    2/3 files split big parameters into joined again."""
    path = Path(path)
    try:
        state = load_state_pickle(path)
    except UnsafePickleError as exc:
        raise WeightsError(f"{path}: refused to read this .pdparams: {exc}; a PaddleClas checkpoint holds only arrays, so re-download it from the zoo") from None
    except Exception as exc:  # not a pickle at all: truncated, another format
        raise WeightsError(f"{path}: not a Paddle .pdparams file ({type(exc).__name__}: {str(exc)[:200]}); re-download it or check the --weights path") from exc
    if not isinstance(state, dict) or not state:
        raise WeightsError(f"{path}: not a Paddle .pdparams state dict (it holds a {type(state).__name__})")
    state = dict(state)
    state.pop(_NAME_TABLE, None)
    for key, info in state.pop(_BIG_PARAM_INFO, {}).items():
        state[key] = np.concatenate([state.pop(part) for part in info["slices"]]).reshape(info["OriginShape"])
    arrays = {}
    for key, value in state.items():
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
            value = value[1]
        if not isinstance(value, np.ndarray):
            raise WeightsError(f"{path}: not a Paddle .pdparams state dict (entry {key!r} is a {type(value).__name__}, not an array)")
        arrays[key] = value
    return arrays


def load_state(model, state: dict[str, np.ndarray], *, origin: str, builder: str) -> None:
    """Set every parameter and batch-norm statistic of ``model`` from ``state``, by name.

    Strict: a missing, unexpected or differently shaped entry raises WeightsError naming
    ``origin`` (the file), in one line.
    """
    expected = model.state_dict()
    check_weights_fit(
        {k: tuple(v.shape) for k, v in expected.items()},
        {k: tuple(v.shape) for k, v in state.items()},
        file_name=origin,
        what=f"PaddleClas {builder}",
    )
    for key, tensor in expected.items():
        tensor.set_value(np.ascontiguousarray(state[key], dtype=np.float32))


def _branch_ends(model, scheme: Scheme) -> set[str]:
    """Names of the batch norms that end a residual branch (damped in random weights)."""
    ends = set()
    for name, layer in model.named_sublayers():
        branch = getattr(layer, "_branch", None)
        if branch:
            ends.add(f"{name}.{branch[-1]}.{scheme.bn}")
    return ends


def random_state(model, entry: Entry, seed: int) -> dict[str, np.ndarray]:
    """Seeded random weights for ``model`` (a :func:`build_model` network), keyed like its state dict."""
    paddle = _import_paddle()
    rng = np.random.default_rng(seed)
    scheme = scheme_for(entry.arch, entry.naming)
    damped = _branch_ends(model, scheme)
    state: dict[str, np.ndarray] = {}
    for name, layer in model.named_sublayers():
        if isinstance(layer, paddle.nn.Conv2D):
            out_c, in_c, kh, kw = layer.weight.shape
            std = np.sqrt(2.0 / (in_c * kh * kw))
            # float32 at once: the float64 draws of a 829 M-parameter ResNeXt would hold 6.6 GB
            state[f"{name}.weight"] = rng.normal(0.0, std, (out_c, in_c, kh, kw)).astype(np.float32)
        elif isinstance(layer, paddle.nn.BatchNorm2D):
            (c,) = layer.weight.shape
            low, high = (0.1, 0.3) if name in damped else (0.7, 1.3)
            state[f"{name}.weight"] = rng.uniform(low, high, c)
            state[f"{name}.bias"] = rng.normal(0.0, 0.1, c)
            state[f"{name}._mean"] = rng.normal(0.0, 0.1, c)
            state[f"{name}._variance"] = rng.uniform(0.5, 1.5, c)
        elif isinstance(layer, paddle.nn.Linear):
            fan_in, classes = layer.weight.shape
            state[f"{name}.weight"] = rng.normal(0.0, 1.0 / np.sqrt(fan_in), (fan_in, classes))
            state[f"{name}.bias"] = np.zeros(classes)
    return {k: v.astype(np.float32, copy=False) for k, v in state.items()}


def random_network(entry: Entry, seed: int):
    """``entry``'s network with seeded random weights and non-degenerate logits.

    A random network's pooled features share a large input-independent part, which would make every
    input's logits nearly the same vector. The classifier is therefore calibrated on a few seeded
    random images: the mean logit vector is moved into the bias (subtracted) and the weights scaled
    so logits vary by about one unit across the probes (more across real photos).
    """
    paddle = _import_paddle()
    network = build_model(entry)
    load_state(network, random_state(network, entry, seed), origin=f"random weights (seed {seed})", builder=entry.builder)
    fc = dict(network.named_sublayers())[scheme_for(entry.arch, entry.naming).fc]
    # Blocky noise (16x16 patches) looks more like a photo to a network than pixel noise does.
    coarse = np.random.default_rng(seed + 1).standard_normal((4, 3, 7, 7))
    probe = np.kron(coarse, np.ones((16, 16))).astype(np.float32)
    with paddle.no_grad():
        logits = network(paddle.to_tensor(probe)).numpy().astype(np.float64)
    mean, spread = logits.mean(axis=0), float((logits - logits.mean(axis=0)).std())
    scale = 1.0 / spread if np.isfinite(spread) and spread > 0 else 1.0
    fc.weight.set_value((fc.weight.numpy() * scale).astype(np.float32))
    fc.bias.set_value((-mean * scale).astype(np.float32))
    return network


# -- inference models -----------------------------------------------------------------------------


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
        raise WeightsError(
            f"{folder}: no Paddle inference model (inference.pdmodel or inference.json beside inference.pdiparams) found"
        )
    if len(found) > 1:
        raise WeightsError(f"{folder}: several inference models ({quote_names([str(p.relative_to(folder)) for p, _ in found])}); point at one folder")
    return found[0]


def program_ops(program_file: Path) -> list[str]:
    """The op types of an inference program, in order (``softmax``, ``fetch``, ...), params not loaded."""
    paddle = _import_paddle()
    program_file = Path(program_file)
    try:
        with _stdout_to_stderr():
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


class PaddleDygraphModel(NativeModel):
    """A PaddleClas network with loaded (or random) weights, run in dygraph."""

    def __init__(self, entry: Entry, network):
        self.entry = entry
        self.network = network
        self.versions = _versions()
        self.outputs_probabilities = False

    def forward(self, batch: np.ndarray) -> np.ndarray:
        paddle = _import_paddle()
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        outputs = []
        with paddle.no_grad():
            for start in range(0, len(batch), FORWARD_CHUNK):
                outputs.append(self.network(paddle.to_tensor(batch[start : start + FORWARD_CHUNK])).numpy())
        return np.concatenate(outputs) if outputs else np.zeros((0, self.entry.arch.num_classes), np.float32)

    def save_inference(self, prefix: Path, *, softmax: bool = False, legacy_format: bool = False) -> None:
        """``paddle.jit.save`` the network (input ``[None, 3, S, S]``) as ``prefix.json|.pdmodel`` + ``.pdiparams``."""
        paddle = _import_paddle()
        from paddle.static import InputSpec

        layer = self.network
        if softmax:
            layer = _WithSoftmax(self.network)
            layer.eval()
        size = self.entry.input_size
        spec = [InputSpec([None, 3, size, size], "float32", "x")]
        guard = paddle.pir_utils.OldIrGuard() if legacy_format else contextlib.nullcontext()
        with _stdout_to_stderr(), guard:
            paddle.jit.save(layer, str(prefix), input_spec=spec)

    def export_onnx(self, path: Path, opset: int) -> None:
        with tempfile.TemporaryDirectory(prefix="zoocheck-paddle-export-") as tmp:
            prefix = Path(tmp) / "inference"
            self.save_inference(prefix)
            program = next(prefix.with_suffix(s) for s in PROGRAM_SUFFIXES if prefix.with_suffix(s).exists())
            params = prefix.with_suffix(".pdiparams")
            if params.stat().st_size <= PROTOBUF_LIMIT:
                _export(program, params, path, opset)
                return
            params.unlink()  # paddle2onnx gets the program alone; the weights come from the network
            # Inside the saved program a parameter is named by its dygraph Tensor.name (conv2d_0.w_0).
            _export_large(program, {p.name: p for p in self.network.parameters()}, path, opset)


def _WithSoftmax(network):
    paddle = _import_paddle()

    class WithSoftmax(paddle.nn.Layer):
        """What PaddleClas's export does by default: the classifier followed by softmax."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return paddle.nn.functional.softmax(self.inner(x), axis=-1)

    return WithSoftmax(network)


class PaddleInferenceModel(NativeModel):
    """A Paddle inference model (program + params), run by ``paddle.inference``'s predictor."""

    def __init__(self, entry: Entry, origin: Path, program: Path, params: Path, keepalive=None):
        paddle = _import_paddle()
        self.entry, self.origin, self.program, self.params = entry, origin, program, params
        self._keepalive = keepalive  # the temporary folder a tar was unpacked into
        self.versions = _versions()
        self.outputs_probabilities = ends_in_softmax(program)
        config = paddle.inference.Config(str(program), str(params))
        config.disable_glog_info()
        if hasattr(config, "disable_gpu"):
            config.disable_gpu()
        try:
            with _stdout_to_stderr():
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
            raise WeightsError(f"{self.origin}: the inference model outputs {result.shape[1]} values per image, {self.entry.key} has {self.entry.arch.num_classes} classes")
        return result

    def export_onnx(self, path: Path, opset: int) -> None:
        _export(self.program, self.params, path, opset)


# -- the converter ---------------------------------------------------------------------------------


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


class PaddleClasConverter(Converter):
    sources = ("ppcls",)
    extra = "paddle"
    opset_range = (7, 19)  # paddle2onnx 2.1's operator mappers

    def check_available(self) -> None:
        try:
            _import_paddle()
            import paddle2onnx  # noqa: F401
        except Exception as exc:  # ImportError, or a broken native library
            raise framework_unavailable("PaddlePaddle / paddle2onnx", exc, self.extra) from exc

    def load(self, entry: Entry, weights: Path | None, *, random_seed: int | None = None) -> NativeModel:
        self.prepare(weights, random_seed)
        if weights is None:
            return PaddleDygraphModel(entry, random_network(entry, random_seed))
        weights = Path(weights)
        inference = _inference_source(weights)
        if inference is not None:
            return load_inference(entry, inference)
        state = read_pdparams(weights)
        network = build_model(entry)
        load_state(network, state, origin=str(weights), builder=entry.builder)
        return PaddleDygraphModel(entry, network)


# -- writing PaddleClas's formats (for tests and for users without published files) --------------


def write_random_pdparams(entry: Entry, path: Path, seed: int) -> Path:
    """Write seeded random weights for ``entry`` as PaddleClas writes ``*_pretrained.pdparams``:
    ``paddle.save(model.state_dict())`` with PaddleClas's parameter names."""
    paddle = _import_paddle()
    network = random_network(entry, seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    paddle.save(network.state_dict(), str(path))
    return path


def write_inference_model(
    entry: Entry,
    path: Path,
    *,
    weights: Path | None = None,
    seed: int = 0,
    softmax: bool = False,
    legacy_format: bool = False,
) -> Path:
    """Write an inference model of ``entry`` as PaddleClas exports one.

    ``path`` is a folder (``inference.json`` or, with ``legacy_format``, ``inference.pdmodel``, +
    ``inference.pdiparams``), or a ``.tar`` holding that folder under ``<stem>/`` like PaddleClas's
    ``ResNet50_infer.tar``. Weights from ``weights`` (a .pdparams) or seeded random ones;
    ``softmax`` appends the softmax PaddleClas's export adds by default.
    """
    native = PaddleClasConverter().load(entry, weights, random_seed=None if weights is not None else seed)
    assert isinstance(native, PaddleDygraphModel)
    path = Path(path)
    if path.suffix == ".tar":
        with tempfile.TemporaryDirectory(prefix="zoocheck-paddle-tar-") as tmp:
            folder = Path(tmp) / path.stem
            folder.mkdir()
            native.save_inference(folder / "inference", softmax=softmax, legacy_format=legacy_format)
            path.parent.mkdir(parents=True, exist_ok=True)
            with tarfile.open(path, "w") as tar:
                tar.add(folder, arcname=path.stem)
        return path
    path.mkdir(parents=True, exist_ok=True)
    native.save_inference(path / "inference", softmax=softmax, legacy_format=legacy_format)
    return path


__all__ = [
    "PaddleClasConverter",
    "PaddleDygraphModel",
    "PaddleInferenceModel",
    "build_model",
    "ends_in_softmax",
    "find_inference_files",
    "load_state",
    "random_state",
    "read_pdparams",
    "write_inference_model",
    "write_random_pdparams",
]
