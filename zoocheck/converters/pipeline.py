"""Convert one registry entry: load -> native forward -> export -> normalise -> check -> write.

Every framework call runs in a child process: an abort or segfault inside Paddle or MXNet, or the
kernel's OOM killer, becomes a ``Failure`` for that model instead of ending the whole run.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import json
import multiprocessing
import os
import platform
import signal
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoocheck import __version__, rundir
from zoocheck.capture import captured_output, read_log
from zoocheck.checks.results import Failure
from zoocheck.zoo_registry.audit import count
from zoocheck.zoo_registry.download import cached_weights_path, file_digest
from zoocheck.zoo_registry.types import Entry

DEFAULT_OPSET = 17
_INTERRUPTS = {signal.SIGINT, signal.SIGTERM}
_PR_SET_PDEATHSIG = 1


class MissingWeightsError(FileNotFoundError):
    pass


@dataclass(frozen=True)
class Conversion:
    """What converting one entry produced: the ONNX file and the native outputs, or a failure."""

    entry: Entry
    onnx_path: Path | None
    metadata: dict | None
    native_outputs: np.ndarray | None  # the framework's forward on the inputs given, if any
    # the same forward in float64 (random weights, frameworks that can): the yardstick for fp32 noise
    native_outputs_fp64: np.ndarray | None
    outputs_probabilities: bool
    failure: Failure | None
    versions: dict  # the source framework's packages, e.g. {"torch": "2.14.1", "timm": "1.0.31"}
    log: str = ""  # what the framework and its exporter printed (the debug log; shown with --verbose)

    @property
    def ok(self) -> bool:
        return self.failure is None


def sha256_of(path: Path) -> str:
    return file_digest(path, "sha256")


def resolve_weights(entry: Entry, weights: Path | None, random_seed: int | None) -> Path | None:
    """The weights file to load: the one given, else the fetched one in the cache, else None for a
    random-weights run. Raises MissingWeightsError naming where weights are expected."""
    if weights is not None:
        weights = Path(weights)
        if not weights.exists():
            raise MissingWeightsError(f"{weights}: no such weights file or directory; check the --weights path")
        return weights
    if random_seed is not None:
        return None
    cached = cached_weights_path(entry)
    if cached is not None and cached.exists():
        return cached
    where = (
        f"run `zoocheck fetch --src {entry.source} --model {entry.name}` (downloads {entry.weights.url} to {cached}), "
        if cached is not None
        else ""
    )
    raise MissingWeightsError(
        f"no weights for {entry.key}: {where}pass --weights PATH, or --random-weights to convert with seeded random weights"
    )


def weights_fix(entry: Entry, exc: BaseException) -> str:
    """The fix for a weights file that cannot be used, when zoocheck knows one: fetch a damaged
    file again; for weights of another architecture, the registry models whose architecture has
    exactly as many numbers as the file holds."""
    from zoocheck.converters.base import CorruptWeightsError, WeightsError
    from zoocheck.zoo_registry import list_entries

    if isinstance(exc, CorruptWeightsError):
        if entry.weights is not None:
            return f"download it again: `zoocheck fetch --src {entry.source} --model {entry.name} --force`"
        return "download or save it again"
    if not isinstance(exc, WeightsError) or not exc.elements:
        return ""
    fits = []
    for other in list_entries(entry.source):
        counts = count(other.arch, other.input_size)
        if other.arch.id != entry.arch.id and counts is not None and exc.elements in (counts.params, counts.params_with_bn_stats):
            fits.append(other)
    if not fits:
        return ""
    shown = ", ".join(f"--model {e.name} (arch {e.arch.id})" for e in fits[:3])
    return f"they have the size of {entry.source}'s {shown}"


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


def describe(entry: Entry, weights: Path | None, random_seed: int | None, opset: int, versions: dict, outputs_probabilities: bool) -> dict:
    """The JSON description written into the ONNX metadata and beside the file."""
    weights_info = None
    if weights is not None:
        weights_info = {"file": str(weights), "sha256": sha256_of(weights) if weights.is_file() else None}
    return {
        "zoocheck_version": __version__,
        "source": entry.source,
        "model": entry.name,
        "arch": entry.arch.id,
        "random_weights": weights is None,
        "random_seed": random_seed if weights is None else None,
        "weights": weights_info,
        "published_weights_url": entry.weights.url if entry.weights else None,
        "preprocess": entry.preprocess.to_dict(),
        "input_size": entry.input_size,
        "label_space": entry.label_space,
        "output": "probabilities" if outputs_probabilities else "logits",
        "opset": opset,
        "versions": {"python": platform.python_version(), **versions},
    }


def _worker(entry: Entry, weights: Path | None, random_seed: int | None, output: Path | None, opset: int, inputs: np.ndarray | None, graph: str | None, log: Path, conn) -> None:
    """The child process's entry point: detached from the terminal, framework output into ``log``."""
    detach_from_parent_signals()
    with captured_output(log):
        _convert_here(entry, weights, random_seed, output, opset, inputs, graph, conn)


def start_detached(proc) -> None:
    """Start ``proc``, whose target calls ``detach_from_parent_signals`` first. Until the child
    has detached itself, a Ctrl-C must not reach it (spawn's bootstrap would print a traceback):
    the signal mask is inherited, and the parent gets the signal afterwards."""
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)
    try:
        proc.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)


def detach_from_parent_signals() -> None:
    """The parent owns Ctrl-C and SIGTERM: it kills this child and removes the run's files. The
    child gets its own process group, so the terminal's Ctrl-C never reaches the framework (Paddle
    answers it with a C++ "FatalError" and an abort), and dies with the parent even when the parent
    is killed outright."""
    os.setpgrp()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _INTERRUPTS)  # blocked by the parent around the spawn
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def _convert_here(entry: Entry, weights: Path | None, random_seed: int | None, output: Path | None, opset: int, inputs: np.ndarray | None, graph: str | None, conn) -> None:
    """Load, run and export in this process; reports stages and the outcome through ``conn``."""
    from zoocheck.converters import converter_for
    from zoocheck.converters.graph import finish_graph, resolve_form
    from zoocheck.converters.normalize import attach_metadata, onnx_facts, save_atomic

    stage, versions = "load", {"zoocheck": __version__, "python": platform.python_version()}
    try:
        conn.send(("stage", stage))
        converter = converter_for(entry.source)
        converter.check_available()
        stage = "build"
        conn.send(("stage", stage))
        native = converter.load(entry, weights, random_seed=random_seed)
        versions.update(native.versions)
        native_outputs = native_fp64 = None
        if inputs is not None:
            stage = "parity"
            conn.send(("stage", stage))
            native_outputs = np.asarray(native.forward(inputs), dtype=np.float32)
            if weights is None:  # random weights can be ill-conditioned: measure fp32's own error
                native_fp64 = native.forward_fp64(inputs)
        if output is None:  # native forward only (parity against an existing ONNX file)
            conn.send(("ok", (None, None, native_outputs, native_fp64, native.outputs_probabilities, versions)))
            return
        stage = "export"
        conn.send(("stage", stage))
        import onnx

        with tempfile.TemporaryDirectory(prefix="zoocheck-export-") as tmp:
            raw = Path(tmp) / "raw.onnx"
            native.export_onnx(raw, opset)
            stage = "check"
            conn.send(("stage", stage))
            model = onnx.load(str(raw))
            versions["onnx"] = onnx.__version__
            form = resolve_form(entry.arch, graph, outputs_probabilities=native.outputs_probabilities)
            model, graph_facts = finish_graph(model, entry.arch, form)
            # what the exporter wrote, which is not always what was asked for (paddle2onnx raises
            # the opset to what the model's operators need)
            facts = onnx_facts(model)
            metadata = {**describe(entry, weights, random_seed, facts["opset"], versions, native.outputs_probabilities), **facts, **graph_facts, "opset_requested": opset}
            attach_metadata(model, metadata)
            save_atomic(model, output, metadata)
            # the description beside the file adds the written file's own checksum and size
            metadata = json.loads(output.with_name(output.name + ".json").read_text())
        conn.send(("ok", (str(output), metadata, native_outputs, native_fp64, native.outputs_probabilities, versions)))
    except BaseException as exc:  # everything becomes a failure record for this one model
        conn.send(("failure", Failure.from_exception(entry.source, entry.name, stage, exc, versions, fix=weights_fix(entry, exc))))
    finally:
        conn.close()


# Peak memory of load + export + check, per parameter: a ResNeXt-101 32x48d (828 M parameters)
# peaks at 8.5 GB (STACK.md): the framework's copy, the exporter's copy and onnx's serialisation.
_PEAK_BYTES_PER_PARAMETER = 10.5


def _death_message(exitcode: int, stage: str, entry: Entry | None = None) -> tuple[str, str]:
    if exitcode < 0:
        name = signal.Signals(-exitcode).name
        if name == "SIGKILL":
            counts = count(entry.arch) if entry is not None else None
            params = counts.params if counts else None
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
    """
    output = Path(output) if output is not None else None
    with rundir.run_directory() as run, rundir.output_lock(output) if output is not None else contextlib.nullcontext():
        fd, log_name = tempfile.mkstemp(prefix="framework-", suffix=".log", dir=run)
        os.close(fd)
        log = Path(log_name)
        try:
            if isolate:
                conversion = _run_isolated(entry, weights, random_seed, output, opset, inputs, graph, log, on_stage)
            else:
                conversion = _run_inline(entry, weights, random_seed, output, opset, inputs, graph, log)
            return dataclasses.replace(conversion, log=read_log(log))
        finally:
            log.unlink(missing_ok=True)


def _run_isolated(entry, weights, random_seed, output, opset, inputs, graph, log, on_stage) -> Conversion:
    ctx = multiprocessing.get_context("spawn")
    parent_conn, child_conn = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_worker, args=(entry, weights, random_seed, output, opset, inputs, graph, log, child_conn), daemon=True)
    start_detached(proc)
    child_conn.close()
    stage, outcome = "load", None
    try:
        while True:
            try:
                kind, payload = parent_conn.recv()
            except EOFError:
                break
            if kind == "stage":
                stage = payload
                if on_stage is not None:
                    on_stage(stage)
            else:
                outcome = (kind, payload)
        proc.join()
    except BaseException:  # interrupted: the child dies now, the run directory's cleanup does the rest
        proc.kill()
        proc.join()
        raise
    finally:
        parent_conn.close()
    return _outcome(entry, outcome, proc.exitcode, stage)


class _InlineConn:
    def __init__(self):
        self.messages = []

    def send(self, message):
        self.messages.append(message)

    def close(self):
        pass


def _run_inline(entry, weights, random_seed, output, opset, inputs, graph, log) -> Conversion:
    """The same work in this process (for callers that already isolate, and for debugging)."""
    conn = _InlineConn()
    with captured_output(log):
        _convert_here(entry, weights, random_seed, output, opset, inputs, graph, conn)
    final = next((m for m in reversed(conn.messages) if m[0] != "stage"), None)
    return _outcome(entry, final, 0, "load")


def _outcome(entry: Entry, outcome, exitcode: int | None, stage: str) -> Conversion:
    if outcome is None:
        exc_type, message = _death_message(exitcode or 0, stage, entry)
        failure = Failure(entry.source, entry.name, stage, exc_type, message, versions={"python": sys.version.split()[0]})
        return Conversion(entry, None, None, None, None, False, failure, failure.versions)
    kind, payload = outcome
    if kind == "failure":
        return Conversion(entry, None, None, None, None, False, payload, payload.versions)
    path, metadata, native_outputs, native_fp64, probabilities, versions = payload
    return Conversion(entry, Path(path) if path else None, metadata, native_outputs, native_fp64, probabilities, None, versions)


def failure_for(entry: Entry, stage: str, exc: BaseException) -> Failure:
    """A Failure for an error raised outside the child (e.g. weights that cannot be resolved)."""
    return Failure.from_exception(entry.source, entry.name, stage, exc)


__all__ = ["Conversion", "DEFAULT_OPSET", "MissingWeightsError", "convert", "describe", "detach_from_parent_signals", "failure_for", "resolve_weights", "sha256_of", "start_detached"]
