"""``zoocheck preprocess``: zoocheck's preprocessing of real photographs against the source library's own.

One line per model (``PREPROCESS OK|FAILED|SKIPPED ...``); with ``--onnx``, a non-zero difference is
also fed through that model to show what it does to the logits and top-1.
"""

from __future__ import annotations

from pathlib import Path

from zoocheck.cli.common import EXIT_FAILED, EXIT_OK, UsageError, add_results_arg, console, keep_framework_log, print_json, resolve_entries


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "preprocess", help="compare zoocheck's preprocessing with the source library's own transform on real photographs"
    )
    parser.add_argument("--src", required=True, help="source zoo")
    parser.add_argument("--model", required=True, nargs="+", help="model names or fnmatch patterns (case-insensitive)")
    parser.add_argument("--images", help="folder of photographs (default: the real photographs bundled with scikit-image)")
    parser.add_argument("--onnx", help="an ONNX file of the model (one model only): show what a difference does to its logits")
    parser.add_argument("--unverified-onnx", action="store_true", help="accept an --onnx file without zoocheck metadata")
    add_results_arg(parser)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.set_defaults(run=run)


def run(args) -> int:
    from zoocheck.checks.images import bundled_photos, images_in
    from zoocheck.checks.runs import preprocess_and_store
    from zoocheck.identity import check_onnx_model
    from zoocheck.reports.lines import preprocess_line
    from zoocheck.store import ResultsStore

    if args.unverified_onnx and not args.onnx:
        raise UsageError("--unverified-onnx goes with --onnx FILE")
    entries = resolve_entries(args.src, args.model)
    if args.onnx and len(entries) > 1:
        raise UsageError(f"--onnx takes one model; {len(entries)} matched {' '.join(args.model)}")
    if args.onnx:  # the file must hold this model (its zoocheck metadata says which it holds)
        check_onnx_model(Path(args.onnx), entries[0], allow_unverified=args.unverified_onnx)
    try:
        images = images_in(args.images) if args.images else bundled_photos()
    except FileNotFoundError as exc:
        raise UsageError(f"{exc}; check the --images folder") from None
    if not images:
        raise UsageError("no photographs: pass --images DIR (scikit-image, whose photographs are the default, is not installed)")
    store = ResultsStore(args.results)
    checks, log = preprocess_and_store(entries, store, images=images, onnx_path=Path(args.onnx) if args.onnx else None)
    keep_framework_log(store, args, f"preprocess {' '.join(args.model)}", log)
    if args.json:
        print_json([c.to_json() for c in checks])
    else:
        out = console()
        for check in checks:
            out.print(preprocess_line(check), markup=False, soft_wrap=True)
    return EXIT_FAILED if any(c.status in ("failed", "error") for c in checks) else EXIT_OK
