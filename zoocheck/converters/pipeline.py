"""Convert one registry entry: load -> native forward -> export -> normalise -> check -> write.

Every framework call runs in a child process (``converters/child.py``): an abort or segfault inside
Paddle or MXNet, or the kernel's OOM killer, becomes a ``Failure`` for that model instead of ending
the whole run. ``NativeSession`` keeps one such child up to serve a native forward batch by batch.
What the frameworks print is captured into a log in the run directory (``zoocheck.rundir``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import os
import platform
import signal
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoocheck import __version__, rundir
from zoocheck.capture import captured_output, read_log
from zoocheck.converters.child import ChildProcess
from zoocheck.converters.graph import FINGERPRINT_KEY
from zoocheck.converters.graph.counts import parameter_counts
from zoocheck.digests import code_digest, file_digest_or_none
from zoocheck.records import ConversionRecord, Failure, OnnxMetadata, WeightsRef
from zoocheck.zoo_registry.download import ChecksumMismatch, cached_weights, cached_weights_path
from zoocheck.zoo_registry.types import Entry

DEFAULT_OPSET = 17


class MissingWeightsError(FileNotFoundError):
    pass


@dataclass(frozen=True)
class Conversion:
    """What converting one entry produced: the ONNX file and the native outputs, or a failure."""

    entry: Entry
    weights: Path | None  # None: seeded random weights (``random_seed``)
    random_seed: int | None
    onnx_path: Path | None
    metadata: OnnxMetadata | None
    native_outputs: np.ndarray | None  # the framework's forward on the inputs given, if any
    # the same forward in float64 (frameworks that can): the yardstick for fp32 noise
    native_outputs_fp64: np.ndarray | None
    outputs_probabilities: bool
    failure: Failure | None
    versions: dict  # the source framework's packages, e.g. {"torch": "2.14.1", "timm": "1.0.31"}
    log: str = ""  # what the framework and its exporter printed (the debug log; shown with --verbose)

    @property
    def ok(self) -> bool:
        return self.failure is None

    def record(self) -> ConversionRecord:
        """The results-store record of this conversion."""
        meta = self.metadata
        return ConversionRecord(
            status="ok" if self.ok else "failed",
            source=self.entry.source,
            model=self.entry.name,
            arch=self.entry.arch.id,
            random_weights=self.weights is None,
            random_seed=self.random_seed if self.weights is None else None,
            onnx_path=str(self.onnx_path) if self.onnx_path else None,
            weights=str(self.weights) if self.weights else None,
            weights_sha256=meta.weights.sha256 if meta and meta.weights else None,
            output="probabilities" if self.outputs_probabilities else "logits",
            # read back from the file written, not what was asked for
            opset=meta.opset if meta else None,
            opset_requested=meta.opset_requested if meta else None,
            ir_version=meta.ir_version if meta else None,
            input_shape=meta.input_shape if meta else None,
            output_shape=meta.output_shape if meta else None,
            onnx_sha256=meta.onnx_file.sha256 if meta and meta.onnx_file else None,
            graph=meta.graph if meta else None,
            structure_fingerprint=meta.structure_fingerprint if meta else None,
            versions=dict(self.versions),
            failure=self.failure,
        )


def resolve_weights(entry: Entry, weights: Path | None, random_seed: int | None) -> Path | None:
    """The weights file to load: the one given, else the fetched one in the cache (verified), else
    None for a random-weights run. Raises MissingWeightsError naming where weights are expected,
    or the cached file that fails its checksum."""
    if weights is not None:
        weights = Path(weights)
        if not weights.exists():
            raise MissingWeightsError(f"{weights}: no such weights file or directory; check the --weights path")
        return weights
    if random_seed is not None:
        return None
    try:
        verified = cached_weights(entry)
    except ChecksumMismatch as exc:
        raise MissingWeightsError(str(exc)) from None
    if verified is not None:
        return verified
    cached = cached_weights_path(entry)
    where = (
        f"run `zoocheck fetch --src {entry.source} --model {entry.name}` (downloads {entry.weights.url} to {cached}), "
        if cached is not None
        else ""
    )
    raise MissingWeightsError(
        f"no weights for {entry.key}: {where}pass --weights PATH, or --random-weights to convert with seeded random weights"
    )


def _weights_fix(entry: Entry, exc: BaseException) -> str:
    """The fix for a damaged weights file, when zoocheck knows one: fetch it again."""
    from zoocheck.converters.base import CorruptWeightsError

    if not isinstance(exc, CorruptWeightsError):
        return ""
    if entry.weights is not None:
        return f"download it again: `zoocheck fetch --src {entry.source} --model {entry.name} --force`"
    return "download or save it again"


def _models_the_weights_fit(entry: Entry, exc: BaseException) -> list[Entry]:
    """For weights of another architecture: the source's models whose architecture has exactly as
    many numbers as the file holds."""
    from zoocheck.converters.base import WeightsError
    from zoocheck.zoo_registry import list_entries

    if not isinstance(exc, WeightsError) or not exc.elements:
        return []
    fits = []
    for other in list_entries(entry.source):
        counts = parameter_counts(other.arch)
        if other.arch.id != entry.arch.id and counts is not None and exc.elements in (counts[0], sum(counts)):
            fits.append(other)
    return fits


def _job_failure(entry: Entry, weights: Path | None, stage: str, exc: BaseException, versions: dict) -> Failure:
    """The failure record of ``exc`` raised by a job on ``entry``. Weights of another architecture
    lead with the fix, the model they fit; the keys and shapes that disagree go to the detail
    (``--verbose`` and the failure log)."""
    fits = _models_the_weights_fit(entry, exc)
    if not fits or weights is None:
        return Failure.from_exception(entry.source, entry.name, stage, exc, versions, fix=_weights_fix(entry, exc))
    failure = Failure.from_exception(entry.source, entry.name, stage, exc, versions)
    models = " or ".join(f"--model {other.name}" for other in fits[:3])
    lead = f"{Path(weights).name} fits {models} (arch {fits[0].arch.id}), not {entry.arch.id}; --verbose lists the tensors that differ"
    return dataclasses.replace(failure, message=lead, detail="\n".join(filter(None, [failure.message, failure.detail])))


def check_published_file(entry: Entry, weights: Path | None) -> None:
    """For a source whose weights file IS its published model (the ONNX model zoo), only that file:
    its checksum must be the registry's, or the run is refused (BadInput) before any work."""
    from zoocheck.converters import converter_for
    from zoocheck.errors import BadInput
    from zoocheck.zoo_registry.download import ChecksumMismatch, verify

    if weights is None or not Path(weights).is_file() or not getattr(converter_for(entry.source), "weights_are_the_published_file", False):
        return
    fetch = f"`zoocheck fetch --src {entry.source} --model {entry.name}`"
    if entry.weights is None or entry.weights.checksum is None:
        raise BadInput(f"{weights}: the registry has no checksum for {entry.key}, so this file cannot be proved to be the zoo's own; nothing is converted")
    try:
        verify(Path(weights), entry.weights.checksum)
    except ChecksumMismatch:
        raise BadInput(f"{weights}: not the file {entry.source} publishes for {entry.name} (its checksum is not {entry.weights.checksum}); fetch the published one with {fetch}") from None


def check_weights_usable(entry: Entry, weights: Path | None) -> None:
    """Load ``weights`` in a child as a conversion does and raise BadInput with the converter's
    one line when they cannot be used (another format, truncated, a pickled whole model, another
    architecture's); nothing when they load, for random weights (None), or when the load fails
    for another reason. It costs a framework start, so it runs only before an error about something
    else (an output that would be overwritten), which would otherwise send the user to the wrong fix."""
    from zoocheck.errors import BadInput

    if weights is None:
        return
    failure = convert(entry, output=None, weights=weights).failure
    if failure is not None and failure.bad_input:
        raise BadInput(failure.one_line())


def describe(entry: Entry, weights: Path | None, random_seed: int | None, versions: dict, outputs_probabilities: bool, model, opset_requested: int, graph_facts: dict) -> OnnxMetadata:
    """The description written into the ONNX metadata and beside the file. Opset, IR version and
    shapes are read from ``model``, the finished file about to be written: what the exporter
    wrote is not always what was asked for (paddle2onnx raises the opset to what the model's
    operators need). ``graph_facts``: its graph form and structure fingerprint (``graph/``)."""
    from zoocheck.converters.normalize import onnx_facts

    facts = onnx_facts(model)
    return OnnxMetadata(
        zoocheck_version=__version__,
        zoocheck_code=code_digest(),
        source=entry.source,
        model=entry.name,
        arch=entry.arch.id,
        random_weights=weights is None,
        random_seed=random_seed if weights is None else None,
        weights=None if weights is None else WeightsRef(str(weights), file_digest_or_none(weights)),
        published_weights_url=entry.weights.url if entry.weights else None,
        preprocess=entry.preprocess.to_dict(),
        input_size=entry.input_size,
        label_space=entry.label_space,
        output="probabilities" if outputs_probabilities else "logits",
        opset=facts["opset"],
        opset_requested=opset_requested,
        ir_version=facts["ir_version"],
        input_shape=tuple(facts["input_shape"]) if facts["input_shape"] is not None else None,
        output_shape=tuple(facts["output_shape"]) if facts["output_shape"] is not None else None,
        versions={"python": platform.python_version(), **versions},
        graph=graph_facts["graph"],
        structure_fingerprint=graph_facts[FINGERPRINT_KEY],
    )


# ---------------------------------------------------------------------------------------------
# the jobs a child runs, and what it replies


@dataclass(frozen=True)
class _Stage:
    name: str  # one of records.STAGES


@dataclass(frozen=True)
class _Failed:
    failure: Failure


@dataclass(frozen=True)
class _Converted:
    onnx_path: Path | None
    metadata: OnnxMetadata | None
    native_outputs: np.ndarray | None
    native_outputs_fp64: np.ndarray | None
    outputs_probabilities: bool
    versions: dict[str, str]


class _Progress:
    """The stage a job is in, told to the parent as it changes (a death is reported at it)."""

    def __init__(self, channel):
        self.channel, self.stage = channel, "load"

    def enter(self, stage: str) -> None:
        self.stage = stage
        self.channel.send(_Stage(stage))


def _load(entry: Entry, weights: Path | None, random_seed: int | None, progress: _Progress, versions: dict):
    """Stages load and build: the converter checks its frameworks, then loads."""
    from zoocheck.converters import converter_for

    progress.enter("load")
    converter = converter_for(entry.source)
    converter.check_available(entry, random_weights=weights is None)
    progress.enter("build")
    native = converter.load(entry, weights, random_seed=random_seed)
    versions.update(native.versions)
    return native


def _versions() -> dict[str, str]:
    return {"zoocheck": __version__, "python": platform.python_version()}


@dataclass(frozen=True)
class _ModelJob:
    """Work on one entry's model in a child; everything the frameworks print goes to ``log``."""

    entry: Entry
    weights: Path | None  # None: seeded random weights
    random_seed: int | None
    log: Path

    @property
    def frameworks(self) -> tuple[str, ...]:
        """The modules every model of the entry's source imports (a warm child's preload)."""
        from zoocheck.sources import get_source

        return tuple(f.module for f in get_source(self.entry.source).frameworks if f.needed == "always")


@dataclass(frozen=True)
class ConvertJob(_ModelJob):
    """Load, run the native forward on ``inputs`` (if any), export to ``output`` (if any)."""

    output: Path | None
    opset: int
    inputs: np.ndarray | None
    graph: str | None  # 'canonical', 'native', or None: canonical where the architecture has one

    def run(self, channel) -> None:
        with captured_output(self.log):
            self._run(channel)

    def _run(self, channel) -> None:
        from zoocheck.converters.graph import finish_graph, resolve_form
        from zoocheck.converters.normalize import attach_metadata, save_atomic

        entry, versions, progress = self.entry, _versions(), _Progress(channel)
        try:
            native = _load(entry, self.weights, self.random_seed, progress, versions)
            native_outputs = native_fp64 = None
            if self.inputs is not None:
                progress.enter("parity")
                native_outputs = np.asarray(native.forward(self.inputs), dtype=np.float32)
                native_fp64 = native.forward_fp64(self.inputs)  # fp32's own error, beside the ONNX file's
            if self.output is None:  # native forward only (parity against an existing ONNX file)
                channel.send(_Converted(None, None, native_outputs, native_fp64, native.outputs_probabilities, versions))
                return
            progress.enter("export")
            import onnx

            outputs_probabilities = native.outputs_probabilities
            with tempfile.TemporaryDirectory(prefix="zoocheck-export-") as tmp:
                raw = Path(tmp) / "raw.onnx"
                native.export_onnx(raw, self.opset)
                # the framework's copy of the weights is not needed any more: for the largest
                # models (3.3 GB of weights) it is the difference between fitting and not
                del native
                gc.collect()
                progress.enter("check")
                versions["onnx"] = onnx.__version__
                form = resolve_form(entry.arch, self.graph, outputs_probabilities=outputs_probabilities)
                model, graph_facts = finish_graph(raw, entry.arch, form)
                metadata = describe(entry, self.weights, self.random_seed, versions, outputs_probabilities, model, self.opset, graph_facts)
                attach_metadata(model, metadata.to_json())
                save_atomic(model, self.output, metadata.to_json())
            # the description beside the file adds the written file's own checksum and size
            metadata = OnnxMetadata.from_json(json.loads(self.output.with_name(self.output.name + ".json").read_text()))
            channel.send(_Converted(self.output, metadata, native_outputs, native_fp64, outputs_probabilities, versions))
        except BaseException as exc:  # everything becomes a failure record for this one model
            channel.send(_Failed(_job_failure(entry, self.weights, progress.stage, exc, versions)))


@dataclass(frozen=True)
class _Ready:
    versions: dict[str, str]
    outputs_probabilities: bool


@dataclass(frozen=True)
class ServeJob(_ModelJob):
    """Load once, then answer every batch the parent sends with the native forward (None ends)."""

    def run(self, channel) -> None:
        entry, versions, progress = self.entry, _versions(), _Progress(channel)
        with captured_output(self.log):
            try:
                native = _load(entry, self.weights, self.random_seed, progress, versions)
                channel.send(_Ready(versions, native.outputs_probabilities))
                progress.stage = "eval"
                while (batch := channel.recv()) is not None:
                    channel.send(np.asarray(native.forward(batch), dtype=np.float32))
            except EOFError:  # the parent is gone
                return
            except BaseException as exc:
                channel.send(_Failed(_job_failure(entry, self.weights, progress.stage, exc, versions)))


@dataclass(frozen=True)
class _LayerOutputs:
    layers: dict[str, np.ndarray] | None


@dataclass(frozen=True)
class LayerOutputsJob(_ModelJob):
    """Load, then send the framework's per-layer outputs on ``inputs`` (``NativeModel.layer_outputs``)."""

    inputs: np.ndarray

    def run(self, channel) -> None:
        entry, versions, progress = self.entry, _versions(), _Progress(channel)
        with captured_output(self.log):
            try:
                native = _load(entry, self.weights, self.random_seed, progress, versions)
                progress.enter("parity")
                channel.send(_LayerOutputs(native.layer_outputs(self.inputs)))
            except BaseException as exc:
                channel.send(_Failed(Failure.from_exception(entry.source, entry.name, progress.stage, exc, versions)))


# ---------------------------------------------------------------------------------------------
# running them


# Peak memory of load + export + check, per parameter: a ResNeXt-101 32x48d (828 M parameters)
# peaks at 8.5 GB (STACK.md): the framework's copy, the exporter's copy and onnx's serialisation.
_PEAK_BYTES_PER_PARAMETER = 10.5


def _death_message(exitcode: int, stage: str, entry: Entry | None = None) -> tuple[str, str]:
    if exitcode < 0:
        name = signal.Signals(-exitcode).name
        if name == "SIGKILL":
            counts = parameter_counts(entry.arch) if entry is not None else None
            params = counts[0] if counts else None
            need = (
                f" ({params / 1e6:.0f} M parameters: converting needs about {params * _PEAK_BYTES_PER_PARAMETER / 2**30:.1f} GiB)"
                if params
                else ""
            )
            return "ProcessKilled", (
                f"the converter process was killed by SIGKILL during {stage}: most likely out of memory "
                f"(the kernel's OOM killer){need}; see `dmesg` and free memory before retrying"
            )
        return "ProcessCrash", f"the converter process died with {name} during {stage} (a crash inside the framework)"
    return "ProcessExit", f"the converter process exited with code {exitcode} during {stage} without a result"


def _death(entry: Entry, exitcode: int, stage: str) -> Failure:
    exc_type, message = _death_message(exitcode, stage, entry)
    return Failure(entry.source, entry.name, stage, exc_type, message, versions={"python": platform.python_version()})


@contextlib.contextmanager
def _framework_log() -> Iterator[Path]:
    """A fresh log file in the run directory, removed afterwards."""
    with rundir.run_directory() as run:
        fd, name = tempfile.mkstemp(prefix="framework-", suffix=".log", dir=run)
        os.close(fd)
        try:
            yield Path(name)
        finally:
            Path(name).unlink(missing_ok=True)


def convert(
    entry: Entry,
    *,
    output: Path | None,
    weights: Path | None = None,
    random_seed: int | None = None,
    opset: int = DEFAULT_OPSET,
    inputs: np.ndarray | None = None,
    isolate: bool = True,
    on_stage: Callable[[str], None] | None = None,
    graph: str | None = None,
) -> Conversion:
    """Convert ``entry`` to ``output``; with ``inputs``, also return the native forward on them.
    With ``output=None`` nothing is exported: only the native forward runs. ``graph``: 'canonical',
    'native', or None for canonical where the architecture has a canonical form (``graph/``).

    ``weights`` must already be resolved (``resolve_weights``); None means seeded random weights.
    Never raises for a model's failure: the Conversion carries a Failure instead. Raises
    OutputBusyError when another run is writing ``output``. Framework output is captured into
    ``Conversion.log``; ``on_stage`` hears each stage as it starts. All temporary files live in
    the run directory (``zoocheck.rundir``); an interrupt kills the child and leaves nothing.
    ``isolate=False`` does the same work in this process (for callers that already isolate).
    """
    output = Path(output) if output is not None else None
    with _framework_log() as log, rundir.output_lock(output) if output is not None else contextlib.nullcontext():
        job = ConvertJob(entry, weights, random_seed, log, output, opset, inputs, graph)
        replies, exitcode = _run_job(job, on_stage, isolate)
        return dataclasses.replace(_outcome(entry, weights, random_seed, replies, exitcode), log=read_log(log))


def native_layer_outputs(entry: Entry, weights: Path | None, random_seed: int | None, inputs: np.ndarray, *, isolate: bool = True) -> dict[str, np.ndarray] | None:
    """``entry``'s framework forward on ``inputs`` with its per-layer outputs, by canonical graph
    tensor name (``NativeModel.layer_outputs``), loaded afresh in a child like every framework
    call; None where the model cannot name them or the framework failed (a second load of what
    a conversion just loaded: only worth it to locate a failure)."""
    with _framework_log() as log:
        replies, _ = _run_job(LayerOutputsJob(entry, weights, random_seed, log, inputs), None, isolate)
    return replies.outcome.layers if isinstance(replies.outcome, _LayerOutputs) else None


def _run_job(job: _ModelJob, on_stage: Callable[[str], None] | None, isolate: bool) -> tuple["_Replies", int]:
    """Run ``job`` in a child (``isolate=False``: in this process); its replies and exit status."""
    replies = _Replies(on_stage)
    if not isolate:
        job.run(replies)
        return replies, 0
    with ChildProcess(job, job.frameworks) as child:
        for reply in child.replies():
            replies.send(reply)
        return replies, child.wait()


class _Replies:
    """What a job replies: the last stage (told to ``on_stage``) and the outcome."""

    def __init__(self, on_stage: Callable[[str], None] | None):
        self.on_stage, self.stage, self.outcome = on_stage, "load", None

    def send(self, reply) -> None:
        if isinstance(reply, _Stage):
            self.stage = reply.name
            if self.on_stage is not None:
                self.on_stage(reply.name)
        else:
            self.outcome = reply


def _outcome(entry: Entry, weights: Path | None, random_seed: int | None, replies: _Replies, exitcode: int) -> Conversion:
    outcome = replies.outcome
    failure = _death(entry, exitcode, replies.stage) if outcome is None else outcome.failure if isinstance(outcome, _Failed) else None
    if failure is not None:
        return Conversion(entry, weights, random_seed, None, None, None, None, False, failure, failure.versions)
    return Conversion(
        entry, weights, random_seed, outcome.onnx_path, outcome.metadata, outcome.native_outputs, outcome.native_outputs_fp64,
        outcome.outputs_probabilities, None, outcome.versions,
    )  # fmt: skip


class NativeProcessError(RuntimeError):
    """The native model's child failed or died; ``failure`` says where and why."""

    def __init__(self, failure: Failure):
        super().__init__(failure.one_line())
        self.failure = failure


class NativeSession:
    """``entry``'s own framework forward in a child that stays up between batches, isolated like
    every conversion: ``forward(batch)`` returns its outputs or raises NativeProcessError (with
    the failure record) when the framework fails or the child dies. A context manager; ``log``
    is what the framework printed, once it is closed."""

    def __init__(self, entry: Entry, weights: Path | None, random_seed: int | None):
        self.entry, self.stage, self.log = entry, "load", ""
        self._resources = contextlib.ExitStack()
        self._log = self._resources.enter_context(_framework_log())
        job = ServeJob(entry, weights, random_seed, self._log)
        self._child = self._resources.enter_context(ChildProcess(job, job.frameworks))
        try:
            ready = self._next()
        except BaseException:
            self.close()
            raise
        self.versions, self.outputs_probabilities = ready.versions, ready.outputs_probabilities

    def _next(self):
        for reply in self._child.replies():
            if isinstance(reply, _Stage):
                self.stage = reply.name
            elif isinstance(reply, _Failed):
                raise NativeProcessError(reply.failure)
            else:
                return reply
        raise NativeProcessError(_death(self.entry, self._child.wait(), self.stage))

    def forward(self, batch: np.ndarray) -> np.ndarray:
        self.stage = "eval"
        self._child.send(np.ascontiguousarray(batch, dtype=np.float32))
        return self._next()

    def close(self) -> None:
        self._child.send(None)  # the child's loop ends; a child already gone is fine
        self._child.wait()
        self.log = read_log(self._log) or self.log
        self._resources.close()

    def __enter__(self) -> "NativeSession":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None and not issubclass(exc_type, NativeProcessError):
            self._child.kill()  # e.g. Ctrl-C: do not wait for a forward to finish
        self.close()


__all__ = [
    "Conversion",
    "DEFAULT_OPSET",
    "MissingWeightsError",
    "NativeProcessError",
    "NativeSession",
    "check_weights_usable",
    "convert",
    "describe",
    "native_layer_outputs",
    "resolve_weights",
]
