"""What the PyTorch-family converters share: reading checkpoints in their on-disk formats, strict
loading (of a file's weights and of canonical ones), writing checkpoints, and the NativeModel for
an nn.Module (seeded random weights for networks without a canonical forward: ``torch_random.py``).

Imported only by the torch converters, so importing it may import torch.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from zoocheck.converters.base import (
    FP64_TWIN_UP_TO,
    CorruptWeightsError,
    ForwardsBeside,
    NativeModel,
    PickledObjectError,
    WeightsError,
    check_weights_fit,
    first_output,
    hooked_layer_outputs,
    quote_names,
)
from zoocheck.converters.forked import forked
from zoocheck.families.resnet.spec import STEM_CHANNELS, resnet_spec
from zoocheck.zoo_registry.types import Architecture, Entry

# Keys a checkpoint may carry or lack without changing the function computed: BatchNorm's step
# counter (old torchvision files have none; eval mode never reads it).
_OPTIONAL_SUFFIXES = ("num_batches_tracked",)
# Wrappers training scripts put around a state_dict, tried in this order.
_WRAPPER_KEYS = ("state_dict", "model", "module", "state_dict_ema", "model_ema")


def timm_network(arch: Architecture) -> nn.Module:
    """``arch`` built by timm (eval mode), under timm's (= torchvision's) parameter names: a
    ResNetSpec through timm's ResNet class (every 'b', 'c', 'd', 's', ResNeXt and wide spec), a
    timm LibraryNetwork by its name.

    ValueError for what timm does not build: MXNet's v1 bottleneck and v2 blocks, PaddleClas's
    stage-1 projection, another library's network."""
    import timm
    from timm.models.resnet import BasicBlock, Bottleneck, ResNet

    spec = resnet_spec(arch)
    if spec is None:
        if arch.family != "timm":
            raise ValueError(f"timm does not build {arch.family}'s {arch.id}")
        return timm.create_model(arch.id, pretrained=False, num_classes=arch.num_classes).eval()
    if spec.preact or (spec.stride_on == "1x1" and spec.block == "bottleneck") or spec.project_first:
        raise ValueError(f"timm's ResNet class does not build {arch.id}")
    return ResNet(
        block=Bottleneck if spec.block == "bottleneck" else BasicBlock,
        layers=list(spec.layers),
        cardinality=spec.groups,
        base_width=spec.width_per_group,
        stem_width=STEM_CHANNELS[spec.stem][0],
        stem_type="" if spec.stem == "7x7" else "deep",
        avg_down=spec.shortcut == "avgpool_conv",
        num_classes=arch.num_classes,
    ).eval()


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file, unwrapped and with DataParallel's ``module.`` removed.

    Reads ``.safetensors`` and torch pickles (with ``weights_only=True``: a checkpoint never runs
    code). Accepts a bare state_dict or one wrapped in ``{"state_dict": ...}``/``{"model": ...}``
    (mmpretrain, training scripts). Raises WeightsError naming the file.
    """
    path = Path(path)
    if path.is_dir():
        raise WeightsError(f"{path}: is a directory; expected a .pth/.pt/.bin/.safetensors checkpoint file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj = load_file(str(path), device="cpu")
        else:
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsError(f"{path}: no such weights file") from None
    except Exception as exc:  # unpickling refused, truncated file, not a checkpoint at all
        raise _unreadable(path, exc) from exc
    state = obj
    while isinstance(state, Mapping) and not _is_tensor_dict(state):
        inner = next((state[k] for k in _WRAPPER_KEYS if isinstance(state.get(k), Mapping)), None)
        if inner is None:
            break
        state = inner
    if not isinstance(state, Mapping) or not _is_tensor_dict(state):
        what = f"a dict with keys {quote_names(sorted(map(str, obj)))}" if isinstance(obj, Mapping) else type(obj).__name__
        raise WeightsError(f"{path.name}: not a state_dict of tensors (found {what})")
    state = dict(state)
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


def _unreadable(path: Path, exc: Exception) -> WeightsError:
    """Why torch.load / safetensors refused ``path``, in zoocheck's words (their text stays the
    cause: the failure log's detail, --verbose)."""
    size = path.stat().st_size if path.exists() else 0
    if size == 0:
        return CorruptWeightsError(f"{path.name}: is empty (0 bytes): the download or save did not finish")
    with open(path, "rb") as fh:
        zipped = fh.read(4) == b"PK\x03\x04"  # torch.save's archive format
    if not zipped and path.suffix != ".safetensors":
        return WeightsError(
            f"{path.name}: not a PyTorch checkpoint (neither a torch.save archive nor a safetensors file); check the --weights path"
        )
    if zipped and "Weights only load failed" in str(exc):
        return PickledObjectError(
            f"{path.name}: pickles Python objects (a whole model?) instead of a state_dict of tensors, and zoocheck "
            f"never runs code from a checkpoint; in Python, torch.save(model.state_dict(), 'weights.pth') and pass that file"
        )
    return CorruptWeightsError(f"{path.name}: truncated or corrupt ({size} bytes; the checkpoint cannot be read to its end)")


def _is_tensor_dict(d: Mapping) -> bool:
    return bool(d) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in d.items())


def load_strict(module: nn.Module, state: Mapping[str, torch.Tensor], path: Path, what: str, ignore_prefixes: tuple[str, ...] = ()) -> None:
    """Load ``state`` into ``module``: every key present, none extra, every shape equal.

    Raises a one-line WeightsError naming the file, the model and the first offending keys.
    """
    expected = module.state_dict()
    given = {k: v for k, v in state.items() if not k.startswith(ignore_prefixes)}

    check_weights_fit(
        {k: tuple(v.shape) for k, v in expected.items()},
        {k: tuple(v.shape) for k, v in given.items()},
        file_name=Path(path).name,
        what=what,
        optional=lambda key: key.endswith(_OPTIONAL_SUFFIXES),
    )
    tensors = {k: v for k, v in given.items() if k in expected}
    module.load_state_dict(tensors, strict=False)
    module.eval()


# ---------------------------------------------------------------------------------------------
# Seeded random weights


class _UndrawnParameters(torch.overrides.TorchFunctionMode):
    """In-place writes to a Parameter (an initialiser's draw and its scaling) skipped."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        # a method's tensor comes first; torch.nn.init's functions may be handed it by keyword (and
        # what a function calls inside is not seen here)
        target = args[0] if args else kwargs.get("tensor")
        if isinstance(target, nn.Parameter) and name.endswith("_") and not name.startswith("_"):  # uniform_, not __get__
            return target
        return func(*args, **kwargs)


def undrawn_parameters() -> torch.overrides.TorchFunctionMode:
    """A block in which the modules built leave their parameters as allocated, not initialised,
    for a network whose every parameter is loaded next (``load_strict``): initialisers write a
    Parameter in place (torch's and timm's draws, ``uniform_`` then ``erfinv_``, ``mul_``...),
    and a ViT-B/16's are 2 s of its 2.5 s build. Buffers are computed as ever (a window
    attention's position index is not in the file)."""
    return _UndrawnParameters()


def load_canonical(
    module: nn.Module, state: Mapping[str, np.ndarray], *, origin: str, what: str, ignore_prefixes: tuple[str, ...] = ()
) -> None:
    """Load canonical weights (``converters/weights``), already under ``module``'s names, by the
    strict path a checkpoint file takes; ``origin`` names them in errors (e.g. the seed)."""
    load_strict(module, torch_tensors(dict(state)), Path(origin), what, ignore_prefixes)


def save_checkpoint(state: Mapping[str, torch.Tensor], path: Path, wrapper: str | None = None, meta: dict | None = None) -> Path:
    """Write ``state`` the way a zoo ships it: ``.safetensors`` by suffix, else a torch pickle,
    optionally wrapped (``{"state_dict": ...}``, ``{"model": ...}``) with a ``meta`` dict beside."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().clone() for k, v in state.items()}
    if path.suffix == ".safetensors":
        if wrapper is not None:
            raise ValueError("safetensors files hold a flat dict of tensors; no wrapper")
        from safetensors.torch import save_file

        save_file(tensors, str(path), metadata={"format": "pt"})
        return path
    obj: dict = tensors if wrapper is None else {wrapper: tensors}
    if meta is not None:
        if wrapper is None:
            raise ValueError("meta needs a wrapper key")
        obj = {"meta": meta, **obj}
    torch.save(obj, str(path))
    return path


def torch_tensors(arrays: dict[str, np.ndarray]):
    """numpy arrays as torch tensors (shared memory), for a state dict."""
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}


def write_torch_state_dict(
    entry: Entry, params: dict[str, np.ndarray], path: Path, *, wrapper: str | None = None, data_parallel: bool = False
) -> Path:
    """torchvision / timm: the state dict (the library's names: the family's layout for the source)."""
    from zoocheck.converters.weights.layouts import to_layout

    state = torch_tensors(to_layout(params, entry.arch, entry.source))
    if data_parallel:
        state = {f"module.{k}": v for k, v in state.items()}
    return save_checkpoint(state, path, wrapper=wrapper)


def standardize_conv_weights(module: nn.Module) -> None:
    """timm's weight-standardized convolutions (BiT's ``StdConv2d``) standardize their weight at
    every forward; exported so, the file holds each raw weight twice (in the two layouts that feed
    the standardization) and recomputes it on every inference. Standardize each once, with the
    module's own arithmetic, and make it a plain convolution: the same function, bit for bit, with
    the weights stored once. In place: for the export, after the native forwards."""
    import sys
    import types

    std_conv = sys.modules.get("timm.layers.std_conv")  # without timm imported, no module is one
    if std_conv is None:
        return
    for conv in module.modules():
        if type(conv) is std_conv.StdConv2d:
            with torch.no_grad():
                weight = nn.functional.batch_norm(
                    conv.weight.reshape(1, conv.out_channels, -1), None, None, training=True, momentum=0.0, eps=conv.eps
                )
                conv.weight.copy_(weight.reshape_as(conv.weight))
            conv.forward = types.MethodType(nn.Conv2d.forward, conv)


# ---------------------------------------------------------------------------------------------
# The NativeModel


class TorchModel(NativeModel):
    """A torch nn.Module classifier: numpy forward in eval mode, TorchScript-based ONNX export.

    ``layers``: canonical graph tensor -> the name of the submodule computing it
    (``weights.layouts.layer_modules``), for ``layer_outputs``; empty where there is no mapping.
    ``channels_first``: those of its tensors the submodule hands over channels first
    (``weights.layouts.channels_first_layers``)."""

    def __init__(
        self,
        module: nn.Module,
        input_size: int,
        versions: dict[str, str],
        layers: Mapping[str, str] | None = None,
        channels_first: Collection[str] = (),
    ):
        self.module = module.eval()
        self.input_size = input_size
        self.versions = {"torch": torch.__version__.split("+")[0], **versions}
        self.layers = dict(layers or {})
        self.channels_first = frozenset(channels_first)

    def layer_outputs(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Forward hooks on the ``layers`` modules."""

        def hook(module: nn.Module, keep):
            return module.register_forward_hook(lambda _m, _args, output: keep(first_output(output).detach().numpy().copy())).remove

        return hooked_layer_outputs(self.layers, dict(self.module.named_modules()), hook, self.forward, batch, self.channels_first)

    def forward(self, batch: np.ndarray) -> np.ndarray:
        return self._run(batch, torch.float32).numpy()

    def forward_fp64(self, batch: np.ndarray) -> np.ndarray:
        """Converts the module to float64 in place for the call and back: float32 -> float64 ->
        float32 is exact, so the weights exported afterwards are the same bits."""
        self.module.double()
        try:
            return self._run(batch, torch.float64).numpy()
        finally:
            self.module.float()

    def start_forwards(self, batch: np.ndarray) -> ForwardsBeside:
        """Both forwards in a process forked from this one (``converters/forked.py``), on one core
        while the export, the graph's rewriting and the write run on the other: in a thread they
        waited for the interpreter lock those hold. The float64 one casts the fork's own copy of
        the module; this one's stays as it is. Weights over ``FP64_TWIN_UP_TO`` (the cast's
        extra twice the weights), or no ``os.fork``: both here, now."""
        if not hasattr(os, "fork") or sum(t.numel() * 4 for t in self.module.state_dict().values()) > FP64_TWIN_UP_TO:
            return super().start_forwards(batch)

        def forwards_on_one_core() -> tuple[np.ndarray, np.ndarray]:
            torch.set_num_threads(1)
            fp32 = self.forward(batch)
            return fp32, self._run(batch, torch.float64, self.module.double()).numpy()

        try:
            running = forked(forwards_on_one_core, "the float32 and float64 forwards")
        except OSError:  # no process to be had (a limit on processes or memory): both here
            return super().start_forwards(batch)
        return ForwardsBeside(running.result, running.cancel)

    def _run(self, batch: np.ndarray, dtype, module: nn.Module | None = None) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(dtype)
        with torch.no_grad():
            out = (self.module if module is None else module)(x)
        if isinstance(out, (tuple, list)):
            out = out[0]
        return out.to(dtype)

    def export_onnx(self, path: Path, opset: int) -> None:
        """Export with the TorchScript exporter (dynamo=False: onnxscript is not a dependency).

        Models over protobuf's 2 GB limit come out with their tensors as separate files beside
        ``path``; ``onnx.load(path)`` reads them back and the pipeline rewrites them as one file.
        """
        dummy = torch.zeros(1, 3, self.input_size, self.input_size)
        standardize_conv_weights(self.module)
        # nn.MultiheadAttention's fast path (torchvision's ViT) is one fused op torch.onnx cannot export
        fastpath = torch.backends.mha.get_fastpath_enabled()
        torch.backends.mha.set_fastpath_enabled(False)
        with torch.no_grad():
            torch.onnx.export(
                self.module,
                (dummy,),
                str(path),
                input_names=["input"],
                output_names=["logits"],
                dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                opset_version=opset,
                do_constant_folding=True,
                dynamo=False,
            )
        torch.backends.mha.set_fastpath_enabled(fastpath)
