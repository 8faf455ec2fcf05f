"""Terminal rendering of conversion and parity results (rich). Renders only; computes nothing."""

from __future__ import annotations

from zoocheck.records import ParityResult
from zoocheck.reports.lines import parity_line, tolerance_line

RANDOM_WEIGHTS_BANNER = "RANDOM WEIGHTS: no real weights were loaded; these numbers check the conversion path only, not the published model"


def _fmt(x: float) -> str:
    return f"{x:.3g}" if x == x else "nan"


def parity_table(result: ParityResult):
    from rich.table import Table

    title = f"{result.source}/{result.model}: {result.reference} vs {result.test}"
    table = Table(title=title, title_justify="left")
    for column in (
        "input",
        "max abs err",
        "max rel err",
        "cosine",
        f"top-1 {result.reference}",
        f"top-1 {result.test}",
        "top-5 overlap",
        "verdict",
    ):
        table.add_column(column, justify="left" if column in ("input", "verdict") else "right")
    for c in result.comparisons:
        problems = result.tolerance.violations(c)
        table.add_row(
            c.input,
            _fmt(c.max_abs_err),
            _fmt(c.max_rel_err),
            f"{c.cosine:.6f}",
            str(c.top1_reference),
            str(c.top1_test),
            f"{c.top5_overlap}/5",
            "[red]" + "; ".join(problems) + "[/red]" if problems else "[green]ok[/green]",
        )
    return table


def print_parity(console, result: ParityResult) -> None:
    if result.random_weights:
        console.print(f"[bold yellow]{RANDOM_WEIGHTS_BANNER}[/bold yellow]")
    if result.comparisons:
        console.print(parity_table(result))
        t = result.tolerance
        console.print(f"tolerance: {tolerance_line(t)}")
        agreement = t.agreement_violation(result.comparisons)
        if agreement:
            console.print(f"[red]{agreement}[/red]")
    for path, reason in result.skipped:
        console.print(f"skipped {path}: {reason}", markup=False)
    if not result.onnx_verified:
        console.print(
            f"[bold yellow]UNVERIFIED: {result.onnx_path} carries no zoocheck metadata; which model and weights it holds is not proved[/bold yellow]"
        )
    console.print(parity_line(result), markup=False)


def print_variant(console, outcome) -> None:
    """One line for a variant made (``checks.variants.VariantOutcome``), and its calibration warning."""
    if outcome.warning:
        console.print(f"[bold yellow]warning: {outcome.warning}[/bold yellow]")
    if outcome.record is None:
        console.print(f"VARIANT ERROR {outcome.failure.one_line()}", markup=False)
        return
    variant = outcome.record.variant
    calibrated = f", calibrated on {variant.calibration.images} images" if variant.calibration else ""
    console.print(
        f"wrote {outcome.path} (+ {outcome.path.name}.json): {variant.precision} variant of {variant.fp32_file.name}{calibrated}",
        markup=False,
    )
