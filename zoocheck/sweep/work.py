"""The work of one entry's pending jobs, run inside an executor's worker (never in the driver).

One call runs every pending step of one entry with one framework load where it can: convert and
parity together are one ``check_parity`` (one load, one native forward, one export). A cached
conversion is reused by parity (native forward only) and eval (onnxruntime only). Nothing here
writes to the results store: the outcomes go back to the driver, the store's one writer.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from zoocheck.records import Failure, PairedEval, ParityResult, Record, SweepJobRecord
from zoocheck.sweep.jobs import Job, categorize, reproduce_command

NO_PARTNER = "the registry records no same_weights_as partner to compare with"


@dataclass(frozen=True)
class JobOutcome:
    """What one job produced: its status, the records for the store, its failure if any."""

    key: str
    source: str
    model: str
    step: str
    status: str  # 'ok', 'failed' or 'skipped'
    seconds: float
    records: tuple[Record, ...] = ()  # results-store records (conversion, parity, eval)
    failure: Failure | None = None  # with its taxonomy category, job and step
    # what the sweep itself says (a file written, why a step failed or was skipped); empty where
    # the records speak for the job: the driver's ``describe`` renders them into it
    message: str = ""
    onnx_path: str | None = None
    log: str = ""  # what the framework printed
    random_weights: bool = False  # the job ran on seeded random weights
    peak_rss_bytes: int | None = None  # see SweepJobRecord.peak_rss_bytes

    def record(self) -> SweepJobRecord:
        """The job's marker in the results store."""
        return SweepJobRecord(
            key=self.key,
            source=self.source,
            model=self.model,
            step=self.step,
            status=self.status,
            seconds=round(self.seconds, 3),
            category=self.failure.category if self.failure else None,
            message=self.message,
            onnx_path=self.onnx_path,
            random_weights=self.random_weights,
            peak_rss_bytes=self.peak_rss_bytes,
        )


@dataclass(frozen=True)
class EntryWork:
    """An entry's pending jobs plus where its conversion lives and what eval reads."""

    jobs: tuple[Job, ...]
    onnx_path: Path  # the cached conversion (named by the conversion key)
    predictions: Path | None = None  # eval: where the per-image top-5 go
    data: str | None = None
    images: tuple[str, ...] | None = None
    options: dict = field(default_factory=dict)


def conversion_path(results_dir: Path, job: Job) -> Path:
    """Where the conversion of ``job``'s entry with ``job``'s identity is cached."""
    entry = job.entry
    return Path(results_dir) / "sweep" / "onnx" / entry.source / f"{entry.name}-{job.options['conversion_key'][:16]}.onnx"


def _failure(job: Job, failure: Failure) -> Failure:
    return dataclasses.replace(
        failure, category=categorize(failure), job=job.key, step=job.step, command=reproduce_command(job, failure.message)
    )


def _outcome(job: Job, began: float, status: str, **kw) -> JobOutcome:
    return JobOutcome(
        job.key,
        job.entry.source,
        job.entry.name,
        job.step,
        status,
        time.perf_counter() - began,
        random_weights=job.weights is None and job.random_seed is not None,
        **kw,
    )


def run_entry_captured(work: EntryWork, on_stage: Callable[[str], None] | None = None) -> list[JobOutcome]:
    """``run_entry`` with what the frameworks print captured into the outcomes' logs (for the
    debug log the driver keeps) instead of the worker's terminal."""
    import dataclasses
    import tempfile

    from zoocheck.capture import captured_output, read_log

    fd, name = tempfile.mkstemp(prefix="sweep-job-", suffix=".log")
    os.close(fd)
    log = Path(name)
    try:
        with captured_output(log):
            outcomes = run_entry(work, on_stage)
        text = read_log(log)
    finally:
        log.unlink(missing_ok=True)
    return [o if o.log or not text else dataclasses.replace(o, log=text) for o in outcomes]


def _measured(run: Callable[[], list[JobOutcome]]) -> list[JobOutcome]:
    """``run()``'s outcomes, each with the peak resident memory the call took (``PeakMemory``)."""
    from zoocheck.sweep.memory import PeakMemory

    with PeakMemory() as peak:
        outcomes = run()
    return [dataclasses.replace(o, peak_rss_bytes=peak.bytes) for o in outcomes]


def run_entry(work: EntryWork, on_stage: Callable[[str], None] | None = None) -> list[JobOutcome]:
    """Run ``work``'s jobs in order; never raises for a model's failure. ``on_stage`` hears each
    stage (load, build, parity, export, check, eval) as it starts, so that an executor whose
    worker dies can say where. Each job records the peak memory of its own work; convert and
    parity run as one call and share its peak."""
    by_step = {j.step: j for j in work.jobs}
    outcomes: list[JobOutcome] = []
    missing = work.jobs[0].options.get("missing_weights")
    if missing:
        for job in work.jobs:
            failure = Failure(job.entry.source, job.entry.name, "load", "MissingWeightsError", missing)
            outcomes.append(_outcome(job, time.perf_counter(), "failed", failure=_failure(job, failure), message=missing))
        return outcomes
    onnx_ready = work.onnx_path.is_file() and "convert" not in by_step
    if "convert" in by_step or "parity" in by_step:
        outcomes += _measured(lambda: _convert_and_parity(work, by_step.get("convert"), by_step.get("parity"), onnx_ready, on_stage))
        onnx_ready = work.onnx_path.is_file()
    if "eval" in by_step:
        job, began = by_step["eval"], time.perf_counter()
        if not onnx_ready:
            reason = Failure(
                job.entry.source,
                job.entry.name,
                "eval",
                "NoConversion",
                "no converted ONNX file to evaluate (the convert step failed or was not run)",
            )
            outcomes.append(_outcome(job, began, "failed", failure=_failure(job, reason), message=reason.message))
        else:
            if on_stage is not None:
                on_stage("eval")
            outcomes += _measured(lambda: [_eval(work, job, began)])
    if "compare" in by_step:
        outcomes += _measured(lambda: [_compare(work, by_step["compare"], time.perf_counter())])
    return outcomes


def _convert_and_parity(work: EntryWork, convert_job: Job | None, parity_job: Job | None, onnx_ready: bool, on_stage) -> list[JobOutcome]:
    from zoocheck.converters.pipeline import convert

    began = time.perf_counter()
    job = convert_job or parity_job
    if parity_job is None:
        conversion = convert(
            job.entry,
            output=work.onnx_path,
            weights=job.weights,
            random_seed=job.random_seed,
            opset=job.options.get("opset") or 17,
            isolate=False,
            on_stage=on_stage,
        )
        return [_conversion_outcome(convert_job, conversion, began)]

    from zoocheck.checks.parity import check_parity
    from zoocheck.records import Tolerance

    result, conversion = check_parity(
        job.entry,
        weights=job.weights,
        random_seed=job.random_seed,
        output=None if onnx_ready else work.onnx_path,
        onnx_path=work.onnx_path if onnx_ready else None,
        images=[Path(p) for p in work.images] if work.images is not None else None,
        tolerance=Tolerance(**parity_job.options.get("tolerance", {})),
        opset=job.options.get("opset"),
        on_stage=on_stage,
        isolate=False,
    )
    outcomes = []
    if convert_job is not None:
        outcomes.append(_conversion_outcome(convert_job, conversion, began))
        if not conversion.ok:  # parity has nothing to check: it fails with the same reason
            failure = _failure(parity_job, conversion.failure)
            return outcomes + [
                _outcome(
                    parity_job,
                    began,
                    "failed",
                    records=(result,),
                    failure=failure,
                    message=f"no conversion: {conversion.failure.one_line()}",
                )
            ]
    records, variant_failure = (result,), None
    if parity_job.options.get("precision", "fp32") != "fp32" and work.onnx_path.is_file():
        variant_records, variant_failure = _variant(work, parity_job)
        records += variant_records
    results = [r for r in records if isinstance(r, ParityResult)]
    status = "ok" if all(r.status == "ok" for r in results) and variant_failure is None else "failed"
    failure = None
    if result.failure is not None:
        failure = _failure(parity_job, result.failure)
    elif variant_failure is not None:
        failure = _failure(parity_job, variant_failure)
    elif status == "failed":
        failing = next(r for r in results if r.status != "ok")
        if failing.failure is not None:
            failure = _failure(parity_job, failing.failure)
        else:
            reason = Failure(job.entry.source, job.entry.name, "parity", "ParityFail", _outside_tolerance(failing))
            failure = dataclasses.replace(_failure(parity_job, reason), category="numerical", fp32_noise=failing.fp32_noise)
    outcomes.append(
        _outcome(parity_job, began, status, records=records, failure=failure, onnx_path=str(work.onnx_path), log=conversion.log)
    )
    return outcomes


def _outside_tolerance(result: ParityResult) -> str:
    """Why a parity result failed, in its tolerance's words: the inputs outside it (the first
    one's violations) and the share of top-1 agreement it asks for."""
    tolerance = result.tolerance
    failing = [(c.input, tolerance.violations(c)) for c in result.comparisons]
    failing = [(name, violations) for name, violations in failing if violations]
    reasons = []
    if failing:
        name, violations = failing[0]
        reasons.append(
            f"{len(failing)}/{len(result.comparisons)} inputs outside the {result.precision} tolerance (first {name}: {', '.join(violations)})"
        )
    agreement = tolerance.agreement_violation(result.comparisons)
    if agreement:
        reasons.append(agreement)
    return f"{result.reference} vs {result.test}: {'; '.join(reasons)}"


def variant_path(work: EntryWork, precision: str) -> Path:
    """Where the sweep keeps the ``precision`` variant of its cached conversion."""
    return work.onnx_path.with_name(f"{work.onnx_path.stem}.{precision}.onnx")


def _variant(work: EntryWork, job: Job) -> tuple[tuple[Record, ...], Failure | None]:
    """The variant of the job's conversion (made again: its key is the parity job's) and its
    parity against the framework and the fp32 file: (records, the failure making it)."""
    from zoocheck.checks.variants import make_variant, variant_parity

    precision, calibration = job.options["precision"], job.options.get("calibration")
    made = make_variant(
        work.onnx_path, precision, output=variant_path(work, precision), calibration_folder=Path(calibration) if calibration else None
    )
    if made.record is None:
        return (), made.failure
    images = [Path(p) for p in work.images] if work.images is not None else None
    checked = variant_parity(
        job.entry, job.weights, job.random_seed, made.path, images=images, opset=job.options.get("opset"), isolate=False
    )
    return (made.record, *(result for result, _ in checked)), None


def _conversion_outcome(job: Job, conversion, began: float) -> JobOutcome:
    record = conversion.record()
    if conversion.ok:
        return _outcome(
            job,
            began,
            "ok",
            records=(record,),
            message=f"wrote {conversion.onnx_path}",
            onnx_path=str(conversion.onnx_path),
            log=conversion.log,
        )
    return _outcome(
        job,
        began,
        "failed",
        records=(record,),
        failure=_failure(job, conversion.failure),
        message=conversion.failure.one_line(),
        log=conversion.log,
    )


def _compare(work: EntryWork, job: Job, began: float) -> JobOutcome:
    """``compare_entries`` of the job's entry with each partner the job names (``jobs.plan``), on
    the sweep's weights: the fetched files, or one common random set (the seed). One record per
    pair (a Comparison, or the Failure that kept the pair from being compared); the job fails
    when any pair is ``different`` or could not be compared."""
    import tempfile

    from zoocheck import rundir
    from zoocheck.checks.compare import compare_entries
    from zoocheck.checks.images import bundled_photos
    from zoocheck.records import Comparison, Tolerance
    from zoocheck.zoo_registry import get_entry

    partners = job.options.get("partners", ())
    if not partners:
        elsewhere = job.options.get("compared_by_partner")
        message = f"compared in the compare job of {', '.join(elsewhere)} (each pair once)" if elsewhere else NO_PARTNER
        return _outcome(job, began, "skipped", message=message)
    entry = job.entry
    images = [Path(p) for p in work.images] if work.images is not None else bundled_photos()
    tolerance = Tolerance(**job.options.get("tolerance", {}))
    records = []
    for partner in partners:
        if partner["missing_weights"]:
            result = Failure(
                entry.source, entry.name, "load", "MissingWeightsError", f"compare with {partner['key']}: {partner['missing_weights']}"
            )
        else:
            other = get_entry(*partner["key"].split("/", 1))
            weights = None if job.weights is None else (job.weights, Path(partner["weights"]))
            try:
                with rundir.run_directory() as run, tempfile.TemporaryDirectory(prefix="sweep-compare-", dir=run) as workdir:
                    result = compare_entries(
                        entry,
                        other,
                        weights=weights,
                        random_seed=job.random_seed,
                        images=images,
                        workdir=Path(workdir),
                        tolerance=tolerance,
                    )
            except Exception as exc:  # e.g. ArchitectureMismatch: a relation the registry got wrong
                result = Failure.from_exception(entry.source, entry.name, "parity", exc)
        records.append(result if isinstance(result, Comparison) else _failure(job, result))
    comparisons = [r for r in records if isinstance(r, Comparison)]
    failures = [r for r in records if isinstance(r, Failure)]
    different = [c for c in comparisons if c.verdict == "different"]
    failure = failures[0] if failures else None
    if failure is None and different:
        first = different[0]
        failed = Failure(
            entry.source,
            entry.name,
            "parity",
            "CompareDifferent",
            f"{entry.key} and {first.b.key} differ: max rel err {first.function.max_rel_err:.3g}",
        )
        failure = dataclasses.replace(_failure(job, failed), category="numerical")
    status = "failed" if failure is not None else "ok"
    # one record per partner, in the job's order of partners (the job's failure among them when it
    # is a pair's: the driver writes it once)
    return _outcome(job, began, status, records=tuple(records), failure=failure)


def _eval(work: EntryWork, job: Job, began: float) -> JobOutcome:
    from zoocheck.sweep.evalshards import evaluate_onnx

    precision = job.options.get("precision", "fp32")
    try:
        result = evaluate_onnx(job, work.onnx_path, work.data, predictions=work.predictions, **work.options.get("eval", {}))
        records: tuple[Record, ...] = (result,)
        if precision != "fp32":
            records += _paired_eval(work, job, result, precision)
    except Exception as exc:  # unreadable data, a label space that is not ImageNet-1k, no variant made
        failure = Failure.from_exception(job.entry.source, job.entry.name, "eval", exc)
        return _outcome(job, began, "failed", failure=_failure(job, failure), message=failure.message)
    paired = [r for r in records if isinstance(r, PairedEval)]
    status = "failed" if any(p.verdict == "fail" for p in paired) else "ok"
    failure = None
    if status == "failed":
        drop = next(p for p in paired if p.verdict == "fail")
        reason = Failure(
            job.entry.source,
            job.entry.name,
            "eval",
            "VariantDrop",
            f"{precision} top-1 {drop.difference:+.3f} points against fp32, more than the {drop.allowed_drop:.3f} points allowed",
        )
        failure = dataclasses.replace(_failure(job, reason), category="numerical")
    return _outcome(job, began, status, records=records, failure=failure, onnx_path=str(work.onnx_path))


def _paired_eval(work: EntryWork, job: Job, fp32, precision: str) -> tuple[Record, ...]:
    """The variant the parity step made, evaluated on the same images and paired with ``fp32``."""
    from zoocheck.checks.paired import pair
    from zoocheck.sweep.evalshards import evaluate_onnx

    variant = variant_path(work, precision)
    if not variant.is_file():
        raise FileNotFoundError(f"{variant}: no {precision} variant to evaluate; run the parity step with --precision {precision} first")
    predictions = work.predictions.with_name(f"{work.predictions.stem}.{precision}.npz")
    result = evaluate_onnx(job, variant, work.data, predictions=predictions, precision=precision, **work.options.get("eval", {}))
    return result, pair(fp32, result)


__all__ = ["NO_PARTNER", "EntryWork", "JobOutcome", "conversion_path", "run_entry", "run_entry_captured"]
