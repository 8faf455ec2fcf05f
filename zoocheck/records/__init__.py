"""Typed, frozen records: what every layer produces, stores and renders.

This package is the bottom of zoocheck's import graph: it imports nothing of zoocheck but its
errors, so the registry, converters, checks, reports, the store and the CLI can all share these
types (as Polygraphy's ``comparator/struct.py`` is shared by its tools). One module per domain:
``codec`` (the JSON codec and statuses), ``failures``, ``files`` (ONNX metadata, conversions),
``parity``, ``evaluation``, ``audit``, ``sweep``, ``comparison``; everything is importable from
``zoocheck.records`` itself. A record holds data and what follows from it (its status, verdict);
``zoocheck/reports/`` renders it.

Every record has ``to_json()`` (a JSON-ready dict) and ``from_json(data)``, which refuses a
malformed record with a ``RecordError`` naming the record kind and the field. One status
vocabulary is used everywhere: ``ok`` / ``failed`` / ``error`` / ``skipped``. Results files
written before it used ``pass`` / ``fail`` for parity; ``from_json`` reads those as ``ok`` /
``failed``.
"""

from __future__ import annotations

from typing import Any

from zoocheck.records.audit import (  # noqa: F401
    AuditRecord,
)
from zoocheck.records.codec import (  # noqa: F401
    STATUSES,
    Record,
    RecordError,
    Status,
    utc_now,
)
from zoocheck.records.comparison import (  # noqa: F401
    Comparison,
    FunctionComparison,
    ImagePixelDifference,
    LibraryPreprocessCheck,
    LogitEffect,
    PreprocessingDifference,
    Side,
    TensorDifference,
    Verdict,
    WeightsComparison,
)
from zoocheck.records.evaluation import (  # noqa: F401
    EvalResult,
    EvaluatedModel,
    PairedEval,
    SkippedImage,
)
from zoocheck.records.failures import (  # noqa: F401
    LIBRARY_LINE_CHARS,
    STAGES,
    Failure,
    _library_line,
    exception_line,
    first_line,
)
from zoocheck.records.files import (  # noqa: F401
    CalibrationSet,
    ConversionRecord,
    OnnxFile,
    OnnxMetadata,
    VariantInfo,
    WeightsRef,
)
from zoocheck.records.parity import (  # noqa: F401
    FP32_NOISE_MARGIN,
    PRECISION_TOLERANCES,
    PRECISIONS,
    Divergence,
    NodeError,
    OutputComparison,
    ParityResult,
    Tolerance,
)
from zoocheck.records.sweep import (  # noqa: F401
    SweepJobRecord,
)

RECORD_TYPES: dict[str, type[Record]] = {
    cls.KIND: cls
    for cls in (
        ConversionRecord,
        ParityResult,
        EvalResult,
        PairedEval,
        AuditRecord,
        SweepJobRecord,
        Failure,
        LibraryPreprocessCheck,
        Comparison,
    )
}


def record_from_json(data: Any, *, where: str = "record") -> Record:
    """Any stored record, typed by its ``kind``."""
    if not isinstance(data, dict):
        raise RecordError(f"{where}: expected a JSON object, got {type(data).__name__}")
    kind = data.get("kind")
    if kind not in RECORD_TYPES:
        raise RecordError(f"{where}: unknown record kind {kind!r} (known: {', '.join(RECORD_TYPES)})")
    return RECORD_TYPES[kind].from_json(data, where=f"{where} ({kind})")


__all__ = [
    "LIBRARY_LINE_CHARS",
    "AuditRecord",
    "CalibrationSet",
    "Comparison",
    "ConversionRecord",
    "Divergence",
    "EvalResult",
    "EvaluatedModel",
    "Failure",
    "FunctionComparison",
    "ImagePixelDifference",
    "LibraryPreprocessCheck",
    "LogitEffect",
    "NodeError",
    "OnnxFile",
    "OnnxMetadata",
    "OutputComparison",
    "PRECISIONS",
    "PRECISION_TOLERANCES",
    "PairedEval",
    "ParityResult",
    "PreprocessingDifference",
    "RECORD_TYPES",
    "Record",
    "RecordError",
    "STAGES",
    "STATUSES",
    "Side",
    "SkippedImage",
    "Status",
    "SweepJobRecord",
    "TensorDifference",
    "Tolerance",
    "VariantInfo",
    "Verdict",
    "WeightsComparison",
    "WeightsRef",
    "exception_line",
    "first_line",
    "record_from_json",
    "utc_now",
]
