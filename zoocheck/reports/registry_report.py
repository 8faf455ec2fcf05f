"""Terminal and JSON rendering of the registry: ``list``, ``list --excluded``, ``show``, ``audit``.
Renders only; the facts come from the registry and ``checks.runs.entry_facts`` / ``audit_entries``."""

from __future__ import annotations

import dataclasses


def _fmt(value) -> str:
    return "" if value is None else f"{value:g}"


def _weights_json(w) -> dict:
    return {"url": w.url, "file_name": w.file_name, "format": w.format, "checksum": str(w.checksum) if w.checksum else None}


def entry_json(entry, facts: dict | None = None) -> dict:
    """The JSON form of an entry (``list --json``; with ``show``'s ``facts`` beside it)."""
    return {
        "source": entry.source,
        "name": entry.name,
        "aliases": list(entry.aliases),
        "arch": entry.arch.id,
        "architecture": dataclasses.asdict(entry.arch),
        "builder": entry.builder,
        "weights": _weights_json(entry.weights) if entry.weights is not None else None,
        "preprocess": entry.preprocess.to_dict(),
        "input_size": entry.input_size,
        "label_space": entry.label_space,
        "published": [dataclasses.asdict(p) for p in entry.published],
        "naming": entry.naming,
        "alternate_weights": [_weights_json(w) for w in entry.alternate_weights],
        "licence": entry.licence,
        "hub_id": entry.hub_id,
        "origin_url": entry.origin_url,
        "same_weights_as": list(entry.same_weights_as),
        "exported_from": entry.exported_from,
        "notes": entry.notes,
        **(facts or {}),
    }


def print_entries(out, entries) -> None:
    from rich.table import Table

    from zoocheck.zoo_registry import published_at_input_size

    table = Table(title=f"{len(entries)} models", show_lines=False)
    for col in ("source", "name", "arch", "top-1", "top-5", "input", "weights", "aliases"):
        table.add_column(col, overflow="fold", no_wrap=col in ("source", "name"))
    for e in entries:
        pub = published_at_input_size(e)
        table.add_row(
            e.source,
            e.name,
            e.arch.id,
            _fmt(pub.top1 if pub else None),
            _fmt(pub.top5 if pub else None),
            str(e.input_size),
            e.weights.format if e.weights else "-",
            ", ".join(e.aliases),
        )
    out.print(table)


def print_excluded(out, rows) -> None:
    from rich.table import Table

    table = Table(title=f"{len(rows)} published rows that are not entries")
    for col in ("source", "model", "family", "reason"):
        table.add_column(col, overflow="fold", no_wrap=col in ("source", "model"))
    for x in rows:
        table.add_row(x.source, x.model, x.family, x.reason)
    out.print(table)


def finding_line(f) -> str:
    if f.quantity == "discrepancy":
        return f"published discrepancy: {f.note}"
    err = f.relative_error
    return (
        f"{f.quantity} published {f.published:g} {f.published_unit} (= {f.normalised:g}) vs measured "
        f"{f.measured:.4f} ({err:+.1%}) [{f.reference}]"
    )


def print_entry(out, entry, facts: dict) -> None:
    """``show``: the entry, its canonical graph, weights, preprocessing, counts, published numbers,
    audit findings and provenance."""
    from rich.table import Table

    from zoocheck.records import AuditRecord

    out.print(f"[bold]{entry.key}[/bold]  arch {entry.arch.id}  builder {entry.builder}  label space {entry.label_space}")
    if entry.aliases:
        out.print(f"aliases: {', '.join(entry.aliases)}")
    fingerprint = facts["structure_fingerprint"]
    no_graph = f"canonical graph: none (native graph only): {facts['canonical_graph_refusal']}"
    out.print(f"canonical graph: {fingerprint} (structure fingerprint, opset 17)" if fingerprint else no_graph, markup=False)
    if entry.weights is not None:
        w = _weights_json(entry.weights)
        out.print(f"weights: {w['url']}\n  file {w['file_name']}  format {w['format']}  checksum {w['checksum'] or '(none published)'}")
        missing = f"no (zoocheck fetch --src {entry.source} --model {entry.name})"
        damaged = facts["cached_weights_error"]
        out.print(f"  cached: {facts['cached_weights'] or damaged or missing}", markup=False, style="red" if damaged else None)
    else:
        out.print("weights: none published")
    pre = entry.preprocess
    out.print(
        f"preprocess: {pre.image_library} resize {pre.resize} ({pre.resize_mode}, {pre.interpolation}, "
        f"antialias {pre.antialias}, size {pre.size_rounding}) crop {pre.crop} (offset {pre.crop_rounding}) "
        f"mean {pre.mean} std {pre.std} scale {pre.scale:g} {pre.channel_order}; input {entry.input_size}"
    )
    counts = facts["measured"]
    if counts is not None:
        out.print(
            f"measured: {counts['params'] / 1e6:.6f} M params ({counts['params_with_bn_stats'] / 1e6:.6f} M with BN stats), "
            f"{counts['macs'] / 1e9:.4f} GMACs at {counts['input_size']}"
        )
    table = Table(title="published")
    for col in ("top-1", "top-5", "params (M)", "FLOPs (G)", "unit", "input", "reference"):
        table.add_column(col, overflow="fold")
    for p in entry.published:
        table.add_row(
            _fmt(p.top1), _fmt(p.top5), _fmt(p.params_m), _fmt(p.flops_g), p.flops_unit or "", str(p.input_size or ""), p.reference
        )
    out.print(table)
    for finding in (AuditRecord.from_json(f) for f in facts["audit"]):
        if finding.status == "failed":
            out.print(f"[yellow]audit:[/yellow] {finding_line(finding)}")
    if entry.notes:
        out.print(f"notes: {entry.notes}")
    provenance = [("same weights as", ", ".join(entry.same_weights_as)), ("exported from", entry.exported_from),
                  ("licence", entry.licence), ("hub", entry.hub_id), ("origin", entry.origin_url),
                  *((f"also published as ({w.format})", w.url) for w in entry.alternate_weights)]  # fmt: skip
    for label, value in provenance:
        if value:
            out.print(f"{label}: {value}", markup=False)


def print_audit(out, findings, *, show_all: bool) -> None:
    """The findings that disagree (every one with ``show_all``) and one summary line."""
    from rich.table import Table

    bad = [f for f in findings if f.status == "failed"]
    shown = findings if show_all else bad
    table = Table(
        title="published vs measured on the ONNX graph (MACs: conv + fc, with the attention's products where the zoo counts them)"
    )
    columns = (
        "status",
        "source",
        "model",
        "quantity",
        "published",
        "normalised",
        "measured",
        "convention",
        "diff",
        "input",
        "reference",
        "note",
    )
    for col in columns:
        table.add_column(col, overflow="fold", no_wrap=col in ("source", "model"))
    for f in shown:
        err = f.relative_error
        table.add_row(
            f.status,
            f.source,
            f.model,
            f.quantity,
            f"{_fmt(f.published)} {f.published_unit}".strip(),
            _fmt(f.normalised),
            "" if f.measured is None else f"{f.measured:.4f}",
            f.convention,
            "" if err is None else f"{err:+.1%}",
            str(f.input_size),
            f.reference,
            f.note,
        )
    if shown:
        out.print(table)
    discrepancies = sum(f.quantity == "discrepancy" for f in bad)
    summary = [f"{len(bad) - discrepancies} disagree", f"{sum(f.status == 'ok' for f in findings)} agree"]
    if discrepancies:
        summary.append(f"{discrepancies} published discrepancies")
    skipped = sum(f.status == "skipped" for f in findings)
    if skipped:
        summary.append(
            f"{skipped} not measured (no canonical graph and no converted file: --all lists each with the command that measures it)"
        )
    out.print("audit: " + ", ".join(summary))
