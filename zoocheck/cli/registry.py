"""``zoocheck list | show | fetch | audit``: the registry, its weights, and its published numbers.

``list`` and ``show`` import no framework (instant). ``fetch`` downloads into the cache with a progress
bar and verifies the published checksum. ``audit`` compares published parameter counts and FLOPs/MACs
with the counts measured on its ONNX graph (``checks/audit.py``), and lists the values a zoo published
twice, differently; disagreements are findings (exit 0, ``--strict`` exits 1 on them).
"""

from __future__ import annotations

import dataclasses
import sys

from zoocheck.cli.common import EXIT_FAILED, EXIT_OK, UsageError, add_results_arg, console, fail, print_json, resolve_entry, sources_help


def register(subparsers) -> None:
    p = subparsers.add_parser("list", help="list the registry's models (instant; no framework imports)")
    p.add_argument("--src", help=f"only this source ({sources_help()})")
    p.add_argument("--arch", help="only architecture ids matching this pattern (fnmatch, e.g. 'resnet50*')")
    p.add_argument("--json", action="store_true", help="print a JSON array of entries")
    p.add_argument("--excluded", action="store_true", help="list the published rows that are not entries, each with why (e.g. int8 weights)")
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

    p = subparsers.add_parser("audit", help="published params / FLOPs vs the counts measured on the ONNX graph, and the zoos' own discrepancies")
    p.add_argument("--src", help="only this source")
    p.add_argument("--all", action="store_true", help="also list the numbers that agree")
    p.add_argument("--strict", action="store_true", help="exit 1 when a published number disagrees (default: disagreements are findings, exit 0)")
    p.add_argument("--json", action="store_true", help="print every finding as JSON")
    add_results_arg(p)
    p.set_defaults(run=run_audit)


# --- serialisation ---------------------------------------------------------------------------


def entry_dict(entry) -> dict:
    """The JSON form of an entry (what `list --json` and `show --json` print)."""
    from zoocheck.converters.graph import canonical_fingerprint
    from zoocheck.converters.pipeline import DEFAULT_OPSET

    def weights_dict(w):
        return {"url": w.url, "file_name": w.file_name, "format": w.format, "checksum": str(w.checksum) if w.checksum else None}

    weights = weights_dict(entry.weights) if entry.weights is not None else None
    return {
        "source": entry.source,
        "name": entry.name,
        "aliases": list(entry.aliases),
        "arch": entry.arch.id,
        "architecture": dataclasses.asdict(entry.arch),
        "builder": entry.builder,
        "weights": weights,
        "preprocess": entry.preprocess.to_dict(),
        "input_size": entry.input_size,
        "label_space": entry.label_space,
        # every canonical file of this architecture has it (at the default opset and the entry's
        # input size); None: native only
        "structure_fingerprint": canonical_fingerprint(entry.arch, DEFAULT_OPSET, entry.input_size),
        "published": [dataclasses.asdict(p) for p in entry.published],
        "naming": entry.naming,
        "alternate_weights": [weights_dict(w) for w in entry.alternate_weights],
        "licence": entry.licence,
        "hub_id": entry.hub_id,
        "origin_url": entry.origin_url,
        "same_weights_as": list(entry.same_weights_as),
        "exported_from": entry.exported_from,
        "notes": entry.notes,
    }


# --- commands --------------------------------------------------------------------------------


def run_list(args) -> int:
    if args.excluded:
        return run_list_excluded(args)
    from zoocheck.zoo_registry import UnknownSourceError, list_entries, published_at_input_size

    try:
        entries = list_entries(args.src, args.arch)
    except UnknownSourceError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print_json([entry_dict(e) for e in entries])
        return EXIT_OK
    from rich.table import Table

    table = Table(title=f"{len(entries)} models", show_lines=False)
    for col in ("source", "name", "arch", "top-1", "top-5", "input", "weights", "aliases"):
        table.add_column(col, overflow="fold", no_wrap=col in ("source", "name"))
    for e in entries:
        pub = published_at_input_size(e)
        table.add_row(
            e.source, e.name, e.arch.id,
            _fmt(pub.top1 if pub else None), _fmt(pub.top5 if pub else None), str(e.input_size),
            e.weights.format if e.weights else "-", ", ".join(e.aliases),
        )  # fmt: skip
    console().print(table)
    return EXIT_OK


def run_list_excluded(args) -> int:
    """``list --excluded``: the published rows that are not entries, each with its reason."""
    from zoocheck.zoo_registry import UnknownSourceError, list_excluded

    if args.arch:
        raise UsageError("--excluded rows have no architecture id: select them with --src only")
    try:
        rows = list_excluded(args.src)
    except UnknownSourceError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print_json([dataclasses.asdict(x) for x in rows])
        return EXIT_OK
    from rich.table import Table

    table = Table(title=f"{len(rows)} published rows that are not entries")
    for col in ("source", "model", "family", "reason"):
        table.add_column(col, overflow="fold", no_wrap=col in ("source", "model"))
    for x in rows:
        table.add_row(x.source, x.model, x.family, x.reason)
    console().print(table)
    return EXIT_OK


def run_show(args) -> int:
    entry = resolve_entry(args.src, args.model)
    data = entry_dict(entry)
    from zoocheck.checks.runs import audit_entries
    from zoocheck.converters.graph import canonical_refusal

    data["canonical_graph_refusal"] = canonical_refusal(entry.arch)
    from zoocheck.converters.graph.counts import architecture_counts

    counts = architecture_counts(entry.arch, entry.input_size)
    data["measured"] = None if counts is None else {
        "params": counts.params, "params_with_bn_stats": counts.params_with_bn_stats,
        "macs": counts.macs, "input_size": counts.input_size,
    }  # fmt: skip
    findings = audit_entries([entry])
    data["audit"] = [f.to_json() for f in findings]
    from zoocheck.zoo_registry.download import ChecksumMismatch, cached_weights

    try:
        cached, damaged = cached_weights(entry), None
    except ChecksumMismatch as exc:  # a file is there, but not the published one
        cached, damaged = None, str(exc)
    data["cached_weights"] = str(cached) if cached is not None else None
    data["cached_weights_error"] = damaged
    if args.json:
        print_json(data)
        return EXIT_OK
    from rich.table import Table

    out = console()
    out.print(f"[bold]{entry.key}[/bold]  arch {entry.arch.id}  builder {entry.builder}  label space {entry.label_space}")
    if entry.aliases:
        out.print(f"aliases: {', '.join(entry.aliases)}")
    fingerprint = data["structure_fingerprint"]
    no_graph = f"canonical graph: none (native graph only): {data['canonical_graph_refusal']}"
    out.print(f"canonical graph: {fingerprint} (structure fingerprint, opset 17)" if fingerprint else no_graph, markup=False)
    if data["weights"]:
        w = data["weights"]
        out.print(f"weights: {w['url']}\n  file {w['file_name']}  format {w['format']}  checksum {w['checksum'] or '(none published)'}")
        missing = f"no (zoocheck fetch --src {entry.source} --model {entry.name})"
        out.print(f"  cached: {data['cached_weights'] or damaged or missing}", markup=False, style="red" if damaged else None)
    else:
        out.print("weights: none published")
    pre = entry.preprocess
    out.print(
        f"preprocess: {pre.image_library} resize {pre.resize} ({pre.resize_mode}, {pre.interpolation}, "
        f"antialias {pre.antialias}, size {pre.size_rounding}) crop {pre.crop} (offset {pre.crop_rounding}) "
        f"mean {pre.mean} std {pre.std} scale {pre.scale:g} {pre.channel_order}; input {entry.input_size}"
    )
    if counts is not None:
        out.print(f"measured: {counts.params / 1e6:.6f} M params ({counts.params_with_bn_stats / 1e6:.6f} M with BN stats), "
                  f"{counts.macs / 1e9:.4f} GMACs at {counts.input_size}")  # fmt: skip
    table = Table(title="published")
    for col in ("top-1", "top-5", "params (M)", "FLOPs (G)", "unit", "input", "reference"):
        table.add_column(col, overflow="fold")
    for p in entry.published:
        table.add_row(_fmt(p.top1), _fmt(p.top5), _fmt(p.params_m), _fmt(p.flops_g), p.flops_unit or "",
                      str(p.input_size or ""), p.reference)  # fmt: skip
    out.print(table)
    bad = [f for f in findings if f.status == "failed"]
    for f in bad:
        out.print(f"[yellow]audit:[/yellow] {_finding_line(f)}")
    if entry.notes:
        out.print(f"notes: {entry.notes}")
    facts = [("same weights as", ", ".join(entry.same_weights_as)), ("exported from", entry.exported_from),
             ("licence", entry.licence), ("hub", entry.hub_id), ("origin", entry.origin_url),
             *((f"also published as ({w.format})", w.url) for w in entry.alternate_weights)]  # fmt: skip
    for label, value in facts:
        if value:
            out.print(f"{label}: {value}", markup=False)
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
        print(f"zoocheck: warning: {entry.source} publishes no checksum for {entry.name}: {path.name} could not be verified",
              file=sys.stderr)  # fmt: skip
    if args.json:
        print_json({"path": str(path), "verified": checksum is not None, "checksum": str(checksum) if checksum else None})
    else:
        print(path)
    return EXIT_OK


def run_audit(args) -> int:
    from zoocheck.checks.runs import audit_entries
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
    bad = [f for f in findings if f.status == "failed"]
    ok = sum(f.status == "ok" for f in findings)
    skipped = sum(f.status == "skipped" for f in findings)
    if args.json:
        print_json([f.to_json() for f in findings])
    else:
        from rich.table import Table

        shown = findings if args.all else bad
        table = Table(title="published vs measured (conv+fc counted on the ONNX graph)")
        for col in ("status", "source", "model", "quantity", "published", "normalised", "measured", "diff", "input", "reference", "note"):
            table.add_column(col, overflow="fold", no_wrap=col in ("source", "model"))
        for f in shown:
            err = f.relative_error
            table.add_row(f.status, f.source, f.model, f.quantity, f"{_fmt(f.published)} {f.published_unit}".strip(),
                          _fmt(f.normalised), "" if f.measured is None else f"{f.measured:.4f}",
                          "" if err is None else f"{err:+.1%}", str(f.input_size), f.reference, f.note)  # fmt: skip
        out = console()
        if shown:
            out.print(table)
        discrepancies = sum(f.quantity == "discrepancy" for f in bad)
        summary = [f"{len(bad) - discrepancies} disagree", f"{ok} agree"]
        if discrepancies:
            summary.append(f"{discrepancies} published discrepancies")
        if skipped:
            summary.append(f"{skipped} not measured (no canonical graph and no converted file: --all lists each with the command that measures it)")
        out.print("audit: " + ", ".join(summary))
    # Zoos that publish numbers disagreeing with their own architecture are findings about the
    # zoos, not a failure of this run; --strict makes them one (for CI over a curated registry).
    return EXIT_FAILED if bad and args.strict else EXIT_OK


def _fmt(value) -> str:
    return "" if value is None else f"{value:g}"


def _finding_line(f) -> str:
    if f.quantity == "discrepancy":
        return f"published discrepancy: {f.note}"
    err = f.relative_error
    return (f"{f.quantity} published {f.published:g} {f.published_unit} (= {f.normalised:g}) vs measured "
            f"{f.measured:.4f} ({err:+.1%}) [{f.reference}]")  # fmt: skip
