"""Convert one registry entry: load -> native forward -> export -> normalise -> check -> write.

Every framework call runs in a child process (``converters/child.py``) doing one of
``converters/jobs.py``'s jobs: an abort or segfault inside Paddle or MXNet, or the kernel's OOM
killer, becomes a ``Failure`` for that model instead of ending the whole run. ``NativeSession``
keeps one such child up to serve a native forward batch by batch. What the frameworks print is
captured into a log in the run directory (``zoocheck.rundir``). Which weights a run loads is
``converters/weights_resolution.py``'s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import platform
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoocheck import rundir
from zoocheck.capture import read_log
from zoocheck.converters.child import ChildProcess, explain_exit, started_ahead
from zoocheck.converters.graph.counts import parameter_counts
from zoocheck.converters.jobs import (
    ConvertJob,
    Failed,
    LayerOutputs,
    LayerOutputsJob,
    ModelJob,
    ServeJob,
    Stage,
    Written,
    source_frameworks,
)
from zoocheck.records import ConversionRecord, Failure, OnnxMetadata
from zoocheck.zoo_registry.types import Entry

DEFAULT_OPSET = 17


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


# Peak memory of load + export + check, per parameter: a ResNeXt-101 32x48d (828 M parameters)
# peaks at 8.5 GB (STACK.md): the framework's copy, the exporter's copy and onnx's serialisation.
PEAK_BYTES_PER_PARAMETER = 10.5


def _death(entry: Entry, exitcode: int, stage: str) -> Failure:
    """A child that died without a reply, explained (``child.explain_exit``), with the memory a
    conversion of this architecture needs where the kernel killed it."""
    counts = parameter_counts(entry.arch)
    need = (
        f"{counts[0] / 1e6:.0f} M parameters: converting needs about {counts[0] * PEAK_BYTES_PER_PARAMETER / 2**30:.1f} GiB"
        if counts and counts[0]
        else ""
    )
    exc_type, message = explain_exit(exitcode, "the converter process", stage, memory_need=need)
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
    on_written: Callable[[Path], None] | None = None,
) -> Conversion:
    """Convert ``entry`` to ``output``; with ``inputs``, also return the native forward on them.
    With ``output=None`` nothing is exported: only the native forward runs. ``graph``: 'canonical',
    'native', or None for canonical where the architecture has a canonical form (``graph/``).

    ``weights`` must already be resolved (``resolve_weights``); None means seeded random weights.
    Never raises for a model's failure: the Conversion carries a Failure instead. Raises
    OutputBusyError when another run is writing ``output``. Framework output is captured into
    ``Conversion.log``; ``on_stage`` hears each stage as it starts, ``on_written`` the ONNX file's
    path once it is in place while the native forwards on ``inputs`` may still run (parity runs
    the file meanwhile; it must not raise). All temporary files live in
    the run directory (``zoocheck.rundir``); an interrupt kills the child and leaves nothing.
    ``isolate=False`` does the same work in this process (for callers that already isolate).
    """
    output = Path(output) if output is not None else None
    with _framework_log() as log, rundir.output_lock(output) if output is not None else contextlib.nullcontext():
        job = ConvertJob(entry, weights, random_seed, log, output, opset, inputs, graph)
        replies, exitcode = _run_job(job, on_stage, isolate, on_written)
        return dataclasses.replace(_outcome(entry, weights, random_seed, replies, exitcode), log=read_log(log))


@contextlib.contextmanager
def converter_started_ahead(source: str) -> Iterator[None]:
    """The process of the next conversion of ``source`` in the block started now: it imports the
    source's frameworks and converter while the caller checks its options, hashes and decodes
    (``child.started_ahead``), about a second of Paddle's imports off a parity run."""
    from zoocheck.sources import get_source

    frameworks = source_frameworks(source)
    with started_ahead(frameworks, [*frameworks, get_source(source).converter_path()[0], "zoocheck.converters.jobs"]):
        yield


def native_layer_outputs(
    entry: Entry, weights: Path | None, random_seed: int | None, inputs: np.ndarray, *, isolate: bool = True
) -> LayerOutputs:
    """``entry``'s framework forward on ``inputs`` with its per-layer outputs, by canonical graph
    tensor name (``NativeModel.layer_outputs``), loaded afresh in a child like every framework
    call (a second load of what a conversion just loaded: only worth it to locate a failure);
    where the model cannot name them or the framework failed, none and why."""
    with _framework_log() as log:
        replies, exitcode = _run_job(LayerOutputsJob(entry, weights, random_seed, log, inputs), None, isolate)
    if isinstance(replies.outcome, LayerOutputs):
        return replies.outcome
    if isinstance(replies.outcome, Failed):
        return LayerOutputs(None, f"the framework failed computing them: {replies.outcome.failure.one_line()}")
    return LayerOutputs(None, explain_exit(exitcode, "the framework's process", "computing its per-layer outputs")[1])


def _run_job(
    job: ModelJob, on_stage: Callable[[str], None] | None, isolate: bool, on_written: Callable[[Path], None] | None = None
) -> tuple[_Replies, int]:
    """Run ``job`` in a child (``isolate=False``: in this process); its replies and exit status."""
    replies = _Replies(on_stage, on_written)
    if not isolate:
        job.run(replies)
        return replies, 0
    with ChildProcess(job, job.frameworks) as child:
        for reply in child.replies():
            replies.send(reply)
        return replies, child.wait()


class _Replies:
    """What a job replies: the last stage (told to ``on_stage``), the file written (told to
    ``on_written``) and the outcome."""

    def __init__(self, on_stage: Callable[[str], None] | None, on_written: Callable[[Path], None] | None = None):
        self.on_stage, self.on_written, self.stage, self.outcome = on_stage, on_written, "load", None

    def send(self, reply) -> None:
        if isinstance(reply, Stage):
            self.stage = reply.name
            if self.on_stage is not None:
                self.on_stage(reply.name)
        elif isinstance(reply, Written):
            if self.on_written is not None:
                self.on_written(reply.path)
        else:
            self.outcome = reply


def _outcome(entry: Entry, weights: Path | None, random_seed: int | None, replies: _Replies, exitcode: int) -> Conversion:
    outcome = replies.outcome
    failure = _death(entry, exitcode, replies.stage) if outcome is None else outcome.failure if isinstance(outcome, Failed) else None
    if failure is not None:
        return Conversion(entry, weights, random_seed, None, None, None, None, False, failure, failure.versions)
    return Conversion(
        entry,
        weights,
        random_seed,
        outcome.onnx_path,
        outcome.metadata,
        outcome.native_outputs,
        outcome.native_outputs_fp64,
        outcome.outputs_probabilities,
        None,
        outcome.versions,
    )


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
            if isinstance(reply, Stage):
                self.stage = reply.name
            elif isinstance(reply, Failed):
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

    def __enter__(self) -> NativeSession:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None and not issubclass(exc_type, NativeProcessError):
            self._child.kill()  # e.g. Ctrl-C: do not wait for a forward to finish
        self.close()


__all__ = [
    "Conversion",
    "DEFAULT_OPSET",
    "NativeProcessError",
    "NativeSession",
    "convert",
    "converter_started_ahead",
    "native_layer_outputs",
]
