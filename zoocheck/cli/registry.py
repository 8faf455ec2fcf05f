"""``zoocheck list | show | fetch | audit``: the registry, its weights, and its published numbers.

``list`` and ``show`` import no framework (instant). ``fetch`` downloads into the cache with a progress
bar and verifies the published checksum. ``audit`` compares published parameter counts and FLOPs/MACs
with the counts measured on its ONNX graph (``checks/audit.py``), and lists the values a zoo published
twice, differently; disagreements are findings (exit 0, ``--strict`` exits 1 on them).
"""

from __future__ import annotations

import dataclasses
import sys

from zoocheck.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    add_arch_arg,
    add_results_arg,
    console,
    fail,
    print_json,
    resolve_entry,
    sources_help,
)


def register(subparsers) -> None:
    p = subparsers.add_parser("list", help="list the registry's models (instant; no framework imports)")
    p.add_argument("--src", help=f"only this source ({sources_help()})")
    add_arch_arg(p)
    p.add_argument("--json", action="store_true", help="print a JSON array of entries")
    p.add_argument(
        "--excluded", action="store_true", help="list the published rows that are not entries, each with why (e.g. int8 weights)"
    )
    p.set_defaults(run=run_list)

    p = subparsers.add_parser("show", help="everything the registry knows about one model")
    p.add_argument("--src", required=True, help="source zoo")
    p.add_argument("--model", required=True, help="the source's own model name (case-insensitive; aliases accepted)")
    p.add_argument("--json", action="store_true", help="print the entry as JSON")
    p.set_defaults(run=run_show)

    p = subparsers.add_parser("fetch", help="download a model's published weights into the cache and verify them")
    p.add_argument("--src", required=True, help="source zoo")
    p.add_argument("--model", required=True, help="the source's own model name")
    p.add_argument("--url", help="download from this address instead of the published one (a mirror), or copy this local file")
    p.add_argument("--force", action="store_true", help="download again even if a verified file is cached")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print {path, verified, checksum} as JSON")
    p.set_defaults(run=run_fetch)

    p = subparsers.add_parser(
        "audit", help="published params / FLOPs vs the counts measured on the ONNX graph, and the zoos' own discrepancies"
    )
    p.add_argument("--src", help="only this source")
    p.add_argument("--all", action="store_true", help="also list the numbers that agree")
    p.add_argument(
        "--strict", action="store_true", help="exit 1 when a published number disagrees (default: disagreements are findings, exit 0)"
    )
    p.add_argument("--json", action="store_true", help="print every finding as JSON")
    add_results_arg(p)
    p.set_defaults(run=run_audit)


# --- commands --------------------------------------------------------------------------------


def run_list(args) -> int:
    if args.excluded:
        return run_list_excluded(args)
    from zoocheck.checks.runs import structure_facts
    from zoocheck.reports.registry_report import entry_json, print_entries
    from zoocheck.zoo_registry import UnknownSourceError, list_entries

    try:
        entries = list_entries(args.src, args.arch)
    except UnknownSourceError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print_json([entry_json(e, structure_facts(e)) for e in entries])
    else:
        print_entries(console(), entries)
    return EXIT_OK


def run_list_excluded(args) -> int:
    """``list --excluded``: the published rows that are not entries, each with its reason."""
    from zoocheck.reports.registry_report import print_excluded
    from zoocheck.zoo_registry import UnknownSourceError, list_excluded

    if args.arch:
        raise UsageError("--excluded rows have no architecture id: select them with --src only")
    try:
        rows = list_excluded(args.src)
    except UnknownSourceError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print_json([dataclasses.asdict(x) for x in rows])
    else:
        print_excluded(console(), rows)
    return EXIT_OK


def run_show(args) -> int:
    from zoocheck.checks.runs import entry_facts
    from zoocheck.reports.registry_report import entry_json, print_entry

    entry = resolve_entry(args.src, args.model)
    facts = entry_facts(entry)
    if args.json:
        print_json(entry_json(entry, facts))
    else:
        print_entry(console(), entry, facts)
    return EXIT_OK


def run_fetch(args) -> int:
    from zoocheck.zoo_registry.download import FetchError, fetch

    entry = resolve_entry(args.src, args.model)
    try:
        path = fetch(entry, url=args.url, progress=not args.no_progress and sys.stderr.isatty(), force=args.force)
    except FetchError as exc:
        return fail(str(exc))
    checksum = entry.weights.checksum if entry.weights else None
    if checksum is None:
        print(
            f"zoocheck: warning: {entry.source} publishes no checksum for {entry.name}: {path.name} could not be verified", file=sys.stderr
        )
    if args.json:
        print_json({"path": str(path), "verified": checksum is not None, "checksum": str(checksum) if checksum else None})
    else:
        print(path)
    return EXIT_OK


def run_audit(args) -> int:
    from zoocheck.checks.runs import audit_entries
    from zoocheck.reports.registry_report import print_audit
    from zoocheck.store import ResultsStore
    from zoocheck.validate import check_writable_dir
    from zoocheck.zoo_registry import UnknownSourceError, list_entries

    try:
        entries = list_entries(args.src)
    except UnknownSourceError as exc:
        raise UsageError(str(exc)) from None
    store = ResultsStore(args.results)
    check_writable_dir(store.directory, "the results folder")
    findings = audit_entries(entries, store)
    if args.json:
        print_json([f.to_json() for f in findings])
    else:
        print_audit(console(), findings, show_all=args.all)
    # Zoos that publish numbers disagreeing with their own architecture are findings about the
    # zoos, not a failure of this run; --strict makes them one (for CI over a curated registry).
    return EXIT_FAILED if args.strict and any(f.status == "failed" for f in findings) else EXIT_OK
