"""Published vs measured: the seed tables rebuilt from the results store, grouped by architecture.

Renders only. Every number comes from a registry entry (published top-1/top-5, parameters and the
page they were published on) or from a stored record (``eval``: measured top-1/top-5;
``conversion``/``parity``: status; ``audit``: measured parameters),
joined on (source, model). One architecture's rows from every zoo sit together.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from zoocheck.records import (
    AuditRecord,
    Comparison,
    ConversionRecord,
    EvalResult,
    Failure,
    PairedEval,
    ParityResult,
    Record,
    SweepJobRecord,
)
from zoocheck.sources import source_names
from zoocheck.zoo_registry import arch_matches, published_at_input_size
from zoocheck.zoo_registry.types import Entry

FORMATS = ("md", "csv", "html")
TEXT_FORMATS = ("md", "csv")  # the html table is the report's table page (reports/site.py)
_CONVERSION_STAGES = {"load", "build", "export", "check"}


@dataclass(frozen=True)
class Row:
    arch: str
    source: str
    model: str
    published_top1: float | None = None
    published_top5: float | None = None
    reference: str = ""
    measured_top1: float | None = None
    measured_top5: float | None = None
    images: int | None = None  # images the measured numbers are over
    random_weights: bool = False  # the measured numbers come from random weights
    conversion: str = ""  # 'ok', 'failed' or '' (not converted)
    parity: str = ""  # 'ok', 'failed', 'error' or ''
    # each cell comes from one record: a real-weights one when there is any, else a random one,
    # marked; real and random results never share a cell
    conversion_random_weights: bool = False
    parity_random_weights: bool = False
    parity_unverified: bool = False  # checked on an ONNX file without zoocheck metadata
    eval_unverified: bool = False
    # from a weights file other than the one the zoo publishes (or not proved to be it): marked,
    # and with no Δ, since the published numbers are not about it
    other_weights: bool = False
    parity_other_weights: bool = False
    params_m_published: float | None = None
    params_m_measured: float | None = None
    sweep: str = ""  # the latest sweep's jobs: 'ok', or 'category (step)' for each failed one
    # `zoocheck compare` verdicts against other entries ('identical timm/resnet50.tv_in1k (random
    # weights)'), the entries the registry records as the same weights first
    compared: tuple[str, ...] = ()
    family: str = ""  # the architecture's family ('resnet', 'mobilenet_v3', ...); '' without an entry
    parity_error: float | None = None  # the parity record's worst max rel err over its inputs
    # the fp16/int8 variants beside the fp32 file: 'int8 parity ok, top-1 -0.40 pass (random weights)'
    variants: tuple[str, ...] = ()

    @property
    def delta_top1(self) -> float | None:
        return _delta(self.measured_top1, self.published_top1, self.random_weights or self.other_weights)

    @property
    def delta_top5(self) -> float | None:
        return _delta(self.measured_top5, self.published_top5, self.random_weights or self.other_weights)

    @property
    def any_random_weights(self) -> bool:
        """Some cell of the row comes from a random-weights run."""
        return self.random_weights or self.conversion_random_weights or self.parity_random_weights

    @property
    def any_other_weights(self) -> bool:
        """Some cell of the row comes from weights other than the published file."""
        return self.other_weights or self.parity_other_weights

    def to_dict(self) -> dict:
        return {
            **asdict(self),
            "delta_top1": self.delta_top1,
            "delta_top5": self.delta_top5,
            "any_random_weights": self.any_random_weights,
            "any_other_weights": self.any_other_weights,
        }


def _delta(measured, published, not_the_published_weights) -> float | None:
    if measured is None or published is None or not_the_published_weights:
        return None
    return measured - published


def _latest(records: Iterable[Record], prefer=lambda r: 0, key=lambda r: (r.source, r.model)) -> dict[tuple[str, str], Record]:
    """(source, model) -> the preferred record, the latest among equals (ISO times sort as text;
    equal times keep their file order)."""
    best: dict[tuple[str, str], tuple] = {}
    by_key = key
    for order, r in enumerate(records):
        key = by_key(r)
        rank = (prefer(r), r.time, order)
        if key not in best or rank >= best[key][0]:
            best[key] = (rank, r)
    return {k: v[1] for k, v in best.items()}


def _sweep_status(jobs: list[SweepJobRecord]) -> dict[tuple[str, str], str]:
    """(source, model) -> 'ok' when the latest job of every step passed, else each failed step's
    'category (step)'; skipped steps (compare, until sweeps run it) are not counted. A sweep on
    random weights is marked, like every other cell."""
    latest: dict[tuple[str, str], dict[str, SweepJobRecord]] = {}
    for job in jobs:
        latest.setdefault((job.source, job.model), {})[job.step] = job
    status = {}
    for key, steps in latest.items():
        failed = [f"{j.category or 'failed'} ({step})" for step, j in steps.items() if j.status == "failed"]
        if failed or any(j.status == "ok" for j in steps.values()):
            random = any(j.random_weights for j in steps.values())
            status[key] = ("; ".join(failed) or "ok") + (" (random weights)" if random else "")
    return status


def _comparisons(comparisons: list[Comparison], same_weights: dict[tuple[str, str], set[str]]) -> dict[tuple[str, str], tuple[str, ...]]:
    """Per entry, the latest verdict against each entry it was compared with (a real-weights
    comparison before a random one), the registry's same-weights partners first."""
    latest: dict[tuple[tuple[str, str], str], Comparison] = {}
    for c in sorted(comparisons, key=lambda c: (not c.random_weights, c.time)):  # real ones last: they win
        for mine, other in ((c.a, c.b), (c.b, c.a)):
            latest[((mine.source, mine.model), other.key)] = c
    cells: dict[tuple[str, str], list[tuple[bool, str, str]]] = {}
    for (key, other), c in latest.items():
        text = f"{c.verdict} {other}" + (" (random weights)" if c.random_weights else "")
        cells.setdefault(key, []).append((other not in same_weights.get(key, set()), other, text))
    return {key: tuple(text for *_, text in sorted(items)) for key, items in cells.items()}


def _real_first(record: Record) -> int:
    """Preference among a model's records: the published weights, then other real weights, then
    random; on a verified file before an unverified one."""
    weights = 0 if record.random_weights else 4 if getattr(record, "published_weights", True) else 2
    return weights + (1 if getattr(record, "onnx_verified", True) else 0)


def _other_weights(record: EvalResult | ParityResult | None) -> bool:
    return record is not None and not record.random_weights and not record.published_weights


def _natural(text: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text))


@dataclass(frozen=True)
class Shown:
    """The one record of each kind a row's cells come from, per (source, model): the published
    weights' before other real weights' before random ones, the latest among equals."""

    evals: dict[tuple[str, str], EvalResult]
    conversions: dict[tuple[str, str], ConversionRecord]
    parities: dict[tuple[str, str], ParityResult]
    params: dict[tuple[str, str], AuditRecord]


def shown_records(records: Iterable[Record]) -> Shown:
    """The fp32 records of each kind a row shows (a variant's are in ``variant_cells``)."""
    records = [r for r in records if getattr(r, "precision", "fp32") == "fp32"]
    by_type = lambda cls: [r for r in records if isinstance(r, cls)]  # noqa: E731
    return Shown(
        evals=_latest(by_type(EvalResult), prefer=_real_first),
        conversions=_latest(by_type(ConversionRecord), prefer=_real_first),
        parities=_latest(by_type(ParityResult), prefer=_real_first),
        params=_latest([r for r in by_type(AuditRecord) if r.quantity == "params_m" and r.measured is not None]),
    )


def variant_cells(records: Iterable[Record]) -> dict[tuple[str, str], tuple[str, ...]]:
    """(source, model) -> one line per variant precision: its parity against the source framework
    and its paired top-1 difference against the fp32 file, from the latest records."""
    records = list(records)
    parities = [r for r in records if isinstance(r, ParityResult) and r.precision != "fp32" and not r.reference.startswith("onnxruntime")]
    paired = [r for r in records if isinstance(r, PairedEval) and r.reference.precision == "fp32" and r.candidate.precision != "fp32"]
    cells: dict[tuple[str, str], dict[str, list[str]]] = {}
    for precision in ("fp16", "int8"):
        for key, par in _latest([r for r in parities if r.precision == precision]).items():
            weights = " (random weights)" if par.random_weights else ""
            cells.setdefault(key, {}).setdefault(precision, []).append(f"parity {par.status}{weights}")
        for key, pair in _latest(
            [r for r in paired if r.candidate.precision == precision], key=lambda r: (r.candidate.source, r.candidate.model)
        ).items():
            weights = " (random weights)" if pair.candidate.random_weights else ""
            cells.setdefault(key, {}).setdefault(precision, []).append(f"top-1 {pair.difference:+.2f} {pair.verdict}{weights}")
    return {key: tuple(f"{precision} {', '.join(parts)}" for precision, parts in found.items()) for key, found in cells.items()}


def stored_records(store) -> tuple[list[Record], list[str]]:
    """The results ``store`` holds that still describe their files, and a warning for each line or
    record left out (an unreadable line; a record whose ONNX file now holds another model)."""
    from zoocheck.identity import record_disowned_by_file

    records, problems = [], []
    for record in store.results():
        why = record_disowned_by_file(record)
        if why is None:
            records.append(record)
        else:
            problems.append(
                f"{store.results_path}: the {record.KIND} record of {record.source}/{record.model} ({record.time or 'no time'}) is left out: {why}"
            )
    return records, store.skipped_lines + problems


def build_rows(
    entries: Iterable[Entry],
    records: Iterable[Record],
    failures: Iterable[Failure] = (),
    arch: str | None = None,
    source: str | None = None,
) -> list[Row]:
    """One row per registry entry, plus one per (source, model) that has records but no entry;
    ``arch``/``source`` filter both (arch: ``zoo_registry.arch_matches``)."""
    records = list(records)
    by_type = lambda cls: [r for r in records if isinstance(r, cls)]  # noqa: E731
    shown = shown_records(records)
    evals, conversions, parities, params = shown.evals, shown.conversions, shown.parities, shown.params
    failed = {(f.source, f.model) for f in failures if f.stage in _CONVERSION_STAGES}
    sweeps = _sweep_status(by_type(SweepJobRecord))
    entries = list(entries)
    compared = _comparisons(by_type(Comparison), {(e.source, e.name): set(e.same_weights_as) for e in entries})
    variants = variant_cells(records)

    def row(src: str, model: str, arch_id: str, entry: Entry | None) -> Row:
        key = (src, model)
        ev, conv, par, audit = evals.get(key), conversions.get(key), parities.get(key), params.get(key)
        pub = published_at_input_size(entry) if entry else None
        return Row(
            arch=arch_id,
            source=src,
            model=model,
            published_top1=pub.top1 if pub else None,
            published_top5=pub.top5 if pub else None,
            reference=pub.reference if pub else "",
            measured_top1=ev.top1 if ev else None,
            measured_top5=ev.top5 if ev else None,
            images=ev.images if ev else None,
            random_weights=ev.random_weights if ev else False,
            conversion=conv.status if conv else ("failed" if key in failed else ""),
            parity=par.status if par else "",
            conversion_random_weights=conv.random_weights if conv else False,
            parity_random_weights=par.random_weights if par else False,
            parity_unverified=not par.onnx_verified if par else False,
            eval_unverified=not ev.onnx_verified if ev else False,
            other_weights=_other_weights(ev),
            parity_other_weights=_other_weights(par),
            params_m_published=pub.params_m if pub else None,
            params_m_measured=audit.measured if audit else None,
            sweep=sweeps.get(key, ""),
            compared=compared.get(key, ()),
            family=entry.arch.family if entry else "",
            parity_error=max((c.max_rel_err for c in par.comparisons), default=None) if par else None,
            variants=variants.get(key, ()),
        )

    rows, seen = [], set()
    for entry in entries:
        seen.add((entry.source, entry.name))
        rows.append(row(entry.source, entry.name, entry.arch.id, entry))
    arch_of = {k: r.arch for k, r in {**conversions, **evals}.items() if r.arch}
    for key in sorted({*evals, *conversions, *parities} - seen):
        rows.append(row(key[0], key[1], arch_of.get(key) or "?", None))
    if arch:
        table_family = {(e.source, e.name): e.table_family for e in entries}
        rows = [r for r in rows if arch_matches(arch, r.arch, r.family, table_family.get((r.source, r.model), ""))]
    if source:
        rows = [r for r in rows if r.source == source]
    order = {s: i for i, s in enumerate(source_names())}
    return sorted(rows, key=lambda r: (_natural(r.arch), order.get(r.source, len(order)), r.model.lower()))


# ---------------------------------------------------------------------------------------------
# formatting


def _pct(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "-"
    return f"{x:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{x:.0f}"


def _signed(x: float | None) -> str:
    return "-" if x is None else f"{x:+.2f}"


def _params(row: Row) -> str:
    measured = "-" if row.params_m_measured is None else f"{row.params_m_measured:.2f}"
    published = "-" if row.params_m_published is None else f"{row.params_m_published:g}"
    return f"{measured} / {published}"


def _measured(x: float | None, row: Row) -> str:
    return "-" if x is None else _status(f"{x:.3f}", row.random_weights, row.eval_unverified, row.other_weights)


def _status(status: str, random_weights: bool, unverified: bool = False, other_weights: bool = False) -> str:
    if not status:
        return "-"
    marks = [m for m, on in (("random weights", random_weights), ("other weights", other_weights), ("unverified file", unverified)) if on]
    return f"{status} ({', '.join(marks)})" if marks else status


COLUMNS = (
    ("arch", "architecture"),
    ("source", "source"),
    ("model", "model"),
    ("published_top1", "published top-1"),
    ("published_top5", "published top-5"),
    ("measured_top1", "measured top-1"),
    ("measured_top5", "measured top-5"),
    ("delta_top1", "Δ top-1"),
    ("delta_top5", "Δ top-5"),
    ("images", "images"),
    ("conversion", "conversion"),
    ("parity", "parity"),
    ("sweep", "sweep"),
    ("compared", "compared with"),
    ("variants", "fp16 / int8"),
    ("params", "params M (measured / published)"),
    ("reference", "reference"),
)


def _cells(row: Row) -> list[str]:
    return [
        row.arch,
        row.source,
        row.model,
        _pct(row.published_top1),
        _pct(row.published_top5),
        _measured(row.measured_top1, row),
        _measured(row.measured_top5, row),
        _signed(row.delta_top1),
        _signed(row.delta_top5),
        "-" if row.images is None else str(row.images),
        _status(row.conversion, row.conversion_random_weights),
        _status(row.parity, row.parity_random_weights, row.parity_unverified, row.parity_other_weights),
        row.sweep or "-",
        "; ".join(row.compared) or "-",
        "; ".join(row.variants) or "-",
        _params(row),
        row.reference or "-",
    ]


OTHER_WEIGHTS_NOTE = "Cells marked (other weights) come from a weights file that is not proved to be the one the zoo publishes: they are not the published model's numbers, and have no Δ."


def render_markdown(rows: list[Row]) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(title for _, title in COLUMNS) + " |", "|" + "|".join(" --- " for _ in COLUMNS) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in _cells(r)) + " |" for r in rows]
    if any(r.any_random_weights for r in rows):
        lines += ["", "Cells marked (random weights) check the pipeline only, not the published model."]
    if any(r.any_other_weights for r in rows):
        lines += ["", OTHER_WEIGHTS_NOTE]
    return "\n".join(lines) + "\n"


CSV_FIELDS = (
    "arch", "family", "source", "model", "published_top1", "published_top5", "measured_top1", "measured_top5", "delta_top1",
    "delta_top5", "images", "random_weights", "conversion", "conversion_random_weights", "parity", "parity_error", "parity_random_weights",
    "parity_unverified", "eval_unverified", "other_weights", "parity_other_weights", "any_random_weights", "any_other_weights", "sweep", "compared", "variants", "params_m_measured", "params_m_published", "reference",
)  # fmt: skip


def render_csv(rows: list[Row]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        d = {**r.to_dict(), "compared": "; ".join(r.compared), "variants": "; ".join(r.variants)}
        writer.writerow({k: "" if d[k] is None else d[k] for k in CSV_FIELDS})
    return buf.getvalue()


def render(rows: list[Row], fmt: str) -> str:
    if fmt == "md":
        return render_markdown(rows)
    if fmt == "csv":
        return render_csv(rows)
    raise ValueError(
        f"unknown table format {fmt!r}: this module writes {', '.join(TEXT_FORMATS)}; html is the report's table page (reports.site.render_table_page)"
    )


__all__ = [
    "CSV_FIELDS",
    "FORMATS",
    "OTHER_WEIGHTS_NOTE",
    "Row",
    "Shown",
    "TEXT_FORMATS",
    "build_rows",
    "render",
    "render_csv",
    "render_markdown",
    "shown_records",
    "stored_records",
]
