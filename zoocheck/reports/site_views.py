"""The report's view-models: the results store's records gathered into typed views (``gather``),
each number taken from one record, chosen as ``table.build_rows`` chooses it. ``site.py`` renders
them; nothing here renders.

Random-weights results check the pipeline, not the published model: every count is split into
real and random weights, every cell from random weights is marked (``row_statuses``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from zoocheck import __version__
from zoocheck.records import (
    Comparison,
    ConversionRecord,
    Divergence,
    Failure,
    ParityResult,
    SweepJobRecord,
    utc_now,
)
from zoocheck.reports.table import (
    OTHER_WEIGHTS_NOTE,
    Row,
    build_rows,
    shown_records,
    stored_records,
)
from zoocheck.sweep.jobs import CATEGORIES, categorize
from zoocheck.zoo_registry.types import Entry

WEIGHTS = ("real", "random")
#: a row's statuses (the entries page's status filter, the overview's counts), in display order
STATUSES = (
    ("converted", "converted"),
    ("conversion-failed", "conversion failed"),
    ("parity-passed", "parity passed"),
    ("parity-failed", "parity failed"),
    ("parity-error", "parity could not run"),
    ("parity-not-run", "parity not run"),
    ("evaluated", "evaluated"),
    ("compared", "compared"),
    ("sweep-failed", "sweep job failed"),
)
OTHER_CATEGORY = "other"  # a failure whose stored category is not the sweep's taxonomy's


@dataclass(frozen=True)
class Selection:
    """Which entries a report covers: some sources (all by default) and an architecture pattern."""

    sources: tuple[str, ...] = ()
    arch: str | None = None  # an architecture id pattern or family name (zoo_registry.arch_matches)
    keys: tuple[str, ...] = ()  # only these entries ('source/name'), e.g. a sweep's


def slug(text: str) -> str:
    """A file-name- and URL-safe form of an architecture id or entry key."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "_"


# ---------------------------------------------------------------------------------------------
# view-models


@dataclass(frozen=True)
class EntryView:
    row: Row
    entry: Entry | None
    statuses: tuple[str, ...]  # 'converted:real', 'parity-passed:random', 'parity-not-run', ...
    arch_page: str  # 'arch/<slug>.html'
    anchor: str  # the entry's id on its architecture page
    conversion: ConversionRecord | None = None
    parity: ParityResult | None = None

    @property
    def key(self) -> str:
        return f"{self.row.source}/{self.row.model}"

    @property
    def random(self) -> bool:
        return any(s.endswith(":random") for s in self.statuses) or self.row.any_random_weights


@dataclass(frozen=True)
class Count:
    status: str
    label: str
    real: int
    random: int


@dataclass(frozen=True)
class FailureView:
    failure: Failure
    category: str
    random: bool  # the job that failed ran on random weights
    entry_link: str | None  # the entry on its architecture page, when the report has the entry
    peak_rss_bytes: int | None = None  # the failed sweep job's measured peak memory

    @property
    def step(self) -> str:
        return self.failure.step or self.failure.stage


@dataclass(frozen=True)
class DivergenceView:
    number: int
    where: str  # 'parity of timm/resnet50d.a1_in1k' / 'compare of a vs b'
    divergence: Divergence
    random: bool
    node_data: str  # 'nodedata/<n>.json': Model Explorer's node data for the nodes compared
    links: tuple[tuple[str, str], ...]  # (entry key, link) of the entries it is about

    @property
    def agreed(self):
        return self.divergence.node_errors[:-1] if self.divergence.node_errors else ()


@dataclass(frozen=True)
class ArchView:
    id: str
    family: str
    page: str
    entries: tuple[EntryView, ...]
    comparisons: tuple[Comparison, ...]
    divergences: tuple[DivergenceView, ...]
    # the published-vs-measured dot plot: (label, published or None, measured or None) per real-weights entry
    accuracy_points: tuple[tuple[str, float | None, float | None], ...]
    accuracy_range: tuple[float, float]


@dataclass
class Report:
    title: str
    written: str
    version: str
    results_dir: str
    selection: Selection
    entries: list[EntryView]
    counts: list[Count]
    failure_counts: list[Count]
    failures: dict[str, list[FailureView]]  # category -> failures, in the taxonomy's order
    divergences: list[DivergenceView]
    archs: list[ArchView]
    families: list[str]
    sources: list[str]
    first_time: str | None
    last_time: str | None
    versions: dict[str, list[str]]  # package -> the versions the stored results were made with
    random_entries: int  # entries with some result from random weights
    warnings: list[str] = field(default_factory=list)
    plots: dict[str, str] = field(default_factory=dict)  # name -> 'plots/<name>.svg'
    other_weights_note: str = OTHER_WEIGHTS_NOTE


def _weights(random: bool) -> str:
    return "random" if random else "real"


def row_statuses(row: Row, failed_sweep: dict[tuple[str, str], bool]) -> tuple[str, ...]:
    out = []
    if row.conversion == "ok":
        out.append(f"converted:{_weights(row.conversion_random_weights)}")
    elif row.conversion == "failed":
        out.append(f"conversion-failed:{_weights(row.conversion_random_weights)}")
    if row.parity:
        name = {"ok": "parity-passed", "failed": "parity-failed"}.get(row.parity, "parity-error")
        out.append(f"{name}:{_weights(row.parity_random_weights)}")
    else:
        out.append("parity-not-run")
    if row.measured_top1 is not None:
        out.append(f"evaluated:{_weights(row.random_weights)}")
    for random in sorted({c.endswith("(random weights)") for c in row.compared}):
        out.append(f"compared:{_weights(random)}")
    key = (row.source, row.model)
    if key in failed_sweep:
        out.append(f"sweep-failed:{_weights(failed_sweep[key])}")
    return tuple(out)


def _failed_sweeps(jobs: Iterable[SweepJobRecord]) -> dict[tuple[str, str], bool]:
    """(source, model) -> whether its failed latest sweep jobs ran on random weights, for the
    entries whose latest job of some step failed (as the table's sweep column says)."""
    latest: dict[tuple[str, str, str], SweepJobRecord] = {}
    for job in jobs:
        latest[(job.source, job.model, job.step)] = job
    failed: dict[tuple[str, str], bool] = {}
    for (source, model, _), job in latest.items():
        if job.status == "failed":
            failed[(source, model)] = failed.get((source, model), False) or job.random_weights
    return failed


def _current_failures(failures: Iterable[Failure], jobs: Sequence[SweepJobRecord]) -> list[Failure]:
    """The latest failure of each (source, model, step), unless a later sweep job of that step passed."""
    latest: dict[tuple[str, str, str], Failure] = {}
    for f in failures:
        latest[(f.source, f.model, f.step or f.stage)] = f
    passed = {}
    for job in jobs:
        if job.status == "ok":
            passed[(job.source, job.model, job.step)] = max(passed.get((job.source, job.model, job.step), ""), job.time)
    return [f for key, f in latest.items() if passed.get(key, "") <= f.time]


def _failure_random(failure: Failure, jobs_by_key: dict[str, SweepJobRecord]) -> bool:
    job = jobs_by_key.get(failure.job or "")
    return job.random_weights if job is not None else "--random-weights" in failure.command


def _failure_peak(failure: Failure, jobs_by_key: dict[str, SweepJobRecord]) -> int | None:
    job = jobs_by_key.get(failure.job or "")
    return job.peak_rss_bytes if job is not None else None


def _accuracy_points(views: Sequence[EntryView]) -> tuple[tuple, tuple[float, float]]:
    points = []
    for v in views:
        r = v.row
        measured = r.measured_top1 if r.measured_top1 is not None and not (r.random_weights or r.other_weights) else None
        if r.published_top1 is not None or measured is not None:
            points.append((v.key, r.published_top1, measured))
    values = [x for _, p, m in points for x in (p, m) if x is not None]
    lo, hi = (min(values), max(values)) if values else (0.0, 100.0)
    pad = max(0.5, (hi - lo) * 0.1)
    return tuple(points), (max(0.0, lo - pad), min(100.0, hi + pad))


def gather(results_dir: str | Path | None, selection: Selection = Selection(), entries: Sequence[Entry] | None = None) -> Report:
    """The report's view-model of the results store at ``results_dir`` over ``selection``
    (``entries``: the registry's entries by default)."""
    from zoocheck.store import ResultsStore
    from zoocheck.zoo_registry import list_entries

    store = ResultsStore(results_dir)
    records, warnings = stored_records(store)
    read = len(store.skipped_lines)
    all_failures = store.failures()
    warnings = warnings + store.skipped_lines[read:]  # the failure log's unreadable lines
    entries = list(list_entries() if entries is None else entries)
    wanted = set(selection.sources)
    if wanted:
        entries = [e for e in entries if e.source in wanted]
    if selection.keys:
        entries = [e for e in entries if e.key in selection.keys]
    rows = build_rows(entries, records, all_failures, arch=selection.arch)
    if wanted or selection.keys:
        rows = [r for r in rows if (not wanted or r.source in wanted) and (not selection.keys or f"{r.source}/{r.model}" in selection.keys)]
    by_key = {(e.source, e.name): e for e in entries}
    shown = shown_records(records)
    jobs = [r for r in records if isinstance(r, SweepJobRecord)]
    failed_sweep = _failed_sweeps(jobs)
    arch_slugs: dict[str, str] = {}
    for r in rows:
        arch_slugs.setdefault(r.arch, slug(r.arch) if slug(r.arch) not in arch_slugs.values() else f"{slug(r.arch)}-{len(arch_slugs)}")
    views = []
    for r in rows:
        key = (r.source, r.model)
        views.append(
            EntryView(
                row=r,
                entry=by_key.get(key),
                statuses=row_statuses(r, failed_sweep),
                arch_page=f"arch/{arch_slugs[r.arch]}.html",
                anchor=slug(f"{r.source}-{r.model}"),
                conversion=shown.conversions.get(key),
                parity=shown.parities.get(key),
            )
        )
    keys = {v.key: v for v in views}

    def link(key: str, prefix: str = "") -> str | None:
        view = keys.get(key)
        return f"{prefix}{view.arch_page}#{view.anchor}" if view else None

    tally = Counter(s for v in views for s in v.statuses)
    counts = [
        Count(status, label, tally[f"{status}:real"], tally[f"{status}:random"]) for status, label in STATUSES if status != "parity-not-run"
    ]
    counts.insert(5, Count("parity-not-run", "parity not run", tally["parity-not-run"], 0))

    jobs_by_key = {j.key: j for j in jobs}
    failures: dict[str, list[FailureView]] = {c: [] for c in (*CATEGORIES, OTHER_CATEGORY)}
    for f in _current_failures(all_failures, jobs):
        if f"{f.source}/{f.model}" not in keys:
            continue
        category = f.category or categorize(f)
        failures[category if category in failures else OTHER_CATEGORY].append(
            FailureView(f, category, _failure_random(f, jobs_by_key), link(f"{f.source}/{f.model}", ""), _failure_peak(f, jobs_by_key))
        )
    failure_counts = [Count(c, c, sum(not f.random for f in fs), sum(f.random for f in fs)) for c, fs in failures.items() if fs]

    divergences: list[DivergenceView] = []
    arch_divergences: dict[str, list[DivergenceView]] = {}
    for key, parity in sorted(shown.parities.items()):
        view = keys.get(f"{key[0]}/{key[1]}")
        if view is not None and parity.first_divergence is not None:
            d = DivergenceView(
                len(divergences) + 1,
                f"parity of {view.key} ({parity.reference} vs {parity.test})",
                parity.first_divergence,
                parity.random_weights,
                f"nodedata/{len(divergences) + 1}.json",
                ((view.key, link(view.key)),),
            )
            divergences.append(d)
            arch_divergences.setdefault(view.row.arch, []).append(d)
    comparisons = [c for c in records if isinstance(c, Comparison) and (c.a.key in keys or c.b.key in keys)]
    latest_pairs: dict[tuple[str, str, bool], Comparison] = {}
    for c in comparisons:
        latest_pairs[(c.a.key, c.b.key, c.random_weights)] = c
    comparisons = sorted(latest_pairs.values(), key=lambda c: (c.a.arch, c.a.key, c.b.key, c.random_weights))
    for c in comparisons:
        if c.first_divergence is not None:
            d = DivergenceView(
                len(divergences) + 1,
                f"compare of {c.a.key} vs {c.b.key}",
                c.first_divergence,
                c.random_weights,
                f"nodedata/{len(divergences) + 1}.json",
                tuple((k, link(k)) for k in (c.a.key, c.b.key) if k in keys),
            )
            divergences.append(d)
            arch_divergences.setdefault(c.a.arch, []).append(d)

    archs = []
    for arch_id, page in arch_slugs.items():
        members = tuple(v for v in views if v.row.arch == arch_id)
        points, span = _accuracy_points(members)
        archs.append(
            ArchView(
                id=arch_id,
                family=next((v.row.family for v in members if v.row.family), ""),
                page=f"arch/{page}.html",
                entries=members,
                comparisons=tuple(c for c in comparisons if arch_id in (c.a.arch, c.b.arch)),
                divergences=tuple(arch_divergences.get(arch_id, ())),
                accuracy_points=points,
                accuracy_range=span,
            )
        )

    times = sorted(r.time for r in [*records, *all_failures] if getattr(r, "time", None))
    versions: dict[str, set[str]] = {}
    for r in [*records, *all_failures]:
        for package, version in (getattr(r, "versions", None) or {}).items():
            versions.setdefault(package, set()).add(str(version))
    return Report(
        title="zoocheck report",
        written=utc_now(),
        version=__version__,
        results_dir=str(store.directory),
        selection=selection,
        entries=views,
        counts=counts,
        failure_counts=failure_counts,
        failures={c: fs for c, fs in failures.items() if fs},
        divergences=divergences,
        archs=archs,
        families=sorted({v.row.family for v in views if v.row.family}),
        sources=list(dict.fromkeys(v.row.source for v in views)),
        first_time=times[0] if times else None,
        last_time=times[-1] if times else None,
        versions={k: sorted(v) for k, v in sorted(versions.items())},
        random_entries=sum(v.random for v in views),
        warnings=warnings,
    )
