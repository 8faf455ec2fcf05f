"""``zoocheck report``: the results store as a static site (overview, entries, architectures,
failures, where failures start, plots) that opens from the file system."""

from __future__ import annotations

import sys

from zoocheck.cli.common import EXIT_OK, UsageError, add_arch_arg, add_results_arg, print_json

DEFAULT_OUTPUT = "zoocheck-report"


def register(subparsers) -> None:
    parser = subparsers.add_parser("report", help="write the results store as a static HTML site (no server, no network needed to open it)")
    add_results_arg(parser)
    parser.add_argument(
        "--output",
        default=DEFAULT_OUTPUT,
        help=f"folder to write the site into (default ./{DEFAULT_OUTPUT}; an earlier report there is replaced)",
    )
    parser.add_argument("--src", nargs="+", help="only these sources (default: every source)")
    add_arch_arg(parser)
    parser.add_argument("--json", action="store_true", help='print where the report is as JSON ({"index": PATH})')
    parser.set_defaults(run=run)


def selection(sources, arch: str | None):
    """The report's Selection of ``--src`` / ``--arch``: UsageError for a source no one registered."""
    from zoocheck.reports.site_views import Selection
    from zoocheck.zoo_registry import UnknownSourceError, canonical_source

    try:
        return Selection(tuple(dict.fromkeys(canonical_source(s) for s in sources or ())), arch)
    except UnknownSourceError as exc:
        raise UsageError(str(exc)) from None


def write(results, output, chosen, *, json: bool = False) -> None:
    """Write the report and say where it is (``zoocheck report`` and ``sweep --report``)."""
    from pathlib import Path

    from zoocheck.reports.site import write_report
    from zoocheck.store import ResultsStore
    from zoocheck.validate import check_writable_dir

    store = ResultsStore(results)
    if store.directory.exists() and not store.directory.is_dir():
        raise UsageError(f"{store.directory}: the results folder is a file, not a folder; give --results FOLDER")
    check_writable_dir(Path(output), "the report folder")
    index = write_report(store.directory, output, chosen)
    if json:
        print_json({"index": str(index.resolve())})
    else:
        print(f"wrote the report: {index.resolve().as_uri()}", file=sys.stderr)


def run(args) -> int:
    write(args.results, args.output, selection(args.src, args.arch), json=args.json)
    return EXIT_OK
