"""What each command does, as library functions: run the checks, store their records, return them.

The CLI parses its options, calls one of these, and renders what it returns; a script using
zoocheck as a library calls the same functions and gets the same records in the same store.
None of them prints. A model's failure is returned (and stored) as a record, never raised;
unusable input raises ``ValueError`` subclasses whose message names the file and the fix.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from zoocheck.checks.variants import VariantOutcome, make_variant, variant_parity
from zoocheck.converters.pipeline import DEFAULT_OPSET, Conversion, convert
from zoocheck.identity import onnx_metadata
from zoocheck.records import AuditRecord, Comparison, Failure, LibraryPreprocessCheck, ParityResult, Tolerance
from zoocheck.store import ResultsStore
from zoocheck.zoo_registry.types import Entry

# --- convert ---------------------------------------------------------------------------------


def default_onnx_path(store: ResultsStore, entry: Entry, random_seed: int | None = None) -> Path:
    """Where a conversion goes when no output is named: <results>/onnx/<source>/<model>.onnx, or
    <model>.random-seed<N>.onnx, so random-weights runs never replace a real-weights file."""
    name = entry.name if random_seed is None else f"{entry.name}.random-seed{random_seed}"
    return store.directory / "onnx" / entry.source / f"{name}.onnx"


def convert_entry(
    entry: Entry,
    store: ResultsStore,
    *,
    weights: Path | None,
    random_seed: int | None,
    output: Path | None = None,
    opset: int | None = None,
    on_stage: Callable[[str], None] | None = None,
    graph: str | None = None,
) -> Conversion:
    """Convert ``entry`` (to ``output``, default ``default_onnx_path``) in an isolated child and
    store the conversion record, and the failure when there is one (an unusable input file says
    nothing about the model: then the failure only). ``on_stage`` hears each stage as it starts;
    ``graph`` is the graph form (``pipeline.convert``)."""
    conversion = convert(
        entry,
        output=output or default_onnx_path(store, entry, random_seed),
        weights=weights,
        random_seed=random_seed,
        opset=opset or DEFAULT_OPSET,
        on_stage=on_stage,
        graph=graph,
    )
    _store_conversion(store, conversion)
    return conversion


def _store_conversion(store: ResultsStore, conversion: Conversion) -> None:
    if conversion.failure is None or not conversion.failure.bad_input:
        store.add(conversion.record())
    if conversion.failure is not None:
        store.add(conversion.failure)


def variant_of_file(
    fp32_path: Path, precision: str, store: ResultsStore, *, output: Path | None = None, calibration: Path | None = None
) -> VariantOutcome:
    """``variants.make_variant`` of a zoocheck fp32 file, its record (or failure) stored."""
    outcome = make_variant(fp32_path, precision, output=output, calibration_folder=calibration)
    store.add(outcome.record or outcome.failure)
    return outcome


# --- parity ----------------------------------------------------------------------------------

StageCallback = Callable[[str], None]


@contextlib.contextmanager
def _unwatched(entry: Entry) -> Iterator[StageCallback | None]:
    yield None


@dataclass(frozen=True)
class ModelRun:
    """One model to check, the weights to check it with (None: seeded random weights) and where
    its conversion goes (None: ``default_onnx_path``)."""

    entry: Entry
    weights: Path | None
    random_seed: int | None
    output: Path | None = None


def parity_runs(
    runs: Sequence[ModelRun],
    store: ResultsStore,
    *,
    onnx_path: Path | None = None,
    images: Sequence[Path] | None = None,
    tolerance: Tolerance | None = None,
    opset: int | None = None,
    graph: str | None = None,
    allow_unverified_onnx: bool = False,
    watch: Callable[[Entry], AbstractContextManager[StageCallback]] | None = None,
    on_result: Callable[[ParityResult, Conversion], None] | None = None,
    precision: str = "fp32",
    calibration: Path | None = None,
    on_variant: Callable[[VariantOutcome], None] | None = None,
) -> list[ParityResult]:
    """Source framework vs onnxruntime for each run, one after another, each framework forward in
    its own child: a crash in one never loses the others' results. Converts each to its run's
    output unless ``onnx_path`` names an existing file to check (one run only).
    Stores every conversion, parity result and failure (for an unusable input file the failure
    only: it says nothing about the model). ``watch(entry)`` is entered around each
    model and yields the callback told each stage; ``on_result`` sees each result as it comes.
    ``tolerance`` None: the tolerance of the file's precision.

    ``precision`` fp16/int8: each converted file's variant is made (int8 calibrated on the images
    in ``calibration``, default the bundled photographs) and checked against the source framework
    and against the fp32 file, both with the precision's tolerance; ``on_variant`` sees each
    variant made. An existing ``onnx_path`` that is a variant is checked the same two ways."""
    from zoocheck.checks.parity import check_parity

    if len(runs) > 1 and onnx_path:
        raise ValueError(f"an existing ONNX file is one model's; {len(runs)} were given")
    results = []
    for run in runs:
        with (watch or _unwatched)(run.entry) as on_stage:
            result, conversion = check_parity(
                run.entry,
                weights=run.weights,
                random_seed=run.random_seed,
                output=None if onnx_path else run.output or default_onnx_path(store, run.entry, run.random_seed),
                onnx_path=onnx_path,
                images=images,
                tolerance=tolerance,
                opset=opset,
                on_stage=on_stage,
                graph=graph,
                allow_unverified_onnx=allow_unverified_onnx,
            )
        if result.failure is None or not result.failure.bad_input:
            if onnx_path is None:
                store.add(conversion.record())
            store.add(result)
        if result.failure is not None:
            store.add(result.failure)
        results.append(result)
        if on_result:
            on_result(result, conversion)
        variant = onnx_path if onnx_path is not None and result.precision != "fp32" else None
        if precision != "fp32" and onnx_path is None and conversion.ok:
            outcome = variant_of_file(conversion.onnx_path, precision, store, calibration=calibration)
            if on_variant:
                on_variant(outcome)
            variant = outcome.path if outcome.record else None
        if variant is not None:
            checked = onnx_path is not None  # an existing variant's run above was against the framework
            results.extend(
                _variant_parity(run, Path(variant), store, images, tolerance, opset, graph, on_result, framework_checked=checked)
            )
    return results


def _variant_parity(
    run: ModelRun, variant: Path, store: ResultsStore, images, tolerance, opset, graph, on_result, *, framework_checked: bool
) -> list[ParityResult]:
    """``variants.variant_parity`` of a run's variant, each result stored and shown (``on_result``
    gets the conversion of the framework check, none for the fp32 comparison)."""
    found = variant_parity(
        run.entry,
        run.weights,
        run.random_seed,
        variant,
        images=images,
        tolerance=tolerance,
        opset=opset,
        graph=graph,
        framework_checked=framework_checked,
    )
    for result, conversion in found:
        store.add(result)
        if on_result:
            on_result(result, conversion)
    return [result for result, _ in found]


# --- audit -----------------------------------------------------------------------------------


def audit_entries(entries: Iterable[Entry], store: ResultsStore | None = None) -> list[AuditRecord]:
    """Published params / MACs of ``entries`` against the counts measured on their graphs (for an
    architecture without a canonical form, on the file of a conversion ``store`` recorded), and the
    discrepancies among published values. Every measured finding is stored (``zoocheck table``
    renders measured params from the store), replacing the audit records of the same sources an
    earlier run stored."""
    from zoocheck.checks.audit import audit

    records = audit(entries, store.results("conversion") if store is not None else ())
    if store is not None:
        audited = {r.source for r in records}
        store.replace_results(lambda r: isinstance(r, AuditRecord) and r.source in audited, (r for r in records if r.measured is not None))
    return records


def structure_facts(entry: Entry) -> dict:
    """What ``list --json`` adds to an entry: the structure fingerprint every canonical file of its
    architecture has (at the default opset and the entry's input size; None: native only)."""
    from zoocheck.converters.graph import canonical_fingerprint

    return {"structure_fingerprint": canonical_fingerprint(entry.arch, DEFAULT_OPSET, entry.input_size)}


def entry_facts(entry: Entry) -> dict:
    """Everything ``zoocheck show`` says about one entry, as JSON-ready data: the entry itself
    (``reports.registry_report.entry_json``' fields are the registry's), its canonical graph or
    why it has none, the parameters and MACs counted on it, its audit findings, and whether its
    published weights are in the cache (or a damaged file is)."""
    from zoocheck.converters.graph import canonical_refusal
    from zoocheck.converters.graph.counts import architecture_counts
    from zoocheck.zoo_registry.download import ChecksumMismatch, cached_weights

    counts = architecture_counts(entry.arch, entry.input_size)
    try:
        cached, damaged = cached_weights(entry), None
    except ChecksumMismatch as exc:  # a file is there, but not the published one
        cached, damaged = None, str(exc)
    return {
        **structure_facts(entry),
        "canonical_graph_refusal": canonical_refusal(entry.arch),  # why there is no canonical graph
        "measured": None
        if counts is None
        else {
            "params": counts.params,
            "params_with_bn_stats": counts.params_with_bn_stats,
            "macs": counts.macs,
            "input_size": counts.input_size,
        },
        "audit": [f.to_json() for f in audit_entries([entry])],
        "cached_weights": str(cached) if cached is not None else None,
        "cached_weights_error": damaged,
    }


__all__ = [
    "ModelRun",
    "audit_entries",
    "convert_entry",
    "default_onnx_path",
    "entry_facts",
    "structure_facts",
    "onnx_metadata",
    "parity_runs",
    "variant_of_file",
]


# --- compare and preprocess ------------------------------------------------------------------


def compare_and_store(
    entry_a: Entry,
    entry_b: Entry,
    store: ResultsStore,
    *,
    weights: tuple[Path, Path] | None,
    random_seed: int | None,
    images: Sequence[Path],
    tolerance: Tolerance = Tolerance(),
) -> tuple[Comparison | Failure, str]:
    """``compare.compare_entries`` in the run directory, its record (or failure) stored; with what
    the frameworks printed meanwhile (for the debug log)."""
    from zoocheck import rundir
    from zoocheck.capture import captured_text
    from zoocheck.checks.compare import compare_entries

    with rundir.run_directory() as run, captured_text() as caught:
        result = compare_entries(
            entry_a, entry_b, weights=weights, random_seed=random_seed, images=images, workdir=run, tolerance=tolerance
        )
    store.add(result)
    return result, caught[0]


def preprocess_and_store(
    entries: Sequence[Entry],
    store: ResultsStore,
    *,
    images: Sequence[Path],
    onnx_path: Path | None = None,
) -> tuple[list[LibraryPreprocessCheck], str]:
    """``library_preprocess.check_library_preprocessing`` for each entry, records stored; with
    what the libraries printed meanwhile (libpng's colour-profile warnings)."""
    from zoocheck.capture import captured_text
    from zoocheck.checks.library_preprocess import check_library_preprocessing

    with captured_text() as caught:
        checks = [check_library_preprocessing(entry, images, onnx_path=onnx_path) for entry in entries]
    for check in checks:
        store.add(check)
    return checks, caught[0]
