"""What the per-source tables share: reading the packaged CSV data and turning its cells into types.

The published numbers, URLs and checksums live in ``zoo_registry/data/*.csv`` (copied from the
reference tables, one file per zoo, plus ``extra_published.csv`` for numbers from pages those files
do not cover). Each ``sources/<zoo>.py`` joins those rows to a small table of what the CSV lacks
(architecture, builder, preprocessing preset). Pure Python, no framework imports: ``zoocheck list``
must stay instant.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import re
from functools import cache
from importlib import resources

from zoocheck.zoo_registry.types import Checksum, Entry, Published

DATA_PACKAGE = "zoocheck.zoo_registry"  # files under its data/ folder (package data)

#: the columns every reference CSV has
COLUMNS = (
    "source", "model", "variant", "depth", "top1", "top5", "params_m", "flops_g", "input_size",
    "resize", "crop", "interpolation", "mean", "std", "weights_url", "checksum_or_sha", "notes",
)  # fmt: skip

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Row(dict):
    """One CSV row (column -> stripped string) that knows where it comes from."""

    def __init__(self, cells: dict[str, str], file_name: str, line: int):
        super().__init__(cells)
        self.file_name, self.line = file_name, line

    @property
    def where(self) -> str:
        return f"zoo_registry/data/{self.file_name} line {self.line}"


class RowError(ValueError):
    """A registry row that cannot be turned into an entry; the message names the file and line."""


@contextlib.contextmanager
def located(row: Row):
    """Turn any error raised while building an entry from ``row`` into a RowError naming the row."""
    try:
        yield
    except RowError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RowError(f"{row.where} ({row.get('model') or row.get('name', '?')}): {type(exc).__name__}: {exc}") from exc


@cache
def read_rows(file_name: str) -> tuple[Row, ...]:
    """The rows of one packaged CSV."""
    text = resources.files(DATA_PACKAGE).joinpath("data", file_name).read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text))
    rows = []
    for cells in reader:
        if None in cells:  # more cells than the header has columns
            raise RowError(
                f"zoo_registry/data/{file_name} line {reader.line_num}: {len(cells) - 1 + len(cells[None])} cells, the header has {len(cells) - 1}"
            )
        rows.append(Row({k: (v or "").strip() for k, v in cells.items()}, file_name, reader.line_num))
    return tuple(rows)


@cache
def extra_published() -> dict[tuple[str, str], tuple[Published, ...]]:
    """(source, entry name) -> numbers from pages the reference CSVs do not cover (extra_published.csv)."""
    out: dict[tuple[str, str], list[Published]] = {}
    for row in read_rows("extra_published.csv"):
        pub = Published(
            top1=num(row["top1"]),
            top5=num(row["top5"]),
            params_m=num(row["params_m"]),
            flops_g=num(row["flops_g"]),
            flops_unit=row["flops_unit"] or None,  # type: ignore[arg-type]
            input_size=integer(row["input_size"]),
            reference=f"{row['reference']}: {row['note']}" if row["note"] else row["reference"],
        )
        out.setdefault((row["source"], row["name"]), []).append(pub)
    return {k: tuple(v) for k, v in out.items()}


def extras_for(source: str, name: str) -> tuple[Published, ...]:
    return extra_published().get((source, name), ())


RELATIONS = ("same_weights_as", "exported_from")


@cache
def _relations() -> dict[tuple[str, str], dict[str, list[str]]]:
    """(source, name) -> relation -> keys of the related entries (relations.csv; same_weights_as is
    declared once per pair and holds both ways)."""
    out: dict[tuple[str, str], dict[str, list[str]]] = {}
    for row in read_rows("relations.csv"):
        relation = row["relation"]
        if relation not in RELATIONS:
            raise ValueError(f"relations.csv: unknown relation {relation!r} (known: {', '.join(RELATIONS)})")
        this, other = (row["source"], row["name"]), (row["other_source"], row["other_name"])
        out.setdefault(this, {}).setdefault(relation, []).append("/".join(other))
        if relation == "same_weights_as":
            out.setdefault(other, {}).setdefault(relation, []).append("/".join(this))
    return out


def with_relations(entries: tuple[Entry, ...]) -> tuple[Entry, ...]:
    """``entries`` with their ``same_weights_as`` / ``exported_from`` from relations.csv."""
    out = []
    for entry in entries:
        related = _relations().get((entry.source, entry.name), {})
        exported = related.get("exported_from", [])
        if len(exported) > 1:
            raise ValueError(f"relations.csv: {entry.key} is exported from several entries: {exported}")
        out.append(
            dataclasses.replace(
                entry, same_weights_as=tuple(related.get("same_weights_as", ())), exported_from=exported[0] if exported else None
            )
        )
    return tuple(out)


def flag(cell: str) -> bool:
    """A 'true' / 'false' CSV cell."""
    if cell not in ("true", "false"):
        raise ValueError(f"expected true or false, found {cell!r}")
    return cell == "true"


def num(cell: str) -> float | None:
    return float(cell) if cell else None


def integer(cell: str) -> int | None:
    return int(cell) if cell else None


def triple(cell: str, default: tuple[float, float, float]) -> tuple[float, float, float]:
    if not cell:
        return default
    a, b, c = (float(x) for x in cell.split())
    return (a, b, c)


_CHECKSUM = re.compile(r"^(sha256|sha1|md5)(?:\[:(\d+)\])?=([0-9a-fA-F]+)$")


def parse_checksum(cell: str) -> Checksum | None:
    """``sha256[:8]=0676ba61`` (hash prefix in the file name), ``sha1=<40 hex>``, ``sha256=<64 hex>``."""
    if not cell:
        return None
    m = _CHECKSUM.match(cell)
    if not m:
        raise ValueError(f"unparseable checksum cell {cell!r}")
    algorithm, prefix_len, value = m.groups()
    value = value.lower()
    if prefix_len is not None and int(prefix_len) != len(value):
        raise ValueError(f"checksum cell {cell!r}: prefix length does not match the digits")
    full = Checksum._FULL_LENGTH[algorithm]
    kind = "full" if len(value) == full else "prefix"
    return Checksum(algorithm=algorithm, value=value, kind=kind)  # type: ignore[arg-type]


def file_name_of(url: str) -> str:
    return url.rsplit("/", 1)[-1].split("?", 1)[0]


def published(row: dict[str, str], reference: str, *, flops_unit: str | None = "MACs", params_m: float | None = None) -> Published:
    """The numbers of one reference-CSV row."""
    return Published(
        top1=num(row["top1"]),
        top5=num(row["top5"]),
        params_m=num(row["params_m"]) if params_m is None else params_m,
        flops_g=num(row["flops_g"]),
        flops_unit=flops_unit if row["flops_g"] else None,  # type: ignore[arg-type]
        input_size=integer(row["input_size"]),
        reference=reference,
    )
