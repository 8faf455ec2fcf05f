"""Terminal rendering of evaluations and paired comparisons (rich). Renders only; computes nothing."""

from __future__ import annotations

from zoocheck.records import EvalResult, PairedEval
from zoocheck.reports.lines import eval_line, paired_line
from zoocheck.reports.parity_report import RANDOM_WEIGHTS_BANNER


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_eval(out, result: EvalResult, results_path, interval: float | None = None) -> None:
    """An evaluation's table, skipped images, notes and summary line; ``interval``: the half-width
    of the top-1's confidence interval a subsample buys."""
    from rich.table import Table

    if result.random_weights:
        out.print(f"[bold yellow]{RANDOM_WEIGHTS_BANNER}[/bold yellow]")
    precision = "" if result.precision == "fp32" else f" {result.precision}"
    table = Table(
        title=f"{result.source}/{result.model}{precision} ({result.backend}) on {result.dataset['layout']} {result.dataset['root']}",
        title_justify="left",
    )
    columns = ["top-1 %", "top-5 %"] + (["ReaL top-1 %"] if result.real_top1 is not None else []) + ["images", "skipped", "time", "img/s"]
    for column in columns:
        table.add_column(column, justify="right")
    real = [_fmt(result.real_top1)] if result.real_top1 is not None else []
    table.add_row(
        _fmt(result.top1),
        _fmt(result.top5),
        *real,
        str(result.images),
        str(len(result.skipped)),
        f"{result.time_s:.1f} s",
        f"{result.throughput:.1f}",
    )
    out.print(table)
    for skipped in result.skipped[:10]:
        out.print(f"skipped {skipped.path}: {skipped.reason}", markup=False)
    if len(result.skipped) > 10:
        out.print(f"... and {len(result.skipped) - 10} more skipped images (listed in {results_path})", markup=False)
    notes = []
    if result.resumed_images:
        notes.append(f"{result.resumed_images} images resumed from an interrupted run")
    if result.cached_images:
        notes.append(f"{result.cached_images} crops from the preprocessed cache")
    if result.subsample is not None:
        bought = f": top-1 known to +/- {interval:.2f} points (95%)" if interval is not None else ""
        notes.append(f"a subsample of {result.images} of {result.dataset.get('evaluated_from', '?')} images (every k-th){bought}")
    if notes:
        out.print("; ".join(notes), markup=False)
    if result.predictions:
        out.print(f"per-image predictions: {result.predictions}", markup=False)
    out.print(eval_line(result), markup=False)


def print_paired(out, paired: PairedEval) -> None:
    """The paired comparison: both sides, the difference with its interval and test, the flips, the verdict."""
    from rich.table import Table

    a, b = paired.reference, paired.candidate
    table = Table(title=f"paired on {paired.images} images (the same ones)", title_justify="left")
    for column in ("model", "precision", "top-1 %", "top-5 %", "ReaL top-1 %", "predictions"):
        table.add_column(column, justify="left" if column in ("model", "precision", "predictions") else "right")
    for side in (a, b):
        table.add_row(
            f"{side.source}/{side.model}", side.precision, _fmt(side.top1), _fmt(side.top5), _fmt(side.real_top1), side.predictions
        )
    out.print(table)
    out.print(
        f"difference (candidate - reference): top-1 {paired.difference:+.3f}, top-5 {paired.top5_difference:+.3f} points"
        + (f", ReaL top-1 {paired.real_difference:+.3f}" if paired.real_difference is not None else ""),
        markup=False,
    )
    out.print(
        f"images flipped: {paired.reference_only} right -> wrong, {paired.candidate_only} wrong -> right; exact McNemar p = {paired.mcnemar_p:.3g}",
        markup=False,
    )
    if paired.flipped_to_wrong:
        out.print(f"lost (first {len(paired.flipped_to_wrong)}): {', '.join(paired.flipped_to_wrong)}", markup=False)
    if paired.flipped_to_right:
        out.print(f"gained (first {len(paired.flipped_to_right)}): {', '.join(paired.flipped_to_right)}", markup=False)
    out.print(
        f"{paired.confidence:.0%} bootstrap interval of the top-1 difference ({paired.bootstrap_samples} resamplings): "
        f"{paired.ci_low:+.3f} .. {paired.ci_high:+.3f} points",
        markup=False,
    )
    out.print(paired_line(paired), markup=False)
