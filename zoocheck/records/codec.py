"""The JSON codec every record shares: ``Record.to_json`` / ``from_json`` (strict: a malformed
record is refused naming its kind and field), the one status vocabulary, ``RecordError``."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import sys
import types
import typing
from typing import Any, ClassVar, Literal

#: ok: the check passed / the model converted. failed: it ran and a tolerance or published number
#: was not met. error: it could not run (crash, unreadable file). skipped: deliberately not judged.
Status = Literal["ok", "failed", "error", "skipped"]
STATUSES: tuple[str, ...] = typing.get_args(Status)
_LEGACY_STATUS = {"pass": "ok", "fail": "failed"}


class RecordError(ValueError):
    """A stored or received record that does not have the shape its kind requires."""


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------------------------------------
# JSON <-> dataclass, strictly


def _finite_or_text(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)  # JSON has no NaN / Inf


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return value.to_json()
    if isinstance(value, float):
        return _finite_or_text(value)
    if isinstance(value, (tuple, list)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    return value


def _decode(value: Any, hint: Any, where: str) -> Any:
    """``value`` read from JSON, checked against the type ``hint`` and converted to it."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _decode(value, option, where)
            except RecordError as exc:
                errors.append(str(exc))
        raise RecordError(errors[0] if len(errors) == 1 else f"{where}: {value!r} fits none of {hint}")
    if origin is Literal:
        if value not in args:
            raise RecordError(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise RecordError(f"{where}: expected a list, got {type(value).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise RecordError(f"{where}: expected {len(args)} items, got {len(value)}")
        return tuple(_decode(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise RecordError(f"{where}: expected an object, got {type(value).__name__}")
        value_hint = args[1] if args else Any
        return {k: _decode(v, value_hint, f"{where}.{k}") for k, v in value.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return hint.from_json(value, where=where)
    if hint is float:
        if isinstance(value, str) and value.lower() in ("nan", "inf", "-inf"):
            return float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RecordError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise RecordError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint in (str, bool):
        if not isinstance(value, hint):
            raise RecordError(f"{where}: expected {hint.__name__}, got {value!r}")
        return value
    raise TypeError(f"{where}: no JSON decoding for {hint}")  # a programming error in this module


class Record:
    """Shared ``to_json``/``from_json`` for the frozen dataclasses below.

    ``KIND`` (when set) is written as ``"kind"`` and checked on reading; keys a record does not
    declare are ignored (read-only extras such as a derived ``relative_error``)."""

    KIND: ClassVar[str | None] = None

    def to_json(self) -> dict[str, Any]:
        body = {f.name: _encode(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        return {"kind": self.KIND, **body} if self.KIND else body

    @classmethod
    def _upgrade(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Old stored spellings -> today's (statuses before the one vocabulary)."""
        status = data.get("status")
        if isinstance(status, str) and status in _LEGACY_STATUS:
            data = {**data, "status": _LEGACY_STATUS[status]}
        return data

    @classmethod
    def from_json(cls, data: Any, *, where: str | None = None):
        where = where or (f"{cls.KIND} record" if cls.KIND else cls.__name__)
        if not isinstance(data, dict):
            raise RecordError(f"{where}: expected a JSON object, got {type(data).__name__}")
        if cls.KIND and data.get("kind", cls.KIND) != cls.KIND:
            raise RecordError(f"{where}: kind is {data.get('kind')!r}, not {cls.KIND!r}")
        data = cls._upgrade(data)
        hints = typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))
        values = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name in data:
                values[f.name] = _decode(data[f.name], hints[f.name], f"{where}: {f.name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise RecordError(f"{where}: missing field {f.name!r}")
        return cls(**values)
