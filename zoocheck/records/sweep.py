"""A sweep job's marker in the results store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from zoocheck.records.codec import Record, utc_now


@dataclass(frozen=True)
class SweepJobRecord(Record):
    """One finished job of a sweep (written after the job's own records: its marker)."""

    KIND: ClassVar[str] = "sweep-job"

    key: str  # the job's cache key (entry, weights identity, options, versions)
    source: str
    model: str
    step: str  # convert / parity / eval / compare
    status: Literal["ok", "failed", "skipped"]
    seconds: float
    category: str | None = None  # the failure taxonomy category of a failed job
    message: str = ""
    onnx_path: str | None = None
    time: str = field(default_factory=utc_now)
    random_weights: bool = False  # the job ran on seeded random weights
    # the most resident memory the job's work took in its worker, its child processes counted
    # (sweep/memory.py), or the worker's when it was killed over the memory limit; None: not measured
    peak_rss_bytes: int | None = None
