"""The sweep driver: decides what to run, hands it to an executor, and is the store's one writer.

Resuming is a lookup: a job whose key has an 'ok' sweep-job record (and, for a conversion, whose
cached file still exists) is not run again. Each finished job's records are appended at once, its
sweep-job record last: a driver killed at any point (SIGKILL included) keeps every job it had
written, and the next run redoes only the job whose marker is missing.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from zoocheck.records import SweepJobRecord
from zoocheck.sweep.evalshards import predictions_path
from zoocheck.sweep.jobs import Job
from zoocheck.sweep.work import EntryWork, JobOutcome, conversion_path


@dataclass
class SweepProgress:
    """Counts the driver keeps while the sweep runs (rendered by reports.sweep_report)."""

    total: int
    cached: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    running: set = field(default_factory=set)
    started: float = field(default_factory=time.perf_counter)

    def count(self, status: str) -> None:
        if status == "ok":
            self.done += 1
        elif status == "failed":
            self.failed += 1
        else:
            self.skipped += 1

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.skipped

    def eta_s(self) -> float | None:
        todo = self.total - self.cached
        if not self.finished or self.finished >= todo:
            return None
        return (time.perf_counter() - self.started) / self.finished * (todo - self.finished)


@dataclass(frozen=True)
class SweepResult:
    jobs: tuple[Job, ...]
    outcomes: tuple[JobOutcome, ...]  # the jobs run this time
    cached: tuple[SweepJobRecord, ...]  # the stored sweep-job records of jobs not run again
    wall_s: float

    @property
    def failed(self) -> bool:
        return any(o.status == "failed" for o in self.outcomes) or any(c.status == "failed" for c in self.cached)


def finished_jobs(store) -> dict[str, SweepJobRecord]:
    """key -> the latest sweep-job record with status 'ok'."""
    return {r.key: r for r in store.results("sweep-job") if r.status == "ok"}


def _is_cached(job: Job, finished: dict[str, SweepJobRecord]) -> bool:
    record = finished.get(job.key)
    if record is None:
        return False
    return job.step != "convert" or bool(record.onnx_path and Path(record.onnx_path).is_file())


def pending_work(
    jobs: list[Job], finished: dict[str, SweepJobRecord], results_dir: Path, *, force: bool, data: str | None, images, eval_options: dict
) -> tuple[list[EntryWork], list[SweepJobRecord]]:
    """(EntryWork per entry with something to run, the finished records of the rest)."""
    by_entry: dict[str, list[Job]] = {}
    cached = []
    for job in jobs:
        if not force and _is_cached(job, finished):
            cached.append(finished[job.key])
        else:
            by_entry.setdefault(job.entry.key, []).append(job)
    works = [
        EntryWork(
            tuple(group),
            conversion_path(results_dir, group[0]),
            predictions=next((predictions_path(results_dir, j) for j in group if j.step == "eval"), None),
            data=data,
            images=images,
            options={"eval": eval_options},
        )
        for group in by_entry.values()
    ]
    return works, cached


def run_sweep(
    jobs: list[Job],
    executor,
    store,
    *,
    force: bool = False,
    data: str | None = None,
    images=None,
    eval_options: dict | None = None,
    on_progress: Callable[[SweepProgress], None] = lambda p: None,
    describe: Callable[[Job, JobOutcome], str] = lambda job, outcome: outcome.message,
) -> SweepResult:
    """Run ``jobs`` not finished in ``store`` on ``executor``, writing each job's records as it
    ends. ``describe`` gives a finished job its message (in its outcome and its stored marker):
    the sweep's own words, or its records rendered (the CLI passes ``reports/sweep_report.job_message``)."""
    from zoocheck.sweep.local import Item

    began = time.perf_counter()
    works, cached = pending_work(
        jobs, finished_jobs(store), store.directory, force=force, data=data, images=images, eval_options=eval_options or {}
    )
    progress = SweepProgress(total=len(jobs), cached=len(cached))
    # by framework, in the registry's order but with the entries of one architecture and input size
    # brought together: a worker's consecutive entries then share one draw of random weights
    # (``weights/random.py`` keeps the last one)
    group = {}
    for w in works:
        group.setdefault((w.jobs[0].entry.arch.id, w.jobs[0].entry.input_size), len(group))
    items = sorted(
        (Item(w.jobs[0].framework, w.jobs[0].entry.source, w) for w in works),
        key=lambda it: (it.framework, group[(it.work.jobs[0].entry.arch.id, it.work.jobs[0].entry.input_size)]),
    )
    outcomes: list[JobOutcome] = []
    by_key = {job.key: job for job in jobs}

    def started(item) -> None:
        progress.running.add(item.work.jobs[0].entry.key)
        on_progress(progress)

    def done(batch: list[JobOutcome]) -> None:
        for outcome in batch:
            outcome = dataclasses.replace(outcome, message=describe(by_key[outcome.key], outcome))
            write_outcome(store, outcome)
            outcomes.append(outcome)
            progress.count(outcome.status)
        if batch:
            progress.running.discard(f"{batch[0].source}/{batch[0].model}")
        on_progress(progress)

    on_progress(progress)
    # entries whose weights could not be found fail here at once: no framework needs to start
    from zoocheck.sweep.work import run_entry

    for item in [it for it in items if it.work.jobs[0].options.get("missing_weights")]:
        items.remove(item)
        done(run_entry(item.work))
    executor.run(items, done, started)
    return SweepResult(tuple(jobs), tuple(outcomes), tuple(cached), time.perf_counter() - began)


def write_outcome(store, outcome: JobOutcome) -> None:
    """The job's records, its failure, its framework log, then its sweep-job marker."""
    for record in outcome.records:
        store.add(record)
    if outcome.failure is not None and outcome.failure not in outcome.records:  # a compare job's failing pair: written once
        store.add(outcome.failure)
    if outcome.log.strip():
        store.add_debug_log(f"sweep {outcome.source}/{outcome.model} {outcome.step}", outcome.log)
    store.add(outcome.record())


__all__ = ["SweepProgress", "SweepResult", "finished_jobs", "pending_work", "run_sweep", "write_outcome"]
