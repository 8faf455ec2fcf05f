"""Typed, frozen check results. A result carries its metrics AND the thresholds it was judged by,
so a stored result can be re-judged and rendered without recomputing anything."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Status = Literal["pass", "fail", "error"]

# How much further from the fp64 forward than the framework's own fp32 forward a test output may
# be and still count as the same fp32 rounding (onnxruntime sums in other orders, so its error is
# of the same size, not identical).
FP32_NOISE_MARGIN = 4.0

STAGES = ("load", "build", "export", "check", "parity", "eval")


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_PACKAGE_DIR = Path(__file__).resolve().parents[1]


def _strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _first_line(text: str) -> str:
    lines = [line for line in _strip_ansi(text).strip().splitlines() if line.strip()]
    return lines[0].strip() if lines else ""


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


def _in_own_words(exc: BaseException) -> tuple[str, str]:
    """(one line for the user, the library's own text). zoocheck's messages are shown as they are;
    a library's (torch, miniz, MXNet tracebacks, ANSI colour codes) only in the detail."""
    library = _raised_in(exc)
    if library is None:
        cause = exc.__cause__ or exc.__context__
        return _first_line(str(exc)) or type(exc).__name__, _strip_ansi(str(cause)).strip()[-4000:] if cause else ""
    return f"{type(exc).__name__} raised inside {library} (its message is in the failure log; --verbose shows it)", _strip_ansi(str(exc)).strip()[-4000:]


@dataclass(frozen=True)
class Failure:
    """Why a model could not be converted or checked: one record of the failure log."""

    source: str
    model: str
    stage: str  # one of STAGES
    exception_type: str
    message: str
    traceback_tail: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    time: str = field(default_factory=utc_now)
    detail: str = ""  # what the library itself said (shown with --verbose; never in the one line)
    bad_input: bool = False  # the input (a weights file, an ONNX file) is unusable: exit 2, not 1

    @classmethod
    def from_exception(cls, source: str, model: str, stage: str, exc: BaseException, versions: dict | None = None, fix: str = "") -> "Failure":
        """The failure record of ``exc``: its message when zoocheck wrote it, else a line naming the
        library that raised it (the library's own text goes to ``detail``), plus ``fix``."""
        tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:])
        message, detail = _in_own_words(exc)
        if fix:
            message = f"{message}; {fix}"
        from zoocheck.errors import BadInput

        return cls(source, model, stage, type(exc).__name__, message, _strip_ansi(tail)[-4000:], dict(versions or {}), detail=detail, bad_input=isinstance(exc, BadInput))

    def one_line(self) -> str:
        return f"{self.source}/{self.model}: {self.stage} failed: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "failure", **dataclasses.asdict(self)}


@dataclass(frozen=True)
class Tolerance:
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

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class OutputComparison:
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

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["top1_agree"] = self.top1_agree
        for key in ("max_abs_err", "max_rel_err", "cosine"):
            if not math.isfinite(d[key]):
                d[key] = str(d[key])  # JSON has no NaN
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "OutputComparison":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: (float(v) if k in ("max_abs_err", "max_rel_err", "cosine") else v) for k, v in d.items() if k in names})


@dataclass(frozen=True)
class ParityResult:
    """Output parity of one model between a reference runtime and a test runtime."""

    source: str
    model: str
    reference: str  # 'torch', 'paddle', 'mxnet', 'onnxruntime:<other source>'
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

    @property
    def status(self) -> Status:
        if self.failure is not None or not self.comparisons:
            return "error"
        return "pass" if all(not c.violations(self.tolerance) for c in self.comparisons) else "fail"

    @property
    def fp32_noise(self) -> bool:
        """A FAIL that says nothing about the conversion: the reference framework's own fp32
        forward is off its fp64 forward beyond the tolerance, and the test output is no further
        from fp64 than that noise (within ``FP32_NOISE_MARGIN``)."""
        if self.status != "fail" or not self.reference_fp64_rel_err:
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
        return (
            f"PARITY {self.status.upper()} {self.source}/{self.model} {self.reference} vs {self.test} "
            f"[{weights}]: max rel err {worst:.3g} (tol {self.tolerance.max_rel_err:g}), "
            f"top-1 agree {agree}/{len(self.comparisons)}"
            + (
                f": fp32 noise of the weights, not the conversion ({self.reference} fp32 vs its fp64 "
                f"forward {max(self.reference_fp64_rel_err):.3g}, {self.test} vs fp64 {max(self.test_fp64_rel_err):.3g})"
                if self.fp32_noise
                else ""
            )
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "parity",
            "status": self.status,
            "source": self.source,
            "model": self.model,
            "reference": self.reference,
            "test": self.test,
            "random_weights": self.random_weights,
            "weights": self.weights,
            "onnx_path": self.onnx_path,
            "tolerance": self.tolerance.to_dict(),
            "comparisons": [c.to_dict() for c in self.comparisons],
            "failure": self.failure.to_dict() if self.failure else None,
            "time": self.time,
            "reference_fp64_rel_err": list(self.reference_fp64_rel_err),
            "test_fp64_rel_err": list(self.test_fp64_rel_err),
            "fp32_noise": self.fp32_noise,
            "inputs": list(self.inputs),
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "onnx_verified": self.onnx_verified,
            "random_seed": self.random_seed,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ParityResult":
        failure = d.get("failure")
        return cls(
            source=d["source"],
            model=d["model"],
            reference=d["reference"],
            test=d["test"],
            tolerance=Tolerance(**d["tolerance"]),
            comparisons=tuple(OutputComparison.from_dict(c) for c in d["comparisons"]),
            random_weights=d["random_weights"],
            onnx_path=d.get("onnx_path"),
            weights=d.get("weights"),
            failure=Failure(**{k: v for k, v in failure.items() if k != "kind"}) if failure else None,
            time=d.get("time", ""),
            reference_fp64_rel_err=tuple(d.get("reference_fp64_rel_err", ())),
            test_fp64_rel_err=tuple(d.get("test_fp64_rel_err", ())),
            inputs=tuple(d.get("inputs", ())),
            skipped=tuple((s["path"], s["reason"]) for s in d.get("skipped", ())),
            onnx_verified=d.get("onnx_verified", True),
            random_seed=d.get("random_seed"),
        )
