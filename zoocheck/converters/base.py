"""The one small interface every framework converter implements.

A converter loads a checkpoint in its source's own on-disk format into the source framework, runs
that framework's forward, and exports ONNX with the source's own exporter. Everything after the raw
export (names, dynamic batch, metadata, checker, atomic write) is shared: ``normalize.py``.
"""

from __future__ import annotations

import abc
import math
import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from zoocheck.errors import BadInput
from zoocheck.sources import Framework, Source, all_sources
from zoocheck.zoo_registry.types import Entry

#: opsets torch.onnx's TorchScript exporter writes (torch.onnx._constants), for every torch-based source
TORCH_OPSETS = (7, 20)

T = TypeVar("T")


class FrameworkUnavailable(RuntimeError):
    """The framework a source needs cannot be imported; the message says why and how to fix it."""


class WeightsError(BadInput):
    """A weights file that cannot be used: wrong format, missing keys, wrong shapes.

    ``elements``: how many numbers the file's tensors hold, when it was read but does not fit, so
    the registry architecture it does fit can be named."""

    def __init__(self, message: str, *, elements: int | None = None):
        super().__init__(message)
        self.elements = elements


class CorruptWeightsError(WeightsError):
    """A weights file that is truncated or damaged: the fix is to download or save it again."""


class PickledObjectError(WeightsError):
    """A checkpoint that pickles Python objects (a whole model) instead of a state dict of tensors."""


class NoBuilder(NotImplementedError):
    """zoocheck cannot build this entry's network in its source's framework yet: the registry holds
    the entry for its published numbers, weights and preprocessing, and a conversion fails at its
    build stage with this one line."""


def refuse_unbuilt(entry: Entry, families: tuple[str, ...], what: str, fix: str = "") -> None:
    """NoBuilder unless ``entry``'s family is one of ``families``, the ones ``what`` (e.g.
    "mmpretrain network") is built for."""
    if entry.arch.family not in families:
        raise NoBuilder(
            f"{entry.key} ({entry.arch.id}): zoocheck has no {what} for the {entry.arch.family} family yet" + (f"; {fix}" if fix else "")
        )


def require_fields(spec, fixed: Mapping[str, object], builder: str, zoo: str) -> None:
    """NoBuilder naming each field of ``spec`` whose value is not ``fixed``'s: the fields
    ``builder`` (e.g. "mmpretrain's MobileNetV3", a network file of ``zoo``) builds one way only, so
    a network with another value is one zoocheck does not build for that zoo."""
    differing = [f"{name} {getattr(spec, name)!r} ({zoo}: {value!r})" for name, value in fixed.items() if getattr(spec, name) != value]
    if differing:
        raise NoBuilder(f"{spec.id}: {builder} builds no such network: {', '.join(differing)}")


def import_framework(framework: Framework, source: str):
    """Import ``framework`` (through its importer when it has one) for ``source``; the module.

    Any exception counts: a framework whose native library is broken disables its sources only."""
    try:
        return framework.load()
    except FrameworkUnavailable:
        raise
    except Exception as exc:
        raise framework_unavailable(f"{framework.module} (for source {source!r})", exc, framework.extra) from exc


_NAMES_SHOWN = 4  # offending parameter names quoted in a WeightsError


def quote_names(names: Iterable[str]) -> str:
    """The first few of ``names`` for a one-line error message, with how many more there are."""
    names = list(names)
    more = f" (+{len(names) - _NAMES_SHOWN} more)" if len(names) > _NAMES_SHOWN else ""
    return ", ".join(names[:_NAMES_SHOWN]) + more


def check_weights_fit(
    expected: Mapping[str, Sequence[int]],
    given: Mapping[str, Sequence[int]],
    *,
    file_name: str,
    what: str,
    optional: Callable[[str], bool] = lambda name: False,
) -> None:
    """Strict loading, framework-neutral: every expected parameter present, none extra, every shape
    equal. ``expected``/``given`` map parameter names to shapes. Raises one WeightsError line
    naming the file, the model and the first offending names."""
    missing = [k for k in expected if k not in given and not optional(k)]
    unexpected = [k for k in given if k not in expected and not optional(k)]
    shapes = [
        f"{k} {tuple(given[k])} in file vs {tuple(v)} in model" for k, v in expected.items() if k in given and tuple(given[k]) != tuple(v)
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys: {quote_names(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys: {quote_names(unexpected)}")
    if shapes:
        problems.append(f"{len(shapes)} shape mismatches: {quote_names(shapes)}")
    if problems:
        elements = sum(math.prod(shape) for k, shape in given.items() if len(shape) and not optional(k))
        raise WeightsError(f"{file_name}: weights do not fit {what}: " + "; ".join(problems), elements=elements)


class LayersUnavailable(Exception):
    """Why a model gives no per-layer outputs (``NativeModel.layer_outputs``), in one line: a
    parity failure's first divergence is then not located, and the record says this instead."""


class NativeModel(abc.ABC):
    """A model loaded into its source framework, ready to run and to export."""

    #: e.g. {"torch": "2.14.1", "torchvision": "0.29.1"}; written into the ONNX metadata.
    versions: dict[str, str]
    #: True when the native graph ends in softmax (some PaddleClas inference models).
    outputs_probabilities: bool = False

    @abc.abstractmethod
    def forward(self, batch: np.ndarray) -> np.ndarray:
        """Run the framework's own forward on a float32 NCHW batch; returns [N, num_classes]."""

    def forward_fp64(self, batch: np.ndarray) -> np.ndarray | None:
        """The same forward computed in float64, or None where the framework cannot. It is the
        yardstick that tells fp32 rounding of ill-conditioned weights from a conversion error."""
        return None

    def layer_outputs(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """The framework's own per-layer outputs on ``batch``, named by the canonical graph's
        tensors (``layer1.0.conv2``: that unit's batch-norm output, which the canonical graph's
        Conv computes) in network order, ``logits`` last; LayersUnavailable, saying why, where
        this model cannot give them. Where a parity failure starts (``checks/divergence.py``): it
        costs a forward, so it runs only after a failure."""
        raise LayersUnavailable("the model as loaded has no layers to hook")

    @abc.abstractmethod
    def export_onnx(self, path: Path, opset: int) -> None:
        """Write a raw ONNX file with the source's own exporter (normalised afterwards)."""

    def start_forwards(self, batch: np.ndarray) -> ForwardsBeside:
        """The float32 ``forward`` and ``forward_fp64`` of ``batch``, started beside whatever this
        model does next (its export, the graph's rewriting, the write) where the framework allows
        it. Here: ``start_forward_fp64``, then the float32 forward now."""
        fp64 = self.start_forward_fp64(batch)
        fp32 = np.asarray(self.forward(batch), dtype=np.float32)
        return ForwardsBeside(lambda: (fp32, fp64()))

    def start_forward_fp64(self, batch: np.ndarray) -> Callable[[], np.ndarray | None]:
        """``forward_fp64(batch)`` started beside whatever this model does next where the framework
        allows it; returns the function that waits for and returns its result. Here: computed now."""
        result = self.forward_fp64(batch)
        return lambda: result


@dataclass(frozen=True)
class ForwardsBeside:
    """A batch's float32 and float64 forwards under way (``NativeModel.start_forwards``):
    ``result()`` waits for both (the float64 one None where the framework has none); ``cancel()``
    stops what still runs, for a job that failed before waiting."""

    result: Callable[[], tuple[np.ndarray, np.ndarray | None]]
    cancel: Callable[[], None] = lambda: None


#: Weights (float32 bytes) up to which the float64 forward runs beside the model's other work on a
#: float64 twin of it; above, the twin's extra twice the weights is more than a machine may have
#: spare, and the model is cast in place for the forward instead.
FP64_TWIN_UP_TO = 512 * 2**20


def started(work: Callable[[], T], name: str) -> Callable[[], T]:
    """``work()`` begun in a thread of its own (named ``name``) beside whatever the caller does next;
    returns the function that waits for its result, raising what it raised."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(1, thread_name_prefix=name)
    result = pool.submit(work)
    pool.shutdown(wait=False)  # the thread ends with its one task
    return result.result


def allowed_cpus() -> list[int]:
    """The CPU cores this process may run on (a container's or taskset's limit, not the host's)."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))


def first_output(output):
    """A hooked module's output as its layer's value: a tuple's first element (torch's
    ``nn.MultiheadAttention`` returns its output and the attention weights)."""
    return output[0] if isinstance(output, tuple) else output


def hooked_layer_outputs(
    layers: Mapping[str, str],
    modules: Mapping[str, object],
    hook: Callable[[object, Callable[[np.ndarray], None]], Callable[[], None]],
    forward: Callable[[np.ndarray], np.ndarray],
    batch: np.ndarray,
    channels_first: Collection[str] = (),
) -> dict[str, np.ndarray]:
    """``NativeModel.layer_outputs`` for a framework with forward hooks: ``layers`` maps canonical
    graph tensors to module names, ``modules`` the network's modules by name, ``hook(module,
    keep)`` makes the module hand each output to ``keep`` as numpy (torch's and Paddle's hooks: a
    tuple's first element, ``first_output``) and returns the hook's remover. Outputs of a forward
    that runs in chunks are concatenated; those of the ``channels_first`` tensors
    (``weights.layouts.channels_first_layers``) get their channels moved last, the canonical
    tensor's layout. LayersUnavailable when nothing is mapped or a module is missing."""
    from zoocheck.converters.normalize import OUTPUT_NAME

    if not layers:
        raise LayersUnavailable(
            "the network's layers are not mapped onto the canonical graph's (no canonical form, or an imported graph without modules)"
        )
    missing = next((name for name in layers.values() if name not in modules), None)
    if missing is not None:
        raise LayersUnavailable(f"the network has no module {missing}, where the family's layout puts a layer")
    seen: dict[str, list[np.ndarray]] = {tensor: [] for tensor in layers}
    removers = [hook(modules[name], seen[tensor].append) for tensor, name in layers.items()]
    try:
        logits = forward(batch)
    finally:
        for remove in removers:
            remove()
    outputs = {t: np.concatenate(parts) for t, parts in seen.items() if parts}
    outputs.update({t: np.moveaxis(outputs[t], 1, -1) for t in channels_first if t in outputs})
    return {**outputs, OUTPUT_NAME: logits}


def available_cpus() -> int:
    """Every framework's and onnxruntime's thread count: the cores this process may run on, capped
    by OMP_NUM_THREADS where it is set. That variable is the usual thread budget; Ray sets it to a
    task's CPU request, so onnxruntime keeps to it as torch and Paddle do (two one-CPU tasks on
    two cores would otherwise each run two onnxruntime threads)."""
    cores = len(allowed_cpus())
    budget = os.environ.get("OMP_NUM_THREADS", "").strip()
    return min(cores, int(budget)) if budget.isdigit() and int(budget) > 0 else cores


def framework_unavailable(what: str, exc: BaseException, extra: str | None) -> FrameworkUnavailable:
    """The one message for a framework that cannot be imported: what, why, and the install line."""
    fix = f"pip install 'zoocheck[{extra}]'" if extra else "pip install zoocheck"
    return FrameworkUnavailable(f"{what} cannot be imported ({type(exc).__name__}: {exc}); install it with {fix}")


class Converter(abc.ABC):
    """Serves one source: its descriptor (``zoocheck.sources``) says which frameworks it needs."""

    #: the opsets its exporter writes (None: up to the newest the installed onnx knows)
    opset_range: tuple[int, int | None] = (7, None)

    def __init__(self, source: Source | None = None):
        self.source = source or self._own_descriptor()

    @classmethod
    def _own_descriptor(cls) -> Source:
        path = f"{cls.__module__}:{cls.__qualname__}"
        for source in all_sources():
            if source.converter == path:
                return source
        raise LookupError(f"no registered source names {path} as its converter")

    def frameworks_needed(self, entry: Entry | None, *, random_weights: bool) -> tuple[Framework, ...]:
        """The descriptor's frameworks that ``entry`` needs (``entry=None``: those every model
        needs). A converter with 'some-models' frameworks says which models need them."""
        return tuple(f for f in self.source.frameworks if f.needed == "always" or (f.needed == "random-weights" and random_weights))

    def check_available(self, entry: Entry | None = None, *, random_weights: bool = False) -> None:
        """Import every framework ``entry`` needs; FrameworkUnavailable names the one that fails
        and the pip extra that installs it."""
        for framework in self.frameworks_needed(entry, random_weights=random_weights):
            import_framework(framework, self.source.name)

    def runtime(self, entry: Entry) -> str:
        """What ``entry``'s native forward runs in, as parity results name their reference."""
        return self.source.runtime

    def prepare(self, weights: Path | None, random_seed: int | None) -> None:
        """What every ``load`` does first: refuse ``weights=None`` without a seed, then give the
        framework its thread count (``available_cpus``) and seed."""
        if weights is None and random_seed is None:
            raise ValueError("weights=None needs random_seed (seeded random weights)")
        self.configure(available_cpus(), random_seed)

    def configure(self, threads: int | None, random_seed: int | None) -> None:  # noqa: B027 (an optional hook)
        """Framework hook for ``prepare``: set ``threads`` (None: leave) and the global seed the
        library's own initialisation draws from (None: leave). Default: nothing to set."""

    @abc.abstractmethod
    def load(self, entry: Entry, weights: Path | None, *, random_seed: int | None = None) -> NativeModel:
        """Build ``entry``'s architecture and load ``weights`` (a file or directory in the source's
        own format). ``weights=None`` is only allowed with ``random_seed``: seeded random weights
        with perturbed batch-norm statistics. Raises WeightsError for unusable weights."""

    def resolve(self, name: str) -> Entry | None:
        """An entry for a model the registry does not list but the framework knows by ``name``
        (any timm / torchvision classifier); None when the framework does not know it either."""
        return None
