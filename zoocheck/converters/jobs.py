"""The jobs a converter child runs (``converters/child.py``) and what it replies: convert (load,
native forward, export, canonical graph, write), serve a native forward batch by batch, the
framework's per-layer outputs. Everything a job raises becomes a ``Failure`` for its one model,
said in zoocheck's words (weights of another architecture lead with the model they fit)."""

from __future__ import annotations

import dataclasses
import gc
import json
import platform
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoocheck import __version__
from zoocheck.capture import captured_output
from zoocheck.converters.base import ForwardsBeside, LayersUnavailable, started
from zoocheck.converters.graph import FINGERPRINT_KEY
from zoocheck.converters.graph.counts import parameter_counts
from zoocheck.digests import code_digest, file_digest_or_none
from zoocheck.records import Failure, OnnxMetadata, WeightsRef
from zoocheck.zoo_registry.types import Entry


def describe(
    entry: Entry,
    weights: Path | None,
    random_seed: int | None,
    versions: dict,
    outputs_probabilities: bool,
    model,
    opset_requested: int,
    graph_facts: dict,
    weights_sha256: str | None,
) -> OnnxMetadata:
    """The description written into the ONNX metadata and beside the file. Opset, IR version and
    shapes are read from ``model``, the finished file about to be written: what the exporter
    wrote is not always what was asked for (paddle2onnx raises the opset to what the model's
    operators need). ``graph_facts``: its graph form and structure fingerprint (``graph/``);
    ``weights_sha256``: the weights file's (None for a folder)."""
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
        weights=None if weights is None else WeightsRef(str(weights), weights_sha256),
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


#: Exports of more bytes than this free the framework's network at once: Paddle's layers are freed
#: by the cycle collector only, a full collection of everything the frameworks imported (0.3-0.8 s).
#: A smaller network stays until the child exits, holding less memory than the exporter's copies
#: beside it a moment earlier.
COLLECT_ABOVE = 512 * 2**20


@dataclass(frozen=True)
class Stage:
    name: str  # one of records.STAGES


@dataclass(frozen=True)
class Failed:
    failure: Failure


@dataclass(frozen=True)
class Written:
    """The ONNX file is in place; the job still waits for the framework's forwards (the parent
    may run the file meanwhile)."""

    path: Path


@dataclass(frozen=True)
class Converted:
    onnx_path: Path | None
    metadata: OnnxMetadata | None
    native_outputs: np.ndarray | None
    native_outputs_fp64: np.ndarray | None
    outputs_probabilities: bool
    versions: dict[str, str]


class Progress:
    """The stage a job is in, told to the parent as it changes (a death is reported at it)."""

    def __init__(self, channel):
        self.channel, self.stage = channel, "load"

    def enter(self, stage: str) -> None:
        self.stage = stage
        self.channel.send(Stage(stage))


def _load(entry: Entry, weights: Path | None, random_seed: int | None, progress: Progress, versions: dict):
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


def source_frameworks(source: str) -> tuple[str, ...]:
    """The modules every model of ``source`` imports (what a warm child or one started ahead imports)."""
    from zoocheck.sources import get_source

    return tuple(f.module for f in get_source(source).frameworks if f.needed == "always")


@dataclass(frozen=True)
class ModelJob:
    """Work on one entry's model in a child; everything the frameworks print goes to ``log``."""

    entry: Entry
    weights: Path | None  # None: seeded random weights
    random_seed: int | None
    log: Path

    @property
    def frameworks(self) -> tuple[str, ...]:
        return source_frameworks(self.entry.source)


@dataclass(frozen=True)
class ConvertJob(ModelJob):
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

        entry, versions, progress = self.entry, _versions(), Progress(channel)
        # the weights' checksum for the metadata, read beside the framework's work (hashlib and file
        # reads release the GIL): 0.12 s for a ResNeXt-101's weights
        weights_sha256 = (
            started(lambda: file_digest_or_none(self.weights), "weights-sha256") if self.weights and self.output else lambda: None
        )
        forwards = ForwardsBeside(lambda: (None, None))
        try:
            native = _load(entry, self.weights, self.random_seed, progress, versions)
            if self.output is None:  # native forwards only (parity against an existing ONNX file)
                native_outputs = fp64 = None
                if self.inputs is not None:
                    progress.enter("parity")
                    native_outputs = np.asarray(native.forward(self.inputs), dtype=np.float32)
                    fp64 = native.forward_fp64(self.inputs)  # after the float32 one, on every core
                channel.send(Converted(None, None, native_outputs, fp64, native.outputs_probabilities, versions))
                return
            if self.inputs is not None:
                # the reference and fp32's own error, beside the export, the graph's rewriting and
                # the write, and waited for last
                progress.enter("parity")
                forwards = native.start_forwards(self.inputs)
            progress.enter("export")
            import onnx

            outputs_probabilities = native.outputs_probabilities
            with tempfile.TemporaryDirectory(prefix="zoocheck-export-") as tmp:
                raw = Path(tmp) / "raw.onnx"
                native.export_onnx(raw, self.opset)
                # the framework's copy of the weights is not needed any more: for the largest
                # models (3.3 GB of weights) it is the difference between fitting and not (their
                # forwards are done by now: only weights up to FP64_TWIN_UP_TO run them beside)
                del native
                if sum(f.stat().st_size for f in Path(tmp).iterdir()) > COLLECT_ABOVE:
                    gc.collect()
                progress.enter("check")
                versions["onnx"] = onnx.__version__
                form = resolve_form(entry.arch, self.graph, opset=self.opset, outputs_probabilities=outputs_probabilities)
                model, graph_facts = finish_graph(raw, entry.arch, form)
                metadata = describe(
                    entry, self.weights, self.random_seed, versions, outputs_probabilities, model, self.opset, graph_facts, weights_sha256()
                )
                attach_metadata(model, metadata.to_json())
                save_atomic(model, self.output, metadata.to_json())
                del model
                if self.inputs is not None:
                    channel.send(Written(self.output))
                    progress.enter("parity")  # a forward that failed is told at this stage
                native_outputs, native_fp64 = forwards.result()
            # the description beside the file adds the written file's own checksum and size
            metadata = OnnxMetadata.from_json(json.loads(self.output.with_name(self.output.name + ".json").read_text()))
            channel.send(Converted(self.output, metadata, native_outputs, native_fp64, outputs_probabilities, versions))
        except BaseException as exc:  # everything becomes a failure record for this one model
            channel.send(Failed(_job_failure(entry, self.weights, progress.stage, exc, versions)))
        finally:
            forwards.cancel()  # those of a job that failed before waiting for them


@dataclass(frozen=True)
class Ready:
    versions: dict[str, str]
    outputs_probabilities: bool


@dataclass(frozen=True)
class ServeJob(ModelJob):
    """Load once, then answer every batch the parent sends with the native forward (None ends)."""

    def run(self, channel) -> None:
        entry, versions, progress = self.entry, _versions(), Progress(channel)
        with captured_output(self.log):
            try:
                native = _load(entry, self.weights, self.random_seed, progress, versions)
                channel.send(Ready(versions, native.outputs_probabilities))
                progress.stage = "eval"
                while (batch := channel.recv()) is not None:
                    channel.send(np.asarray(native.forward(batch), dtype=np.float32))
            except EOFError:  # the parent is gone
                return
            except BaseException as exc:
                channel.send(Failed(_job_failure(entry, self.weights, progress.stage, exc, versions)))


@dataclass(frozen=True)
class LayerOutputs:
    """The framework's per-layer outputs, or why there are none (one line)."""

    layers: dict[str, np.ndarray] | None
    unavailable: str | None = None


@dataclass(frozen=True)
class LayerOutputsJob(ModelJob):
    """Load, then send the framework's per-layer outputs on ``inputs`` (``NativeModel.layer_outputs``)."""

    inputs: np.ndarray

    def run(self, channel) -> None:
        entry, versions, progress = self.entry, _versions(), Progress(channel)
        with captured_output(self.log):
            try:
                native = _load(entry, self.weights, self.random_seed, progress, versions)
                progress.enter("parity")
                try:
                    layers = LayerOutputs(native.layer_outputs(self.inputs))
                except LayersUnavailable as exc:
                    layers = LayerOutputs(None, str(exc))
                channel.send(layers)
            except BaseException as exc:
                channel.send(Failed(Failure.from_exception(entry.source, entry.name, progress.stage, exc, versions)))
