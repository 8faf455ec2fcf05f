"""``zoocheck table``: published vs measured numbers from the results store, grouped by architecture."""

from __future__ import annotations

import sys
from pathlib import Path

from zoocheck.cli.common import EXIT_OK, UsageError, add_arch_arg, add_results_arg, print_json

FORMATS = ("md", "csv", "html")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "table",
        help="published vs measured top-1/top-5, conversion and parity status, grouped by architecture (html: the report's entries page)",
    )
    parser.add_argument("--src", help="only this source")
    add_arch_arg(parser)
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--format", choices=FORMATS, help="output format (default: --output's suffix, else md)")
    parser.add_argument("--output", help="write to this file instead of standard output")
    add_results_arg(parser)
    form.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.set_defaults(run=run)


def table_format(args) -> str:
    """--format, else the one --output's suffix names, else md; UsageError for a contradiction."""
    if args.json and args.output:
        raise UsageError("--json prints the rows on standard output; for a file give --output with --format md, csv or html")
    suffix = Path(args.output).suffix.lower().lstrip(".") if args.output else ""
    named = {"markdown": "md", "htm": "html"}.get(suffix, suffix)
    if args.format and named in FORMATS and named != args.format:
        raise UsageError(
            f"--format {args.format} contradicts --output {args.output} (a .{suffix} file): give --format {named} or a .{args.format} file"
        )
    return args.format or (named if named in FORMATS else "md")


def run(args) -> int:
    from zoocheck.reports.site import render_table_page
    from zoocheck.reports.table import build_rows, render, stored_records
    from zoocheck.store import ResultsStore, write_atomic
    from zoocheck.validate import check_writable_file
    from zoocheck.zoo_registry import UnknownSourceError, canonical_source, list_entries

    text_format = table_format(args)
    try:
        source = canonical_source(args.src) if args.src else None
    except UnknownSourceError as exc:
        raise UsageError(str(exc)) from None
    if args.output:
        check_writable_file(Path(args.output), "the table file (--output)")
    store = ResultsStore(args.results)
    if store.directory.exists() and not store.directory.is_dir():
        raise UsageError(f"{store.directory}: the results folder is a file, not a folder; give --results FOLDER")
    # A record is about the file it names only while that file still holds the same model and weights.
    records, problems = stored_records(store)
    read = len(store.skipped_lines)
    rows = build_rows(list_entries(source), records, store.failures(), arch=args.arch, source=source)
    for problem in problems + store.skipped_lines[read:]:
        print(f"zoocheck: warning: {problem}", file=sys.stderr)
    if args.json:
        print_json([r.to_dict() for r in rows])
        return EXIT_OK
    text = render_table_page(rows) if text_format == "html" else render(rows, text_format)
    if args.output:
        write_atomic(Path(args.output), text)
        print(f"wrote {args.output} ({len(rows)} rows)", file=sys.stderr)
    else:
        sys.stdout.write(text)
    if not rows:
        print("zoocheck: no registry entry or stored result matches", file=sys.stderr)
    return EXIT_OK
