"""How long `zoocheck report` takes on a full store: every selected registry entry (276 by default)
with a conversion, a parity result (a few failing, with a located first divergence), a
real-weights evaluation and a sweep job, some on random weights, plus failures and comparisons,
all written through the store's own API. Prints the time of `write_report`; the issue asks for
under 10 s at 276 entries.

    PYTHONPATH=. .venv/bin/python bench/report_render.py [--entries 276] [--keep DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from zoocheck.records import (
    Comparison,
    ConversionRecord,
    Divergence,
    EvalResult,
    Failure,
    FunctionComparison,
    NodeError,
    OutputComparison,
    ParityResult,
    Side,
    SweepJobRecord,
    Tolerance,
    WeightsComparison,
)
from zoocheck.reports.site import write_report
from zoocheck.reports.site_views import Selection
from zoocheck.store import ResultsStore
from zoocheck.zoo_registry import list_entries


def fill(store: ResultsStore, entries) -> None:
    for i, e in enumerate(entries):
        random = i % 5 == 0
        failing = i % 23 == 7
        seed = 0 if random else None
        store.add(
            ConversionRecord(
                "ok",
                e.source,
                e.name,
                e.arch.id,
                random,
                seed,
                weights=None if random else f"/w/{e.name}",
                structure_fingerprint="sha256:" + "ab" * 32,
                graph="canonical",
            )
        )
        error = 3e-2 if failing else 10 ** -(5 + i % 3)
        divergence = None
        if failing:
            errors = tuple(NodeError(f"layer{k}.conv1", f"layer{k}.conv1", 1e-6) for k in range(40)) + (
                NodeError("layer3.0.conv2", "layer3.0.conv2", 3e-2),
            )
            divergence = Divergence("layer3.0.conv2", "Conv", "layer3.0.conv2", 3e-2, 0.4, 40, 1e-4, ("layer3.0.conv2.weight",), errors)
        comparisons = tuple(OutputComparison(f"input-{k}", error, error * 10, 0.99999, 1, 1, 5, False) for k in range(5))
        store.add(
            ParityResult(
                e.source,
                e.name,
                "torch",
                "onnxruntime",
                Tolerance(),
                comparisons,
                random,
                random_seed=seed,
                first_divergence=divergence,
                published_weights=not random,
            )
        )
        published = e.published[0].top1 if e.published else 75.0
        store.add(
            EvalResult(
                e.source,
                e.name,
                "onnxruntime",
                published - 0.1 * (i % 7),
                92.0,
                50000,
                (),
                100.0,
                500.0,
                {},
                "f" * 64,
                {},
                random,
                arch=e.arch.id,
                published_weights=not random,
            )
        )
        store.add(
            SweepJobRecord(
                f"k{i}",
                e.source,
                e.name,
                "convert",
                "failed" if i % 31 == 3 else "ok",
                1.0,
                category="export" if i % 31 == 3 else None,
                random_weights=random,
            )
        )
        if i % 31 == 3:
            store.add(
                Failure(
                    e.source,
                    e.name,
                    "export",
                    "RuntimeError",
                    "Exporting the operator foo is not supported",
                    category="unsupported op",
                    job=f"k{i}",
                    step="convert",
                    command=f"zoocheck convert --src {e.source} --model {e.name}",
                    detail="Traceback ...\nRuntimeError: foo",
                )
            )
    pairs = [(a, b) for a, b in zip(entries, entries[1:]) if a.arch.id == b.arch.id]
    for a, b in pairs:
        side = lambda e: Side(e.source, e.name, e.arch.id, f"/onnx/{e.name}.onnx", None, random_seed=0)  # noqa: E731
        function = FunctionComparison(tuple(OutputComparison(f"input-{k}", 1e-7, 1e-6, 1.0, 1, 1, 5, False) for k in range(5)), Tolerance())
        store.add(Comparison(side(a), side(b), WeightsComparison(60, ()), function, None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=276)
    parser.add_argument("--keep", help="write the store and the site here instead of a temporary folder")
    args = parser.parse_args()
    entries = list_entries()[: args.entries]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        store = ResultsStore(folder / "results")
        fill(store, entries)
        keys = tuple(e.key for e in entries)
        began = time.perf_counter()
        index = write_report(store.directory, folder / "site", Selection(keys=keys))
        seconds = time.perf_counter() - began
        pages = len(list(index.parent.rglob("*.html")))
        print(f"report of {len(entries)} entries ({pages} pages): {seconds:.2f} s -> {index}")


if __name__ == "__main__":
    main()
