"""Parity: tolerances (one per precision), per-input comparisons, the first divergence and
the parity result, judged from its comparisons so it can be re-judged."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from zoocheck.records.codec import Record, Status, utc_now
from zoocheck.records.failures import Failure

# How much further from the fp64 forward than the framework's own fp32 forward a test output may
# be and still count as the same fp32 rounding (onnxruntime sums in other orders, so its error is
# of the same size, not identical).
FP32_NOISE_MARGIN = 4.0


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

    def violations(self, comparison: OutputComparison) -> list[str]:
        """Why one input's comparison fails these bounds (empty when it passes)."""
        c = comparison
        if c.nonfinite:
            return ["NaN or Inf in an output"]
        out = []
        if not c.max_rel_err <= self.max_rel_err:
            out.append(f"rel err {c.max_rel_err:.3g} > {self.max_rel_err:g}")
        if self.max_abs_err is not None and not c.max_abs_err <= self.max_abs_err:
            out.append(f"abs err {c.max_abs_err:.3g} > {self.max_abs_err:g}")
        if not c.cosine >= self.min_cosine:
            out.append(f"cosine {c.cosine:.6f} < {self.min_cosine:g}")
        if self.require_top1 and not c.top1_agree:
            out.append(f"top-1 {c.top1_test} != {c.top1_reference}")
        if c.top5_overlap < self.min_top5_overlap:
            out.append(f"top-5 overlap {c.top5_overlap} < {self.min_top5_overlap}")
        return out

    def passed(self, comparisons: tuple[OutputComparison, ...]) -> bool:
        """Every input within the bounds, and top-1 agreeing on the share asked for."""
        return bool(comparisons) and not self.agreement_violation(comparisons) and all(not self.violations(c) for c in comparisons)

    def agreement_violation(self, comparisons: tuple[OutputComparison, ...]) -> str | None:
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
#: agrees, with its logit error bounded loosely and always reported (a random-weights MobileNetV2
#: calibrated on the five bundled photographs: up to 0.23 of the range, cosine 0.91, whatever
#: onnxruntime's calibration options)
PRECISION_TOLERANCES: dict[str, Tolerance] = {
    "fp32": Tolerance(),
    "fp16": Tolerance(max_rel_err=1e-2, min_cosine=0.999, require_top1=False, min_top5_overlap=3, min_top1_agreement=0.8, precision="fp16"),
    "int8": Tolerance(max_rel_err=0.35, min_cosine=0.85, require_top1=False, min_top5_overlap=2, min_top1_agreement=0.8, precision="int8"),
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
    # the canonical graph's layer the node computes, where the file compared is not canonical
    # (its names are the exporter's: a native file, an ONNX model zoo file)
    layer: str | None = None


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
    # a failed check whose first divergence could not be looked for or found: why, in one line
    divergence_note: str | None = None
    # the weights are the file the zoo publishes (download.is_published_file); False: another
    # file, or one not proved to be it, which says nothing about the published model
    published_weights: bool = False
    precision: str = "fp32"  # of the file under test (an fp16/int8 variant is judged by its own tolerance)

    @property
    def status(self) -> Status:
        if self.failure is not None or not self.comparisons:
            return "error"
        return "ok" if self.tolerance.passed(self.comparisons) else "failed"

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

    def rejudge(self, tolerance: Tolerance) -> ParityResult:
        return dataclasses.replace(self, tolerance=tolerance)

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
