"""``zoocheck report``: the results store as a static site (no server, no network).

Renders only: the view-models ``site_views.gather`` builds from the store's records, through
Jinja2 templates (``reports/templates/``) into pages and matplotlib (``reports/plots.py``) into SVG
plots. Every page holds its style and script inline; plots and Model Explorer node-data files lie
beside the pages, so the folder opens from the file system or any static host.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from zoocheck.records import Divergence
from zoocheck.reports.lines import fp32_yardstick
from zoocheck.reports.site_views import STATUSES, WEIGHTS, EntryView, Report, Selection, gather, row_statuses
from zoocheck.reports.table import OTHER_WEIGHTS_NOTE, Row
from zoocheck.sweep.jobs import CATEGORIES
from zoocheck.zoo_registry.types import Entry

#: the file in a report folder saying zoocheck wrote it (a folder without it is never replaced)
MARKER = ".zoocheck-report"


# ---------------------------------------------------------------------------------------------
# Model Explorer's node data


#: node backgrounds: within the tolerance, beyond it
_AGREE, _DIVERGE = "#c8e6c9", "#ef9a9a"


def node_data(divergence: Divergence) -> dict:
    """Model Explorer's node data for one graph (``GraphNodeData``: ``results`` by output tensor
    name, each ``{"value": ...}``, and ``thresholds``): every node compared up to the first
    divergence with its max relative error, coloured by the tolerance, the diverging node red."""
    results = {e.output: {"value": e.max_rel_err} for e in divergence.node_errors}
    results.setdefault(divergence.output, {"value": divergence.max_rel_err})
    results[divergence.output] = {**results[divergence.output], "bgColor": _DIVERGE}
    top = max(divergence.tolerance, *(r["value"] for r in results.values()))
    return {"results": results, "thresholds": [{"value": divergence.tolerance, "bgColor": _AGREE}, {"value": top, "bgColor": _DIVERGE}]}


# ---------------------------------------------------------------------------------------------
# rendering


def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("zoocheck.reports", "templates"),
        autoescape=jinja2.select_autoescape(["html", "svg"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=_num, pct=_pct, signed=_signed, sci=_sci, fp32_yardstick=fp32_yardstick)
    env.globals.update(CATEGORIES=CATEGORIES, STATUSES=STATUSES, WEIGHTS=WEIGHTS)
    return env


def _num(x, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _pct(x) -> str:
    return "-" if x is None else f"{x:.3f}".rstrip("0").rstrip(".")


def _signed(x) -> str:
    return "-" if x is None else f"{x:+.2f}"


def _sci(x) -> str:
    return "-" if x is None else f"{x:.3g}"


def render_table_page(rows: Sequence[Row], title: str = "zoocheck: published vs measured ImageNet-1k accuracy") -> str:
    """The report's entries page for ``rows`` on its own (``zoocheck table --format html``): the
    same table, sort and filters, without the links to the report's other pages."""
    views = [EntryView(row=r, entry=None, statuses=row_statuses(r, {}), arch_page="", anchor="") for r in rows]
    return (
        _environment()
        .get_template("entries.html")
        .render(
            title=title,
            views=views,
            families=sorted({r.family for r in rows if r.family}),
            sources=list(dict.fromkeys(r.source for r in rows)),
            standalone=True,
            root="",
            other_weights_note=OTHER_WEIGHTS_NOTE,
        )
    )


def _write_site(report: Report, folder: Path) -> None:
    from zoocheck.reports import plots

    env = _environment()
    (folder / "arch").mkdir(parents=True)
    (folder / "plots").mkdir()
    (folder / "nodedata").mkdir()
    report.plots = plots.write_plots(report, folder / "plots")
    common = {"report": report, "standalone": False}
    pages = {
        "index.html": ("overview.html", {}),
        "entries.html": (
            "entries.html",
            {"title": "entries", "views": report.entries, "families": report.families, "sources": report.sources},
        ),
        "failures.html": ("failures.html", {}),
        "divergences.html": ("divergences.html", {}),
        "architectures.html": ("architectures.html", {}),
    }
    for name, (template, context) in pages.items():
        (folder / name).write_text(
            env.get_template(template).render(root="", **common, other_weights_note=OTHER_WEIGHTS_NOTE, **context), encoding="utf-8"
        )
    arch_template = env.get_template("arch.html")
    for arch in report.archs:
        (folder / arch.page).write_text(arch_template.render(root="../", arch=arch, **common), encoding="utf-8")
    for d in report.divergences:
        (folder / d.node_data).write_text(json.dumps(node_data(d.divergence), indent=1), encoding="utf-8")
    (folder / MARKER).write_text(f"written by zoocheck {report.version} at {report.written}\n", encoding="utf-8")


def check_output(output: Path) -> None:
    """BadInput unless ``output`` is new, an empty folder or an earlier report (never replace a
    folder of someone else's files)."""
    from zoocheck.errors import BadInput

    if output.exists() and (not output.is_dir() or (any(output.iterdir()) and not (output / MARKER).is_file())):
        raise BadInput(f"{output}: exists and is not a zoocheck report; give a new or empty folder, or an earlier report's")


def write_report(
    results_dir: str | Path | None, output_dir: str | Path, selection: Selection = Selection(), *, entries: Sequence[Entry] | None = None
) -> Path:
    """Write the report of the results store at ``results_dir`` into ``output_dir`` and return
    its overview page. The site is written beside ``output_dir`` and moved in whole; an existing
    ``output_dir`` is replaced only when it is empty or an earlier zoocheck report."""
    output = Path(output_dir)
    check_output(output)
    report = gather(results_dir, selection, entries)
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        _write_site(report, staging)
        staging.chmod(0o755)
        old = None
        if output.exists():
            old = output.with_name(f"{staging.name}.old")
            output.rename(old)
        staging.rename(output)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return output / "index.html"


__all__ = ["MARKER", "check_output", "node_data", "render_table_page", "write_report"]
