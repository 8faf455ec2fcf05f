"""The report's plots, drawn by matplotlib into SVG files (no pyplot, no display): parity error per
entry, published vs measured top-1 per family, failures by category. Real- and random-weights
results are never drawn on one axis. matplotlib is imported only here, when a report is written."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

_PASS, _FAIL, _RANDOM = "#2e7d32", "#c62828", "#8d6e63"
_STYLE = {"svg.fonttype": "none", "svg.hashsalt": "zoocheck", "font.size": 9}  # text as text; ids stable between runs


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _save(fig, path: Path) -> None:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context(_STYLE):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    path.write_text(buf.getvalue(), encoding="utf-8")


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#555")
    ax.set_xticks([])
    ax.set_yticks([])


def _one_axes(path: Path, size: tuple[float, float], title: str, *, empty: str | None):
    """A figure of ``size`` inches with one axes titled ``title``, as (figure, axes); where
    ``empty`` (why there is nothing to draw) is given, the axes says it, the figure is saved to
    ``path`` and None is returned."""
    fig = _figure(*size)
    ax = fig.subplots()
    ax.set_title(title, loc="left")
    if empty is not None:
        _empty(ax, empty)
        _save(fig, path)
        return None
    return fig, ax


def parity_errors(entries: Sequence, path: Path) -> None:
    """Each entry's parity error (its worst input's max |diff| over the logit range), sorted, on a
    log scale with its tolerance; one panel per kind of weights."""
    panels = [
        (
            w,
            sorted(
                (
                    v
                    for v in entries
                    if v.parity is not None and v.row.parity_error is not None and v.parity.random_weights == (w == "random")
                ),
                key=lambda v: v.row.parity_error,
            ),
        )
        for w in ("real", "random")
    ]
    panels = [p for p in panels if p[1]] or [("real", [])]
    fig = _figure(7.5, 2.6 * len(panels))
    for ax, (weights, views) in zip(fig.subplots(len(panels), 1, squeeze=False)[:, 0], panels):
        ax.set_title(f"parity error per entry, {weights} weights ({len(views)} entries)", loc="left")
        if not views:
            _empty(ax, "no parity result yet")
            continue
        floor = 1e-12  # an exact match drawn at the floor of the log axis
        values = [max(v.row.parity_error, floor) for v in views]
        colours = [_PASS if v.row.parity == "ok" else _FAIL for v in views]
        ax.scatter(range(len(views)), values, c=colours, s=14, zorder=3)
        for tolerance in sorted({v.parity.tolerance.max_rel_err for v in views}):
            ax.axhline(tolerance, color="#555", linestyle="--", linewidth=1)
            ax.annotate(f"tolerance {tolerance:g}", (0, tolerance), textcoords="offset points", xytext=(2, 3), color="#555")
        ax.set_yscale("log")
        ax.set_ylabel("max rel err")
        if len(views) <= 30:
            ax.set_xticks(range(len(views)), [v.key for v in views], rotation=60, ha="right", fontsize=7)
        else:
            ax.set_xlabel("entries, sorted by parity error")
            ax.set_xticks([])
        ax.grid(axis="y", alpha=0.3)
    _save(fig, path)


def accuracy(entries: Sequence, path: Path) -> None:
    """Published (x) against measured (y) top-1 of every entry measured with the published
    weights, one colour per family; the diagonal is where they agree."""
    points = [
        v
        for v in entries
        if v.row.published_top1 is not None and v.row.measured_top1 is not None and not (v.row.random_weights or v.row.other_weights)
    ]
    drawn = _one_axes(
        path,
        (5.5, 4.6),
        "published vs measured top-1, real weights",
        empty=None if points else "no entry has a published and a real-weights measured top-1 yet",
    )
    if drawn is None:
        return
    fig, ax = drawn
    values = [x for v in points for x in (v.row.published_top1, v.row.measured_top1)]
    lo, hi = min(values) - 0.5, max(values) + 0.5
    ax.plot([lo, hi], [lo, hi], color="#bbb", linestyle="--", linewidth=1)
    for family in sorted({v.row.family or "?" for v in points}):
        members = [v for v in points if (v.row.family or "?") == family]
        collection = ax.scatter(
            [v.row.published_top1 for v in members], [v.row.measured_top1 for v in members], s=18, label=family, zorder=3
        )
        collection.set_gid(f"family-{family}")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("published top-1 (%)")
    ax.set_ylabel("measured top-1 (%)")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    _save(fig, path)


def failures(counts: Sequence, path: Path) -> None:
    """Failures by the sweep's taxonomy: real- and random-weights runs as separate bars."""
    drawn = _one_axes(path, (6.5, 2.8), "failures by category", empty=None if counts else "no failure recorded")
    if drawn is None:
        return
    fig, ax = drawn
    x = range(len(counts))
    ax.bar([i - 0.2 for i in x], [c.real for c in counts], width=0.4, color=_FAIL, label="real weights")
    ax.bar([i + 0.2 for i in x], [c.random for c in counts], width=0.4, color=_RANDOM, label="random weights")
    ax.set_xticks(list(x), [c.label for c in counts], rotation=20, ha="right")
    ax.set_ylabel("failures")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=7)
    _save(fig, path)


def write_plots(report, folder: Path) -> dict[str, str]:
    """Every plot of ``report`` into ``folder``; name -> path relative to the report's root."""
    drawn = {
        "parity-errors": lambda p: parity_errors(report.entries, p),
        "accuracy": lambda p: accuracy(report.entries, p),
        "failures": lambda p: failures(report.failure_counts, p),
    }
    paths = {}
    for name, draw in drawn.items():
        draw(folder / f"{name}.svg")
        paths[name] = f"{folder.name}/{name}.svg"
    return paths


__all__ = ["accuracy", "failures", "parity_errors", "write_plots"]
