"""Audit findings: published parameters and MACs against the counts measured on the graph."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from zoocheck.records.codec import Record, Status, utc_now


@dataclass(frozen=True)
class AuditRecord(Record):
    """One published parameter count or FLOPs/MACs figure beside the count measured on the graph,
    or one conflict between values the zoo itself published (``discrepancy``: failed, no numbers)."""

    KIND: ClassVar[str] = "audit"

    status: Status  # ok: agrees; failed: disagrees (or a discrepancy); skipped: not measured (note says why)
    source: str
    model: str
    quantity: Literal["params_m", "macs_g", "discrepancy"]
    published: float | None  # as the zoo published it (None for a discrepancy)
    published_unit: str  # 'M params', 'GMACs' or 'GFLOPs (2 x MACs)'
    measured: float | None  # same unit as the normalised published value (M params / GMACs)
    normalised: float | None  # published converted to M params / GMACs
    convention: str  # which counting convention matched ('trainable', 'with BN stats', ...)
    reference: str
    input_size: int
    # what was measured (the canonical graph, or which converted file), why nothing was and the
    # command that would measure it, or the discrepancy the zoo published
    note: str = ""
    time: str = field(default_factory=utc_now)

    @property
    def relative_error(self) -> float | None:
        if not self.measured or self.normalised is None:
            return None
        return self.normalised / self.measured - 1.0

    @classmethod
    def _upgrade(cls, data: dict[str, Any]) -> dict[str, Any]:
        # Before this record type the audit stored its own vocabulary and both 'name' and 'model'.
        status = {"disagrees": "failed", "not-measured": "skipped"}.get(data.get("status"), data.get("status"))
        return {**data, "status": status, "model": data.get("model", data.get("name"))}

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "relative_error": self.relative_error}
