"""Typed, frozen records: what every layer produces, stores and renders.

This module is the bottom of zoocheck's import graph: it imports nothing of zoocheck, so the
registry, converters, checks, reports, the store and the CLI can all share these types (as
Polygraphy's ``comparator/struct.py`` is shared by its tools).

Every record has ``to_json()`` (a JSON-ready dict) and ``from_json(data)``, which refuses a
malformed record with a ``RecordError`` naming the record kind and the field. One status
vocabulary is used everywhere: ``ok`` / ``failed`` / ``error`` / ``skipped``. Results files
written before it used ``pass`` / ``fail`` for parity; ``from_json`` reads those as ``ok`` /
``failed``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import re
import sys
import traceback
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from zoocheck.errors import BadInput

#: ok: the check passed / the model converted. failed: it ran and a tolerance or published number
#: was not met. error: it could not run (crash, unreadable file). skipped: deliberately not judged.
Status = Literal["ok", "failed", "error", "skipped"]
STATUSES: tuple[str, ...] = typing.get_args(Status)
_LEGACY_STATUS = {"pass": "ok", "fail": "failed"}

# How much further from the fp64 forward than the framework's own fp32 forward a test output may
# be and still count as the same fp32 rounding (onnxruntime sums in other orders, so its error is
# of the same size, not identical).
FP32_NOISE_MARGIN = 4.0

#: where in the pipeline a failure happened
STAGES = ("load", "build", "export", "check", "parity", "eval")


class RecordError(ValueError):
    """A stored or received record that does not have the shape its kind requires."""


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------------------------------------
# JSON <-> dataclass, strictly


def _finite_or_text(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)  # JSON has no NaN / Inf


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return value.to_json()
    if isinstance(value, float):
        return _finite_or_text(value)
    if isinstance(value, (tuple, list)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    return value


def _decode(value: Any, hint: Any, where: str) -> Any:
    """``value`` read from JSON, checked against the type ``hint`` and converted to it."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _decode(value, option, where)
            except RecordError as exc:
                errors.append(str(exc))
        raise RecordError(errors[0] if len(errors) == 1 else f"{where}: {value!r} fits none of {hint}")
    if origin is Literal:
        if value not in args:
            raise RecordError(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise RecordError(f"{where}: expected a list, got {type(value).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise RecordError(f"{where}: expected {len(args)} items, got {len(value)}")
        return tuple(_decode(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise RecordError(f"{where}: expected an object, got {type(value).__name__}")
        value_hint = args[1] if args else Any
        return {k: _decode(v, value_hint, f"{where}.{k}") for k, v in value.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return hint.from_json(value, where=where)
    if hint is float:
        if isinstance(value, str) and value.lower() in ("nan", "inf", "-inf"):
            return float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RecordError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise RecordError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint in (str, bool):
        if not isinstance(value, hint):
            raise RecordError(f"{where}: expected {hint.__name__}, got {value!r}")
        return value
    raise TypeError(f"{where}: no JSON decoding for {hint}")  # a programming error in this module


class Record:
    """Shared ``to_json``/``from_json`` for the frozen dataclasses below.

    ``KIND`` (when set) is written as ``"kind"`` and checked on reading; keys a record does not
    declare are ignored (read-only extras such as a derived ``relative_error``)."""

    KIND: ClassVar[str | None] = None

    def to_json(self) -> dict[str, Any]:
        body = {f.name: _encode(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        return {"kind": self.KIND, **body} if self.KIND else body

    @classmethod
    def _upgrade(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Old stored spellings -> today's (statuses before the one vocabulary)."""
        status = data.get("status")
        if isinstance(status, str) and status in _LEGACY_STATUS:
            data = {**data, "status": _LEGACY_STATUS[status]}
        return data

    @classmethod
    def from_json(cls, data: Any, *, where: str | None = None):
        where = where or (f"{cls.KIND} record" if cls.KIND else cls.__name__)
        if not isinstance(data, dict):
            raise RecordError(f"{where}: expected a JSON object, got {type(data).__name__}")
        if cls.KIND and data.get("kind", cls.KIND) != cls.KIND:
            raise RecordError(f"{where}: kind is {data.get('kind')!r}, not {cls.KIND!r}")
        data = cls._upgrade(data)
        hints = typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))
        values = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name in data:
                values[f.name] = _decode(data[f.name], hints[f.name], f"{where}: {f.name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise RecordError(f"{where}: missing field {f.name!r}")
        return cls(**values)


# ---------------------------------------------------------------------------------------------
# failures

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_PACKAGE_DIR = Path(__file__).resolve().parent


def _strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def first_line(text: str) -> str:
    """The first non-blank line of ``text``, terminal colour codes removed; "" where there is none."""
    lines = [line for line in _strip_ansi(text).strip().splitlines() if line.strip()]
    return lines[0].strip() if lines else ""


def exception_line(exc: BaseException) -> str:
    """An exception in one line: its message's first line, or its type where it has no message."""
    return first_line(str(exc)) or type(exc).__name__


def _raised_in(exc: BaseException) -> str | None:
    """The top-level package whose code raised ``exc`` (None for zoocheck's own code, or no traceback)."""
    tb = exc.__traceback__
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    filename = Path(tb.tb_frame.f_code.co_filename)
    if filename.resolve().is_relative_to(_PACKAGE_DIR):
        return None
    parts = filename.parts
    if "site-packages" in parts and parts.index("site-packages") + 1 < len(parts):
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    return "the Python standard library"


#: the most of a library's message the one line shows
LIBRARY_LINE_CHARS = 160
_ERROR_LINE = re.compile(r"\w*(Error|Exception): ")


def _library_line(text: str) -> str:
    """What a library's message says went wrong, in one line of at most LIBRARY_LINE_CHARS: its
    first line, or in a text holding a traceback (MXNet, Paddle) the last ``SomeError: ...`` line;
    empty when there is none."""
    lines = [line.strip() for line in _strip_ansi(text).splitlines() if line.strip()]
    if any("Traceback" in line for line in lines):
        lines = [line for line in lines if _ERROR_LINE.match(line)][-1:]
    line = lines[0] if lines else ""
    return line if len(line) <= LIBRARY_LINE_CHARS else line[: LIBRARY_LINE_CHARS - 3] + "..."


def _in_own_words(exc: BaseException) -> tuple[str, str]:
    """(one line for the user, the library's own text). zoocheck's messages are shown as they are;
    a library's by its line that says what went wrong, shortened (no traceback, no ANSI colour
    codes), the whole text in the detail."""
    library = _raised_in(exc)
    if library is None:
        cause = exc.__cause__ or exc.__context__
        return exception_line(exc), _strip_ansi(str(cause)).strip()[-4000:] if cause else ""
    detail = _strip_ansi(str(exc)).strip()
    said = _library_line(detail)
    if not said:
        return f"{type(exc).__name__} raised inside {library} (its message is in the failure log; --verbose shows it)", detail[-4000:]
    rest = "" if said == detail else " (--verbose shows all it said)"
    return f"{type(exc).__name__} raised inside {library}: {said}{rest}", detail[-4000:]


@dataclass(frozen=True)
class Failure(Record):
    """Why a model could not be converted or checked: one record of the failure log."""

    KIND: ClassVar[str] = "failure"

    source: str
    model: str
    stage: str  # one of STAGES
    exception_type: str
    message: str
    traceback_tail: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    time: str = field(default_factory=utc_now)
    # set by a sweep: the failure taxonomy category, the job's key and its step (convert / parity
    # / eval), and for a parity failure whether it is the fp32 noise of random weights
    category: str | None = None
    job: str | None = None
    step: str | None = None
    fp32_noise: bool | None = None
    detail: str = ""  # what the library itself said (shown with --verbose; never in the one line)
    bad_input: bool = False  # the input (a weights file, an ONNX file) is unusable: exit 2, not 1
    command: str = ""  # the zoocheck command that reproduces it, where the run that failed knows it (a sweep's job)

    @classmethod
    def from_exception(cls, source: str, model: str, stage: str, exc: BaseException, versions: dict | None = None, fix: str = "") -> "Failure":
        """The failure record of ``exc``: its message when zoocheck wrote it, else a line naming the
        library that raised it (the library's own text goes to ``detail``), plus ``fix``."""
        tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:])
        message, detail = _in_own_words(exc)
        if fix:
            message = f"{message}; {fix}"
        return cls(source, model, stage, type(exc).__name__, message, _strip_ansi(tail)[-4000:], dict(versions or {}), detail=detail, bad_input=isinstance(exc, BadInput))

    def one_line(self) -> str:
        return f"{self.source}/{self.model}: {self.stage} failed: {self.message}"


# ---------------------------------------------------------------------------------------------
# the ONNX metadata


@dataclass(frozen=True)
class WeightsRef(Record):
    """The weights file a conversion loaded: its path and sha256 (None for a directory)."""

    file: str
    sha256: str | None


@dataclass(frozen=True)
class OnnxFile(Record):
    """The written ONNX file itself, as the description beside it names it (a file cannot hold
    its own checksum)."""

    name: str
    sha256: str
    bytes: int


@dataclass(frozen=True)
class CalibrationSet(Record):
    """The images an int8 file's activation ranges were calibrated on."""

    fingerprint: str  # json digest of the images' sha256 in the order fed
    images: int
    origin: str  # the folder or data set they were taken from ('bundled photographs' by default)
    preprocess_fingerprint: str  # json digest of the preprocessing spec they were fed through


@dataclass(frozen=True)
class VariantInfo(Record):
    """How a deployment variant (fp16, int8) was made from an fp32 file zoocheck wrote."""

    precision: Literal["fp16", "int8"]
    method: str  # 'onnxconverter-common float16, fp32 inputs/outputs kept', 'onnxruntime static QDQ ...'
    fp32_file: OnnxFile  # the fp32 file it came from, by name and sha256
    fp32_path: str  # where that file was when the variant was made
    tools: dict[str, str]  # the converters' versions
    calibration: CalibrationSet | None = None  # int8 only


@dataclass(frozen=True)
class OnnxMetadata(Record):
    """The JSON in ``metadata_props["zoocheck"]`` of every file zoocheck writes, and beside it."""

    zoocheck_version: str
    source: str
    model: str
    arch: str
    random_weights: bool
    random_seed: int | None
    weights: WeightsRef | None
    published_weights_url: str | None
    preprocess: dict[str, Any]  # the entry's Preprocess spec as a dict
    input_size: int
    label_space: str
    output: Literal["logits", "probabilities"]
    opset: int  # as written in the file (an exporter may raise the opset asked for)
    versions: dict[str, str]
    opset_requested: int | None = None
    ir_version: int | None = None
    input_shape: tuple[int | str, ...] | None = None  # dims, "N" for the dynamic batch
    output_shape: tuple[int | str, ...] | None = None
    graph: Literal["canonical", "native"] | None = None  # the graph form written (converters/graph)
    structure_fingerprint: str | None = None  # equal for every file of one architecture's structure
    onnx_file: OnnxFile | None = None  # only in the description beside the file
    zoocheck_code: str | None = None  # digests.code_digest of the zoocheck that wrote it
    variant: VariantInfo | None = None  # set for an fp16/int8 file made from a zoocheck fp32 file

    @property
    def precision(self) -> str:
        return self.variant.precision if self.variant else "fp32"

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        if self.onnx_file is None:  # inside the file itself: it cannot name its own checksum
            del data["onnx_file"]
        return data

    def __post_init__(self) -> None:
        if self.random_weights == (self.weights is not None):
            raise RecordError(f"{self.source}/{self.model}: metadata must name either weights or random weights, not {'both' if self.weights else 'neither'}")
        if self.random_weights and self.random_seed is None:
            raise RecordError(f"{self.source}/{self.model}: random-weights metadata without a seed")


# ---------------------------------------------------------------------------------------------
# conversion


@dataclass(frozen=True)
class ConversionRecord(Record):
    """One conversion attempt of one model, as the results store keeps it."""

    KIND: ClassVar[str] = "conversion"

    status: Literal["ok", "failed"]
    source: str
    model: str
    arch: str
    random_weights: bool
    random_seed: int | None = None
    onnx_path: str | None = None
    weights: str | None = None
    weights_sha256: str | None = None
    output: Literal["logits", "probabilities"] = "logits"
    # read back from the file written, not what was asked for
    opset: int | None = None
    opset_requested: int | None = None
    ir_version: int | None = None
    input_shape: tuple[int | str, ...] | None = None
    output_shape: tuple[int | str, ...] | None = None
    onnx_sha256: str | None = None
    graph: Literal["canonical", "native"] | None = None
    structure_fingerprint: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    failure: Failure | None = None
    time: str = field(default_factory=utc_now)
    variant: VariantInfo | None = None  # an fp16/int8 file made from an fp32 one: how, and from which

    @property
    def precision(self) -> str:
        return self.variant.precision if self.variant else "fp32"


# ---------------------------------------------------------------------------------------------
# parity


@dataclass(frozen=True)
class Tolerance(Record):
    """When two outputs of the same model count as the same. Defaults are for fp32 vs fp32.

    max_rel_err: max |ref - test| divided by the reference's logit range (max - min) per input:
      scale-free, so random-weight logits of any magnitude are judged alike.
    max_abs_err: optional absolute bound (None = not judged).
    min_cosine: cosine similarity of the two logit vectors.
    require_top1: the arg-max must agree.
    min_top5_overlap: how many of the reference's top-5 classes the test must share.
    NaN or Inf in either output always fails.
    """

    max_rel_err: float = 1e-3
    max_abs_err: float | None = None
    min_cosine: float = 0.9999
    require_top1: bool = True
    min_top5_overlap: int = 4
    # the share of inputs whose top-1 must agree (None: not judged): a variant's tolerance judges
    # agreement over the inputs, not per input
    min_top1_agreement: float | None = None
    precision: str = "fp32"  # the precision of the output under test these bounds belong to

    def agreement_violation(self, comparisons: "tuple[OutputComparison, ...]") -> str | None:
        """Why the share of ``comparisons`` whose top-1 agrees is below ``min_top1_agreement``."""
        if self.min_top1_agreement is None or not comparisons:
            return None
        agree = sum(c.top1_agree for c in comparisons)
        if agree >= self.min_top1_agreement * len(comparisons):
            return None
        return f"top-1 agrees on {agree}/{len(comparisons)} inputs < {self.min_top1_agreement:.0%}"


#: the precisions of the files zoocheck writes: the exported fp32 file and its deployment variants
PRECISIONS = ("fp32", "fp16", "int8")

#: what counts as the same output for each precision, against the fp32 file and the source
#: framework: fp16 keeps logits within 1% of their range; int8 is judged by how often its top-1
#: agrees, with its logit error bounded loosely and always reported
PRECISION_TOLERANCES: dict[str, Tolerance] = {
    "fp32": Tolerance(),
    "fp16": Tolerance(max_rel_err=1e-2, min_cosine=0.999, require_top1=False, min_top5_overlap=3, min_top1_agreement=0.8, precision="fp16"),
    "int8": Tolerance(max_rel_err=0.15, min_cosine=0.98, require_top1=False, min_top5_overlap=2, min_top1_agreement=0.8, precision="int8"),
}  # fmt: skip


@dataclass(frozen=True)
class OutputComparison(Record):
    """Metrics of one input's reference output against the test output."""

    input: str  # 'random-0', 'chelsea.png', ...
    max_abs_err: float
    max_rel_err: float
    cosine: float
    top1_reference: int
    top1_test: int
    top5_overlap: int
    nonfinite: bool

    @property
    def top1_agree(self) -> bool:
        return self.top1_reference == self.top1_test

    def violations(self, tol: Tolerance) -> list[str]:
        """Why this comparison fails ``tol`` (empty when it passes)."""
        if self.nonfinite:
            return ["NaN or Inf in an output"]
        out = []
        if not self.max_rel_err <= tol.max_rel_err:
            out.append(f"rel err {self.max_rel_err:.3g} > {tol.max_rel_err:g}")
        if tol.max_abs_err is not None and not self.max_abs_err <= tol.max_abs_err:
            out.append(f"abs err {self.max_abs_err:.3g} > {tol.max_abs_err:g}")
        if not self.cosine >= tol.min_cosine:
            out.append(f"cosine {self.cosine:.6f} < {tol.min_cosine:g}")
        if tol.require_top1 and not self.top1_agree:
            out.append(f"top-1 {self.top1_test} != {self.top1_reference}")
        if self.top5_overlap < tol.min_top5_overlap:
            out.append(f"top-5 overlap {self.top5_overlap} < {tol.min_top5_overlap}")
        return out

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "top1_agree": self.top1_agree}


@dataclass(frozen=True)
class NodeError(Record):
    """One node output's error between two computations of a graph (``Divergence.node_errors``)."""

    node: str
    output: str  # the tensor compared
    max_rel_err: float


@dataclass(frozen=True)
class Divergence(Record):
    """The first node of a reference graph whose output exceeds the tolerance in the graph under
    test (``checks/divergence.py``): where a mismatch starts."""

    node: str  # node name (canonical graphs: the layer, e.g. 'layer2.0.conv1')
    op_type: str
    output: str  # the tensor compared
    max_rel_err: float
    max_abs_err: float
    nodes_compared: int  # how many nodes before it agreed (0: the very first node)
    tolerance: float
    initializers: tuple[str, ...] = ()  # the initializers the node consumes (which weights to look at)
    # every node compared, in graph order up to and including this one: the agreeing ones first
    node_errors: tuple[NodeError, ...] = ()

    def summary(self) -> str:
        weights = f" (weights {', '.join(self.initializers)})" if self.initializers else ""
        return (
            f"first divergence at node {self.node} ({self.op_type}){weights}: rel err {self.max_rel_err:.3g} "
            f"> {self.tolerance:g} after {self.nodes_compared} agreeing nodes"
        )


@dataclass(frozen=True)
class ParityResult(Record):
    """Output parity of one model between a reference runtime and a test runtime.

    The status is derived from the comparisons and the tolerance, so a stored result can be
    re-judged with another tolerance (``rejudge``)."""

    KIND: ClassVar[str] = "parity"

    source: str
    model: str
    reference: str  # 'torch+torchvision', 'paddle', 'mxnet', 'onnxruntime:<other source>'
    test: str  # 'onnxruntime'
    tolerance: Tolerance
    comparisons: tuple[OutputComparison, ...]
    random_weights: bool
    onnx_path: str | None = None
    weights: str | None = None
    failure: Failure | None = None  # set when the check could not run (status 'error')
    time: str = field(default_factory=utc_now)
    # Per input, max |x - fp64| / fp64 logit range of the reference's own fp32 forward and of the
    # test output, against the reference framework's float64 forward (empty when not measured).
    reference_fp64_rel_err: tuple[float, ...] = ()
    test_fp64_rel_err: tuple[float, ...] = ()
    # every input fed, in order ('random-0 (seed 0)', photograph paths), and the photographs left
    # out with why: (path, reason)
    inputs: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    # False when --onnx named a file without zoocheck metadata: which model it holds is unproved
    onnx_verified: bool = True
    random_seed: int | None = None
    # a failed check of an existing file: where it starts to differ from a fresh conversion
    first_divergence: Divergence | None = None
    # the weights are the file the zoo publishes (download.is_published_file); False: another
    # file, or one not proved to be it, which says nothing about the published model
    published_weights: bool = False
    precision: str = "fp32"  # of the file under test (an fp16/int8 variant is judged by its own tolerance)

    @property
    def status(self) -> Status:
        if self.failure is not None or not self.comparisons:
            return "error"
        if self.tolerance.agreement_violation(self.comparisons):
            return "failed"
        return "ok" if all(not c.violations(self.tolerance) for c in self.comparisons) else "failed"

    @property
    def fp32_noise(self) -> bool:
        """A failure that says nothing about the conversion: the reference framework's own fp32
        forward is off its fp64 forward beyond the tolerance, and the test output is no further
        from fp64 than that noise (within ``FP32_NOISE_MARGIN``)."""
        if self.status != "failed" or not self.reference_fp64_rel_err:
            return False
        tol = self.tolerance.max_rel_err
        return max(self.reference_fp64_rel_err) > tol and all(
            t <= tol + FP32_NOISE_MARGIN * r for r, t in zip(self.reference_fp64_rel_err, self.test_fp64_rel_err)
        )

    def rejudge(self, tolerance: Tolerance) -> "ParityResult":
        return dataclasses.replace(self, tolerance=tolerance)

    def summary(self) -> str:
        """One greppable line."""
        weights = "RANDOM WEIGHTS" if self.random_weights else (self.weights or "?")
        if not self.onnx_verified:
            weights += ", UNVERIFIED ONNX FILE"
        if self.skipped:
            weights += f", {len(self.skipped)} photographs skipped"
        if self.status == "error":
            return f"PARITY ERROR {self.source}/{self.model} [{weights}]: {self.failure.one_line() if self.failure else 'no inputs compared'}"
        worst = max(c.max_rel_err for c in self.comparisons)
        agree = sum(c.top1_agree for c in self.comparisons)
        verdict = "PASS" if self.status == "ok" else "FAIL"
        return (
            f"PARITY {verdict} {self.source}/{self.model} {self.reference} vs {self.test} "
            f"[{weights}]: max rel err {worst:.3g} (tol {self.tolerance.max_rel_err:g}; {self.fp32_yardstick()}), "
            f"top-1 agree {agree}/{len(self.comparisons)}"
            + (f": fp32 rounding, not the conversion ({self.test} vs fp64 {max(self.test_fp64_rel_err):.3g})" if self.fp32_noise else "")
            + (f"; {self.first_divergence.summary()}" if self.first_divergence is not None else "")
        )

    def fp32_yardstick(self) -> str:
        """The reference framework's own fp32 error beside the test's: how far its fp32 forward is
        from its fp64 forward, or that it has none (MXNet, an ONNX file run by onnxruntime)."""
        if not self.reference_fp64_rel_err:
            return f"{self.reference} has no fp64 forward"
        return f"{self.reference} fp32 vs fp64 {max(self.reference_fp64_rel_err):.3g}"

    def to_json(self) -> dict[str, Any]:
        data = {**super().to_json(), "status": self.status, "fp32_noise": self.fp32_noise}
        data["skipped"] = [{"path": p, "reason": r} for p, r in self.skipped]
        return data

    @classmethod
    def _upgrade(cls, data: dict[str, Any]) -> dict[str, Any]:
        data = super()._upgrade(data)
        skipped = data.get("skipped")
        if isinstance(skipped, list) and all(isinstance(s, dict) for s in skipped):
            data = {**data, "skipped": [[s.get("path"), s.get("reason")] for s in skipped]}
        return data


# ---------------------------------------------------------------------------------------------
# evaluation


@dataclass(frozen=True)
class SkippedImage(Record):
    path: str
    reason: str


@dataclass(frozen=True)
class EvalResult(Record):
    """Top-1/top-5 (percent) of one model on one data set, with everything needed to reproduce it."""

    KIND: ClassVar[str] = "eval"

    source: str
    model: str
    backend: str  # 'onnxruntime' or 'native'
    top1: float | None  # None when no image could be evaluated
    top5: float | None
    images: int  # images evaluated (all runs, resumed ones included)
    skipped: tuple[SkippedImage, ...]
    time_s: float  # wall time of this run
    throughput: float  # images per second of this run
    dataset: dict[str, Any]  # layout, root, label file, images listed
    dataset_fingerprint: str
    preprocess: dict[str, Any]
    random_weights: bool
    arch: str | None = None
    onnx_path: str | None = None
    weights: str | None = None
    limit: int | None = None
    batch_size: int = 32
    resumed_images: int = 0  # predictions taken from the checkpoint of an interrupted run
    cached_images: int = 0  # crops read from the preprocessed cache
    decoded_images: int = 0  # image files decoded by this run
    time: str = field(default_factory=utc_now)
    onnx_verified: bool = True  # False: an ONNX file without zoocheck metadata, taken on request
    published_weights: bool = False  # as ParityResult.published_weights
    predictions: str | None = None  # the per-image top-5 (.npz: top5, labels, images) a paired comparison reads
    subsample: int | None = None  # every k-th image only, this many (checks/evaluate.selected_samples)
    precision: str = "fp32"  # of the model evaluated (an fp16/int8 variant's file)
    # ImageNet-ReaL (checks/real_labels.py): where the images are ImageNet val's
    real_top1: float | None = None
    real_top5: float | None = None
    real_images: int = 0

    @property
    def status(self) -> Status:
        return "ok" if self.images else "error"

    def summary(self) -> str:
        """One greppable line."""
        weights = " [RANDOM WEIGHTS]" if self.random_weights else ""
        weights += "" if self.onnx_verified else " [UNVERIFIED ONNX FILE]"
        acc = f"top-1 {self.top1:.3f}% top-5 {self.top5:.3f}%" if self.top1 is not None else "no image evaluated"
        precision = "" if self.precision == "fp32" else f" {self.precision}"
        return (
            f"EVAL {self.source}/{self.model}{precision} {self.backend}{weights}: {acc} on {self.images} images "
            f"({len(self.skipped)} skipped) in {self.time_s:.1f} s, {self.throughput:.1f} img/s"
        )


# ---------------------------------------------------------------------------------------------
# audit


@dataclass(frozen=True)
class EvaluatedModel(Record):
    """One side of a paired comparison: which evaluation, of which model and file."""

    source: str
    model: str
    precision: str
    backend: str
    random_weights: bool
    predictions: str  # the .npz its per-image top-5 came from
    onnx_path: str | None = None
    top1: float | None = None
    top5: float | None = None
    real_top1: float | None = None


@dataclass(frozen=True)
class PairedEval(Record):
    """Two evaluations on the same images, image by image (``checks/paired.py``): the top-1
    difference, the images that flipped each way, an exact McNemar test, a bootstrap confidence
    interval of the difference, and the verdict against the largest drop allowed."""

    KIND: ClassVar[str] = "paired_eval"

    reference: EvaluatedModel  # 'a': the fp32 file, the source framework, zoo A
    candidate: EvaluatedModel  # 'b': the variant, the ONNX file, zoo B
    dataset_fingerprint: str
    images: int  # images both evaluated
    difference: float  # candidate top-1 - reference top-1, points
    top5_difference: float
    reference_only: int  # images the reference got right (top-1) and the candidate wrong
    candidate_only: int
    mcnemar_p: float  # exact two-sided (binomial on the discordant images)
    ci_low: float  # bootstrap percentile interval of the difference, points
    ci_high: float
    confidence: float
    bootstrap_samples: int
    max_drop: float  # allowed relative drop of the reference's top-1 (0.01: MLPerf's 99%)
    verdict: Literal["pass", "fail"]  # the point estimate against max_drop (MLPerf's rule)
    conclusive: bool  # the whole interval is on the verdict's side of the allowed drop
    flipped_to_wrong: tuple[str, ...] = ()  # images (first ones) the candidate lost
    flipped_to_right: tuple[str, ...] = ()  # images the candidate gained
    real_difference: float | None = None  # the same difference in ImageNet-ReaL top-1
    time: str = field(default_factory=utc_now)

    @property
    def allowed_drop(self) -> float:
        """The largest top-1 drop allowed, in points."""
        return self.max_drop * (self.reference.top1 or 0.0)

    @property
    def status(self) -> Status:
        return "ok" if self.verdict == "pass" else "failed"


@dataclass(frozen=True)
class AuditRecord(Record):
    """One published parameter count or FLOPs/MACs figure beside the count measured on the graph,
    or one conflict between values the zoo itself published (``discrepancy``: failed, no numbers)."""

    KIND: ClassVar[str] = "audit"

    status: Status  # ok: agrees; failed: disagrees (or a discrepancy); skipped: not measured (note says why)
    source: str
    model: str
    quantity: Literal["params_m", "macs_g", "discrepancy"]
    published: float | None  # as the zoo published it (None for a discrepancy)
    published_unit: str  # 'M params', 'GMACs' or 'GFLOPs (2 x MACs)'
    measured: float | None  # same unit as the normalised published value (M params / GMACs)
    normalised: float | None  # published converted to M params / GMACs
    convention: str  # which counting convention matched ('trainable', 'with BN stats', ...)
    reference: str
    input_size: int
    # what was measured (the canonical graph, or which converted file), why nothing was and the
    # command that would measure it, or the discrepancy the zoo published
    note: str = ""
    time: str = field(default_factory=utc_now)

    @property
    def relative_error(self) -> float | None:
        if not self.measured or self.normalised is None:
            return None
        return self.normalised / self.measured - 1.0

    @classmethod
    def _upgrade(cls, data: dict[str, Any]) -> dict[str, Any]:
        # Before this record type the audit stored its own vocabulary and both 'name' and 'model'.
        status = {"disagrees": "failed", "not-measured": "skipped"}.get(data.get("status"), data.get("status"))
        return {**data, "status": status, "model": data.get("model", data.get("name"))}

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "relative_error": self.relative_error}


# ---------------------------------------------------------------------------------------------
# sweeps


@dataclass(frozen=True)
class SweepJobRecord(Record):
    """One finished job of a sweep (written after the job's own records: its marker)."""

    KIND: ClassVar[str] = "sweep-job"

    key: str  # the job's cache key (entry, weights identity, options, versions)
    source: str
    model: str
    step: str  # convert / parity / eval / compare
    status: Literal["ok", "failed", "skipped"]
    seconds: float
    category: str | None = None  # the failure taxonomy category of a failed job
    message: str = ""
    onnx_path: str | None = None
    time: str = field(default_factory=utc_now)
    random_weights: bool = False  # the job ran on seeded random weights


# ---------------------------------------------------------------------------------------------
# preprocessing checks and cross-source comparisons


@dataclass(frozen=True)
class ImagePixelDifference(Record):
    """Two preprocessings of one image, in 0-255 pixel steps."""

    image: str
    max_pixel_diff: float
    mean_pixel_diff: float
    shapes: tuple[tuple[int, ...], tuple[int, ...]] | None = None  # set when the two tensors differ in shape
    error: str | None = None  # the image could not be preprocessed by one side


def _max_pixel_diff(rows: tuple[ImagePixelDifference, ...]) -> float:
    return max((r.max_pixel_diff for r in rows if r.error is None), default=math.nan)


@dataclass(frozen=True)
class LogitEffect(Record):
    """What a preprocessing difference does to one model's outputs on the same photographs."""

    model: str  # the ONNX file both preprocessings were fed through
    max_rel_err: float  # max |logits_a - logits_b| over the logit range of a
    top1_flips: tuple[str, ...]  # the images whose top-1 class changed


@dataclass(frozen=True)
class LibraryPreprocessCheck(Record):
    """zoocheck's preprocessing of one entry against its source library's own transform."""

    KIND: ClassVar[str] = "preprocess"

    source: str
    model: str
    library: str  # the transform built, or why none could be
    status: Status
    images: tuple[ImagePixelDifference, ...] = ()
    tolerance: float = 0.5  # pixel steps
    effect: LogitEffect | None = None
    time: str = field(default_factory=utc_now)

    @property
    def max_pixel_diff(self) -> float:
        return _max_pixel_diff(self.images)

    def summary(self) -> str:
        head = f"PREPROCESS {self.status.upper()} {self.source}/{self.model} vs {self.library}"
        if self.status == "skipped":
            return head
        line = f"{head}: max pixel diff {self.max_pixel_diff:.3g} (tol {self.tolerance:g}) on {len(self.images)} images"
        errors = [r.image for r in self.images if r.error]
        if errors:
            line += f"; not preprocessed: {', '.join(errors)}"
        if self.effect is not None:
            line += f"; logits rel err {self.effect.max_rel_err:.3g}, top-1 flips {len(self.effect.top1_flips)}"
        return line

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "max_pixel_diff": _finite_or_text(self.max_pixel_diff)}


@dataclass(frozen=True)
class PreprocessingDifference(Record):
    """Two entries' own preprocessings of the same photographs, and what the difference does."""

    a: str  # entry keys
    b: str
    images: tuple[ImagePixelDifference, ...]
    effect: LogitEffect | None  # b's preprocessing fed to a's model, against a's own

    @property
    def max_pixel_diff(self) -> float:
        return _max_pixel_diff(self.images)

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "max_pixel_diff": _finite_or_text(self.max_pixel_diff)}


@dataclass(frozen=True)
class TensorDifference(Record):
    name: str
    max_abs_diff: float
    rel_diff: float  # max_abs_diff over the larger side's max |value|
    cosine: float
    shapes: tuple[tuple[int, ...], tuple[int, ...]] | None = None  # set when the shapes differ


@dataclass(frozen=True)
class WeightsComparison(Record):
    tensors: int  # initializers compared
    differing: tuple[TensorDifference, ...]  # in graph order
    only_in_a: tuple[str, ...] = ()
    only_in_b: tuple[str, ...] = ()

    @property
    def identical(self) -> bool:
        return not self.differing and not self.only_in_a and not self.only_in_b

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "identical": self.identical}


@dataclass(frozen=True)
class FunctionComparison(Record):
    """Both files on the same inputs (random tensors and side a's preprocessing of the photographs)."""

    comparisons: tuple[OutputComparison, ...]
    tolerance: Tolerance

    @property
    def within_tolerance(self) -> bool:
        return bool(self.comparisons) and all(not c.violations(self.tolerance) for c in self.comparisons)

    @property
    def max_rel_err(self) -> float:
        return max((c.max_rel_err for c in self.comparisons), default=math.nan)

    @property
    def top1_agreement(self) -> tuple[int, int]:
        return sum(c.top1_agree for c in self.comparisons), len(self.comparisons)

    def to_json(self) -> dict[str, Any]:
        agree, total = self.top1_agreement
        return {**super().to_json(), "max_rel_err": _finite_or_text(self.max_rel_err), "top1_agree": agree, "inputs": total,
                "within_tolerance": self.within_tolerance}  # fmt: skip


@dataclass(frozen=True)
class Side(Record):
    """One side of a comparison: which entry, which weights, which canonical file."""

    source: str
    model: str
    arch: str
    onnx_path: str
    weights: str | None  # the weights file; None for random weights
    weights_sha256: str | None = None
    random_seed: int | None = None

    @property
    def key(self) -> str:
        return f"{self.source}/{self.model}"


Verdict = Literal["identical", "equivalent", "different"]


@dataclass(frozen=True)
class Comparison(Record):
    """Two zoos' versions of one architecture (``zoocheck compare``), verdict derived."""

    KIND: ClassVar[str] = "compare"

    a: Side
    b: Side
    weights: WeightsComparison
    function: FunctionComparison
    preprocessing: PreprocessingDifference | None
    first_divergence: Divergence | None = None
    divergence_note: str | None = None  # why no first divergence could be looked for
    time: str = field(default_factory=utc_now)

    @property
    def verdict(self) -> Verdict:
        if self.weights.identical:
            return "identical"
        return "equivalent" if self.function.within_tolerance else "different"

    @property
    def status(self) -> Status:
        return "failed" if self.verdict == "different" else "ok"

    @property
    def random_weights(self) -> bool:
        return self.a.weights is None or self.b.weights is None

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "verdict": self.verdict, "status": self.status, "random_weights": self.random_weights}


#: record kind -> type, for everything the results store holds
RECORD_TYPES: dict[str, type[Record]] = {
    cls.KIND: cls for cls in (ConversionRecord, ParityResult, EvalResult, PairedEval, AuditRecord, SweepJobRecord, Failure, LibraryPreprocessCheck, Comparison)
}


def record_from_json(data: Any, *, where: str = "record") -> Record:
    """Any stored record, typed by its ``kind``."""
    if not isinstance(data, dict):
        raise RecordError(f"{where}: expected a JSON object, got {type(data).__name__}")
    kind = data.get("kind")
    if kind not in RECORD_TYPES:
        raise RecordError(f"{where}: unknown record kind {kind!r} (known: {', '.join(RECORD_TYPES)})")
    return RECORD_TYPES[kind].from_json(data, where=f"{where} ({kind})")


__all__ = [
    "CalibrationSet",
    "EvaluatedModel",
    "PairedEval",
    "PRECISIONS",
    "PRECISION_TOLERANCES",
    "VariantInfo",
    "Comparison",
    "FunctionComparison",
    "ImagePixelDifference",
    "LibraryPreprocessCheck",
    "LogitEffect",
    "PreprocessingDifference",
    "Side",
    "TensorDifference",
    "Verdict",
    "WeightsComparison",
    "STAGES",
    "STATUSES",
    "AuditRecord",
    "ConversionRecord",
    "EvalResult",
    "Divergence",
    "Failure",
    "NodeError",
    "OnnxFile",
    "OnnxMetadata",
    "OutputComparison",
    "ParityResult",
    "RECORD_TYPES",
    "Record",
    "RecordError",
    "SkippedImage",
    "SweepJobRecord",
    "Status",
    "Tolerance",
    "WeightsRef",
    "record_from_json",
    "utc_now",
]
