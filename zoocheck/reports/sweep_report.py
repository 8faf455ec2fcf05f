"""Rendering of a sweep: the live progress line on stderr and the summary table. Renders only."""

from __future__ import annotations

import sys

from zoocheck.records import Comparison, EvalResult, PairedEval, ParityResult
from zoocheck.reports.lines import divergence_line, eval_line, parity_line
from zoocheck.sweep.jobs import CATEGORIES


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def progress_line(progress) -> str:
    running = sorted(progress.running)
    shown = ", ".join(running[:2]) + (f" +{len(running) - 2}" if len(running) > 2 else "")
    return (
        f"sweep: {progress.finished + progress.cached}/{progress.total} jobs "
        f"({progress.done} done, {progress.failed} failed, {progress.cached} cached, {len(running)} running"
        + (f": {shown}" if running else "")
        + f") ETA {_duration(progress.eta_s())}"
    )


class ProgressPrinter:
    """One updating line on a terminal; one line per change when stderr is a file or a pipe."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.last = ""

    def __call__(self, progress) -> None:
        line = progress_line(progress)
        if line == self.last:
            return
        self.last = line
        if self.tty:
            self.stream.write("\r\x1b[K" + line[:200])
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.last:
            self.stream.write("\n")
            self.stream.flush()


def job_message(job, outcome) -> str:
    """A finished job's message (its row in the summary, its stored marker's ``message``): what
    the sweep said, or where its records speak for it, their lines: each parity result's; the
    evaluation's and each variant's paired verdict; one per partner compared (``job``'s order)."""
    if outcome.message:
        return outcome.message
    records = outcome.records
    if outcome.step == "parity":
        return "; ".join(parity_line(r) for r in records if isinstance(r, ParityResult))
    if outcome.step == "eval":
        evaluation = next(r for r in records if isinstance(r, EvalResult))
        paired = [f"{p.candidate.precision} top-1 {p.difference:+.3f} points: {p.verdict}" for p in records if isinstance(p, PairedEval)]
        return "; ".join([eval_line(evaluation), *paired])
    if outcome.step == "compare":
        partners = [p["key"] for p in job.options.get("partners", ())]
        return "; ".join(_pair_line(key, record) for key, record in zip(partners, records))
    return ""


def _pair_line(partner: str, record) -> str:
    if not isinstance(record, Comparison):  # the Failure that kept the pair from being compared
        return f"not compared with {partner}: {record.one_line()}"
    where = f" ({divergence_line(record.first_divergence)})" if record.first_divergence is not None else ""
    return f"{record.verdict} with {partner}{where}"


def gib(size: int | None) -> str:
    """A byte count in GiB, or '-' where nothing was measured."""
    return "-" if size is None else f"{size / 2**30:.2f}"


def summary_rows(result) -> list[tuple[str, str, str, str, str, str, str]]:
    """(entry, step, status, category, seconds, peak memory in GiB, message) per job: this run's,
    then the cached (their peak from the run that did them)."""
    rows = [
        (
            f"{o.source}/{o.model}",
            o.step,
            o.status,
            o.failure.category if o.failure else "",
            f"{o.seconds:.1f}",
            gib(o.peak_rss_bytes),
            o.message,
        )
        for o in result.outcomes
    ]
    rows += [
        (f"{c.source}/{c.model}", c.step, f"{c.status} (cached)", c.category or "", "-", gib(c.peak_rss_bytes), c.message)
        for c in result.cached
    ]
    return rows


def print_summary(console, result) -> None:
    from rich.table import Table

    table = Table(title="sweep", title_justify="left")
    for column in ("entry", "step", "status", "failure", "s", "peak GiB", "message"):
        table.add_column(column, overflow="fold")
    for row in summary_rows(result):
        table.add_row(*row)
    console.print(table)
    statuses = [o.status for o in result.outcomes]
    categories = [o.failure.category for o in result.outcomes if o.failure]
    by_category = ", ".join(f"{categories.count(c)} {c}" for c in CATEGORIES if c in categories)
    console.print(
        f"{len(result.jobs)} jobs: {statuses.count('ok')} ok, {statuses.count('failed')} failed"
        + (f" ({by_category})" if by_category else "")
        + f", {statuses.count('skipped')} skipped, {len(result.cached)} cached from earlier runs; {_duration(result.wall_s)}",
        markup=False,
    )


__all__ = ["ProgressPrinter", "gib", "job_message", "print_summary", "progress_line", "summary_rows"]
