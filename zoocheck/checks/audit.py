"""Audit the registry against what can be measured without ImageNet: parameters and multiply-adds,
and the conflicts between numbers a zoo itself published.

Where the counts come from (``converters/graph/counts.py`` counts, family-agnostic):

- an architecture with a canonical form: its canonical parameter set and canonical graph, built
  from the spec alone (no framework, no file), so auditing the whole ResNet registry takes about a
  second;
- any other: the ONNX file of a conversion already made (the newest conversion record in the
  results store whose file still holds that model, from ``zoocheck convert`` or a sweep), counted
  on its graph. Converting here would take a framework and up to a minute per entry, so an entry
  without one is ``skipped`` with the command that measures it.

Conventions the zoos use, and how the audit normalises them:

- parameters: torchvision, timm, mmpretrain and PaddleClas's per-family pages count trainable
  parameters; MXNet Gluon and the PaddleClas README (``paddle.flops``) also count the batch-norm running
  mean/variance. A published count agrees when it matches either.
- FLOPs: mmpretrain, torchvision (``_ops``), timm and the PaddleClas README count multiply-adds (MACs;
  ResNet-50 ~4.1 G); PaddleClas's per-family pages count FLOPs = 2 x MACs (8.2 G). ``Published.flops_unit``
  says which; FLOPs are halved before comparing. Only conv, fc and matmul multiply-adds are counted
  (batch norm, activations, pooling and additions are ~1% and counted differently by every tool).
- a file whose exporter folded batch norm into the convolutions (torch.onnx) holds one value per
  folded channel less than the zoos count and no running statistics (0.2-1% of a CNN's parameters):
  its note says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from zoocheck.converters.graph.counts import Counts
from zoocheck.records import AuditRecord, ConversionRecord
from zoocheck.zoo_registry.types import Entry, Published

#: relative tolerance for "agrees": published numbers are rounded to 2-4 digits
PARAMS_RTOL = 0.01
MACS_RTOL = 0.03


@dataclass(frozen=True)
class Measurement:
    """The counts of one entry at one input size, what they were counted on, or why there are none."""

    counts: Counts | None
    note: str


def measure(entry: Entry, input_size: int, conversions: Iterable[ConversionRecord] = ()) -> Measurement:
    """The counts of ``entry`` at ``input_size``: from its canonical form, else from the newest of
    ``conversions`` of it whose ONNX file still holds it, else none (the note says how to get one)."""
    from zoocheck.converters.graph.counts import architecture_counts

    counts = architecture_counts(entry.arch, input_size)
    if counts is not None:
        return Measurement(counts, "canonical parameter set and graph of the architecture")
    path = converted_file(entry, conversions)
    if path is None:
        return Measurement(
            None,
            f"{entry.arch.id} has no canonical graph and no converted file: "
            f"`zoocheck convert --src {entry.source} --model {entry.name} --random-weights` measures it",
        )
    return _measure_file(path, input_size)


def converted_file(entry: Entry, conversions: Iterable[ConversionRecord]) -> Path | None:
    """The ONNX file of the newest successful conversion of ``entry`` that still holds it."""
    from zoocheck.identity import record_disowned_by_file

    for record in sorted(conversions, key=lambda r: r.time, reverse=True):
        if (record.source, record.model) != (entry.source, entry.name) or record.status != "ok" or not record.onnx_path:
            continue
        if Path(record.onnx_path).is_file() and record_disowned_by_file(record) is None:
            return Path(record.onnx_path)
    return None


def _measure_file(path: Path, input_size: int) -> Measurement:
    import onnx

    from zoocheck.converters.graph.counts import count_graph

    model = onnx.load(str(path), load_external_data=False)
    counts = count_graph(model, input_size)
    folded = not any(node.op_type == "BatchNormalization" for node in model.graph.node)
    return Measurement(
        counts, f"graph of {path}" + (" (no batch norm left: folded ones count one value per channel less)" if folded else "")
    )


# --- comparing with what each zoo published ---------------------------------------------------


def audit_entry(entry: Entry, conversions: Iterable[ConversionRecord] = ()) -> list[AuditRecord]:
    """A finding for every published parameter count and FLOPs/MACs figure of ``entry`` (ok when it
    agrees with the count, failed when it disagrees, skipped when nothing could be measured) and
    one failed finding for each discrepancy among the values the zoo published."""
    conversions = list(conversions)
    measurements: dict[int, Measurement] = {}
    findings: list[AuditRecord] = []
    for pub in entry.published:
        size = pub.input_size or entry.input_size
        if pub.params_m is None and pub.flops_g is None:
            continue
        if size not in measurements:
            measurements[size] = measure(entry, size, conversions)
        measurement = measurements[size]
        if pub.params_m is not None:
            findings.append(_params_finding(entry, pub, measurement, size))
        if pub.flops_g is not None:
            findings.append(_macs_finding(entry, pub, measurement, size))
    findings += [
        AuditRecord(
            status="failed",
            source=entry.source,
            model=entry.name,
            quantity="discrepancy",
            published=None,
            published_unit="",
            measured=None,
            normalised=None,
            convention="",
            reference="the zoo's own pages",
            input_size=entry.input_size,
            note=text,
        )
        for text in entry.discrepancies
    ]
    return findings


def _close(a: float, b: float, rtol: float) -> bool:
    return abs(a - b) <= rtol * abs(b)


def _params_finding(entry: Entry, pub: Published, measurement: Measurement, size: int) -> AuditRecord:
    assert pub.params_m is not None
    base = dict(
        source=entry.source,
        model=entry.name,
        quantity="params_m",
        published=pub.params_m,
        published_unit="M params",
        normalised=pub.params_m,
        reference=pub.reference,
        input_size=size,
        note=measurement.note,
    )
    counts = measurement.counts
    if counts is None:
        return AuditRecord(**base, measured=None, convention="", status="skipped")  # type: ignore[arg-type]
    trainable, with_stats = counts.params / 1e6, counts.params_with_bn_stats / 1e6
    # the convention whose count is nearest to the published number (they differ by ~0.2-0.4%)
    convention, measured = min((("trainable", trainable), ("with BN stats", with_stats)), key=lambda cm: abs(cm[1] - pub.params_m))  # type: ignore[operator]
    if _close(pub.params_m, measured, PARAMS_RTOL):
        return AuditRecord(**base, measured=round(measured, 6), convention=convention, status="ok")  # type: ignore[arg-type]
    return AuditRecord(**base, measured=round(measured, 6), convention="none", status="failed")  # type: ignore[arg-type]


def _macs_finding(entry: Entry, pub: Published, measurement: Measurement, size: int) -> AuditRecord:
    assert pub.flops_g is not None
    flops_unit = pub.flops_unit or "MACs"
    normalised = pub.flops_g / 2 if flops_unit == "FLOPs" else pub.flops_g
    unit = "GFLOPs (2 x MACs)" if flops_unit == "FLOPs" else "GMACs"
    base = dict(
        source=entry.source,
        model=entry.name,
        quantity="macs_g",
        published=pub.flops_g,
        published_unit=unit,
        normalised=normalised,
        reference=pub.reference,
        input_size=size,
        note=measurement.note,
    )
    counts = measurement.counts
    if counts is None or counts.macs is None:
        unknown = dict(base, note=f"{measurement.note}: {counts.macs_unknown}") if counts is not None else base
        return AuditRecord(**unknown, measured=None, convention="", status="skipped")  # type: ignore[arg-type]
    # the convention whose count is nearest to the published number: with the attention's
    # products (fvcore: torchvision, timm) or without (mmengine: mmpretrain)
    conventions = [("conv+fc MACs", (counts.macs - counts.attention_macs) / 1e9)]
    if counts.attention_macs:
        conventions.append(("conv+fc+attention MACs", counts.macs / 1e9))
    convention, measured = min(conventions, key=lambda cm: abs(cm[1] - normalised))
    status = "ok" if _close(normalised, measured, MACS_RTOL) else "failed"
    return AuditRecord(**base, measured=round(measured, 6), convention=convention, status=status)  # type: ignore[arg-type]


def audit(entries: Iterable[Entry], conversions: Iterable[ConversionRecord] = ()) -> list[AuditRecord]:
    conversions = list(conversions)
    return [f for e in entries for f in audit_entry(e, conversions)]
