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

Seeded random weights (``weights=None``) are zoocheck's one scheme (``converters/weights/random.py``)
loaded through the same name mapping and strict loading as a file's; ``write_pdparams`` / ``write_paddle_inference``
write them in PaddleClas's real formats (``.pdparams``, inference models) for tests that go
through the real loading path. A family with no canonical weights under PaddleClas's names
(MobileNetV2/V3, DenseNet, VGG, EfficientNet) gets the scheme's batch-norm and classifier steps on
the network's own seeded initialisation (``paddle_random``).

This module holds the dygraph network's loading and the converter; inference models are
``paddle_inference``, paddle2onnx and Paddle's quirks ``paddle_export``. Paddle is imported only inside functions: importing this
module costs nothing.
"""

from __future__ import annotations

import contextlib
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from zoocheck.converters.base import (
    FP64_TWIN_UP_TO,
    Converter,
    NativeModel,
    WeightsError,
    check_weights_fit,
    first_output,
    hooked_layer_outputs,
    refuse_unbuilt,
    started,
)
from zoocheck.converters.paddle_arch import build_network, scheme_for
from zoocheck.converters.paddle_export import (
    PROGRAM_SUFFIXES,
    export_large,
    export_program,
    import_paddle,
    paddle_versions,
    stdout_to_stderr,
)
from zoocheck.converters.paddle_inference import FORWARD_CHUNK, _inference_source, load_inference
from zoocheck.converters.safe_pickle import UnsafePickleError, load_state_pickle
from zoocheck.families.registry import all_families, family_of
from zoocheck.zoo_registry.types import Entry

#: Above this many bytes of weights paddle2onnx gets the program alone and zoocheck attaches the
#: weights (``export_large``): paddle2onnx holds about ten copies of the weights while it exports
#: (3.5 GB peak for ResNeXt101_32x8d_wsl's 0.36 GB, 1.05 GB by the program alone), which puts the
#: WSL ResNeXts out of a 16 GB machine's reach; and it cannot write a model over 2 GB at all.
PROGRAM_ALONE_ABOVE = 512 * 2**20

# -- building and loading -------------------------------------------------------------------------


def build_model(entry: Entry, *, set_next: bool = False):
    """``entry``'s network in Paddle, in eval mode, with PaddleClas's parameter names: ResNets from
    ``paddle_arch``, the other families' from the family (``Family.networks``'s ``ppcls`` entry:
    ``families/<family>/paddle.py``). ``set_next``: every parameter is set right after (a strict
    ``load_state``), so they start as zeros instead of Paddle's random draws (a Gaussian per
    convolution: 1.2 s of a ResNeXt-101's 1.4 s build)."""
    import_paddle()
    with _parameters_as_zeros() if set_next else contextlib.nullcontext():
        if entry.arch.family == "resnet":
            network = build_network(entry.arch, scheme_for(entry.arch, entry.naming))
        else:
            network = family_of(entry.arch).network("ppcls")(entry.arch)
    network.eval()
    return network


@contextlib.contextmanager
def _parameters_as_zeros():
    """Layers built inside start their weights and biases as zeros, where they name no initializer of
    their own (Paddle's global initializer, unset again on the way out: zoocheck sets none elsewhere)."""
    from paddle.nn.initializer import Constant, set_global_initializer

    set_global_initializer(Constant(0.0), Constant(0.0))
    try:
        yield
    finally:
        set_global_initializer(None, None)


def _built_families() -> tuple[str, ...]:
    return ("resnet", *(family.name for family in all_families() if family.builds_network("ppcls")))


def _draws_canonical_weights(entry: Entry) -> bool:
    """Whether ``entry``'s random weights are its family's canonical ones, which need the family's
    ``paddle`` layout (else the network's own: ``paddle_random``)."""
    family = family_of(entry.arch)
    return family.random_weights is not None and "paddle" in dict(family.layouts)


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
        raise WeightsError(
            f"{path}: refused to read this .pdparams: {exc}; a PaddleClas checkpoint holds only arrays, so re-download it from the zoo"
        ) from None
    except Exception as exc:  # not a pickle at all: truncated, another format
        raise WeightsError(
            f"{path}: not a Paddle .pdparams file ({type(exc).__name__}: {str(exc)[:200]}); re-download it or check the --weights path"
        ) from exc
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
    ``origin`` (the file), in one line; but the buffers the network computes from its spec
    (``recomputed_buffers`` of its class: Swin V2's mask, which PaddleClas's versions store in
    different shapes) are read past.
    """
    expected = model.state_dict()
    recomputed = getattr(model, "recomputed_buffers", ())
    check_weights_fit(
        {k: tuple(v.shape) for k, v in expected.items()},
        {k: tuple(v.shape) for k, v in state.items()},
        file_name=origin,
        what=f"PaddleClas {builder}",
        optional=lambda name: name.rsplit(".", 1)[-1] in recomputed,
    )
    for key, tensor in expected.items():
        # integer buffers (Swin's relative position index) stay integers
        dtype = np.float32 if tensor.is_floating_point() else np.int64
        tensor.set_value(np.ascontiguousarray(state[key], dtype=dtype))


def canonical_network(entry: Entry, params: dict[str, np.ndarray], *, origin: str):
    """``entry``'s network holding canonical weights (``converters/weights``), mapped onto
    PaddleClas's names by the family's ``paddle`` layout and loaded strictly as a file's would be."""
    from zoocheck.converters.weights.layouts import to_layout

    network = build_model(entry, set_next=True)
    load_state(network, to_layout(params, entry.arch, "paddle", entry.naming), origin=origin, builder=entry.builder)
    return network


def _chunked_forward(network, batch: np.ndarray, dtype, num_classes: int) -> np.ndarray:
    """``network`` on ``batch`` (float32 values, computed in ``dtype``), FORWARD_CHUNK at a time."""
    paddle = import_paddle()
    batch = np.ascontiguousarray(np.asarray(batch, dtype=np.float32), dtype=dtype)
    outputs = [network(paddle.to_tensor(batch[start : start + FORWARD_CHUNK])).numpy() for start in range(0, len(batch), FORWARD_CHUNK)]
    return np.concatenate(outputs) if outputs else np.zeros((0, num_classes), dtype)


class PaddleDygraphModel(NativeModel):
    """A PaddleClas network with loaded (or random) weights, run in dygraph."""

    def __init__(self, entry: Entry, network):
        self.entry = entry
        self.network = network
        self.versions = paddle_versions()
        self.outputs_probabilities = False

    def forward(self, batch: np.ndarray) -> np.ndarray:
        return self._run(batch, np.float32)

    def forward_fp64(self, batch: np.ndarray) -> np.ndarray:
        """Casts the network to float64 for the call and back (float32 -> float64 -> float32 is
        exact: the weights exported afterwards are the same bits)."""
        self.network.to(dtype="float64")
        try:
            return self._run(batch, np.float64)
        finally:
            self.network.to(dtype="float32")

    def _run(self, batch: np.ndarray, dtype) -> np.ndarray:
        with import_paddle().no_grad():
            return _chunked_forward(self.network, batch, dtype, self.entry.arch.num_classes)

    def layer_outputs(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Forward post-hooks on the layers' modules (PaddleClas's names: the family's ``paddle`` layout);
        the forward runs in chunks of FORWARD_CHUNK, each hook sees every chunk."""
        from zoocheck.converters.weights.layouts import channels_first_layers, layer_modules

        arch = self.entry.arch
        layers = layer_modules(arch, "paddle", self.entry.naming)

        def hook(layer, keep):
            return layer.register_forward_post_hook(lambda _layer, _inputs, output: keep(first_output(output).numpy())).remove

        modules = dict(self.network.named_sublayers())
        return hooked_layer_outputs(layers, modules, hook, self.forward, batch, channels_first_layers(arch, "paddle"))

    def save_inference(self, prefix: Path, *, softmax: bool = False, legacy_format: bool = False) -> None:
        """``paddle.jit.save`` the network (input ``[None, 3, S, S]``) as ``prefix.json|.pdmodel`` + ``.pdiparams``."""
        paddle = import_paddle()
        from paddle.static import InputSpec

        layer = self.network
        if softmax:
            layer = _WithSoftmax(self.network)
            layer.eval()
        size = self.entry.input_size
        spec = [InputSpec([None, 3, size, size], "float32", "x")]
        guard = paddle.pir_utils.OldIrGuard() if legacy_format else contextlib.nullcontext()
        with stdout_to_stderr(), guard:
            paddle.jit.save(layer, str(prefix), input_spec=spec)

    def export_onnx(self, path: Path, opset: int) -> None:
        with tempfile.TemporaryDirectory(prefix="zoocheck-paddle-export-") as tmp:
            prefix = Path(tmp) / "inference"
            self.save_inference(prefix)
            program = next(prefix.with_suffix(s) for s in PROGRAM_SUFFIXES if prefix.with_suffix(s).exists())
            params = prefix.with_suffix(".pdiparams")
            if params.stat().st_size <= PROGRAM_ALONE_ABOVE:
                export_program(program, params, path, opset)
                return
            params.unlink()  # paddle2onnx gets the program alone; the weights come from the network
            # Inside the saved program a parameter is named by its dygraph Tensor.name (conv2d_0.w_0).
            export_large(program, {p.name: p for p in self.network.parameters()}, path, opset)

    def start_forward_fp64(self, batch: np.ndarray) -> Callable[[], np.ndarray]:
        """The float64 forward on a float64 twin of the network, in a thread, beside the float32
        forward, ``jit.save``, paddle2onnx, the graph's rewriting and the write: Paddle runs a
        forward on one core and its kernels, paddle2onnx's conversion and Polygraphy's folding
        release the GIL, so on an otherwise idle second core it costs no wall time (1.3-1.9 s of a
        ResNeXt-101's job done one after the other). The twin's parameters stop gradients: the thread never reads Paddle's global
        no-grad switch, which the other thread's ``no_grad`` blocks flip. Weights over
        ``FP64_TWIN_UP_TO``: cast in place, now."""
        import copy

        if sum(int(np.prod(t.shape)) for t in self.network.state_dict().values()) * 4 > FP64_TWIN_UP_TO:
            return super().start_forward_fp64(batch)

        def forward() -> np.ndarray:
            twin = copy.deepcopy(self.network)  # here, not before the float32 forward: 0.5 s for a ResNeXt-101
            twin.to(dtype="float64")
            for parameter in twin.parameters():
                parameter.stop_gradient = True
            return _chunked_forward(twin, batch, np.float64, self.entry.arch.num_classes)

        return started(forward, "paddle-fp64")


def _WithSoftmax(network):
    paddle = import_paddle()

    class WithSoftmax(paddle.nn.Layer):
        """What PaddleClas's export does by default: the classifier followed by softmax."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return paddle.nn.functional.softmax(self.inner(x), axis=-1)

    return WithSoftmax(network)


class PaddleClasConverter(Converter):
    opset_range = (7, 19)  # paddle2onnx 2.1's operator mappers

    def load(self, entry: Entry, weights: Path | None, *, random_seed: int | None = None) -> NativeModel:
        refuse_unbuilt(entry, _built_families(), "PaddleClas network")
        self.prepare(weights, random_seed)
        if weights is None and not _draws_canonical_weights(entry):
            from zoocheck.converters.paddle_random import random_network

            return PaddleDygraphModel(entry, random_network(lambda: build_model(entry), random_seed, entry.input_size))
        if weights is None:
            from zoocheck.converters.weights import random_weights

            params = random_weights(entry.arch, random_seed, entry.input_size)
            return PaddleDygraphModel(entry, canonical_network(entry, params, origin=f"random weights (seed {random_seed})"))
        weights = Path(weights)
        inference = _inference_source(weights)
        if inference is not None:
            return load_inference(entry, inference)
        state = read_pdparams(weights)
        network = build_model(entry, set_next=True)
        load_state(network, state, origin=str(weights), builder=entry.builder)
        return PaddleDygraphModel(entry, network)


def write_pdparams(entry: Entry, params: dict[str, np.ndarray], path: Path) -> Path:
    paddle = import_paddle()
    network = canonical_network(entry, params, origin="canonical weights")
    path.parent.mkdir(parents=True, exist_ok=True)
    paddle.save(network.state_dict(), str(path))
    return path


def write_paddle_inference(
    entry: Entry, params: dict[str, np.ndarray], path: Path, *, softmax: bool = False, legacy_format: bool = False
) -> Path:
    """As PaddleClas exports one: ``paddle.jit.save`` of the network, optionally with the softmax
    PaddleClas's export appends by default, in the PIR (``inference.json``) or legacy format."""
    native = PaddleDygraphModel(entry, canonical_network(entry, params, origin="canonical weights"))
    if path.suffix != ".tar":
        path.mkdir(parents=True, exist_ok=True)
        native.save_inference(path / "inference", softmax=softmax, legacy_format=legacy_format)
        return path
    with tempfile.TemporaryDirectory(prefix="zoocheck-paddle-tar-") as tmp:
        folder = Path(tmp) / path.stem
        folder.mkdir()
        native.save_inference(folder / "inference", softmax=softmax, legacy_format=legacy_format)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(path, "w") as tar:
            tar.add(folder, arcname=path.stem)
    return path
