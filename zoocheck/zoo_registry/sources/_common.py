"""What the per-source tables share: reading the packaged CSV data and turning its cells into types.

The published numbers, URLs and checksums live in ``zoo_registry/data/*.csv`` (copied from the
reference tables, one file per zoo, plus ``extra_published.csv`` for numbers from pages those files
do not cover). Each ``sources/<zoo>.py`` joins those rows to a small table of what the CSV lacks
(architecture, builder, preprocessing preset). Pure Python, no framework imports: ``zoocheck list``
must stay instant.
"""

from __future__ import annotations

import csv
import io
import re
from functools import lru_cache
from importlib import resources

from zoocheck.zoo_registry.types import Architecture, Checksum, Published

DATA_PACKAGE = "zoocheck.zoo_registry"  # files under its data/ folder (package data)

#: the columns every reference CSV has
COLUMNS = (
    "source", "model", "variant", "depth", "top1", "top5", "params_m", "flops_g", "input_size",
    "resize", "crop", "interpolation", "mean", "std", "weights_url", "checksum_or_sha", "notes",
)  # fmt: skip

#: reference name for the vendor card rows (shared/seeds/modelzoo_resnext_card.md)
VENDOR_CARD = "vendor ResNeXt model card (modelzoo_resnext_card.md)"

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@lru_cache(maxsize=None)
def read_rows(file_name: str) -> tuple[dict[str, str], ...]:
    """The rows of one packaged CSV, as dicts of stripped strings."""
    text = resources.files(DATA_PACKAGE).joinpath("data", file_name).read_text(encoding="utf-8")
    return tuple({k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(io.StringIO(text)))


@lru_cache(maxsize=None)
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


def note_field(notes: str, key: str) -> str | None:
    """The value of ``key=value`` in a CSV notes cell (up to the next ``;``)."""
    m = re.search(rf"(?:^|[;\s]){re.escape(key)}=([^;]*)", notes)
    return m.group(1).strip() if m else None


# --- architecture ids from names --------------------------------------------------------------

_RESNET = re.compile(r"^resnet(\d+)(?:_v(1|2)|_v1([bcd])|([bcd]))?$")
_RESNEXT = re.compile(r"^resnext(\d+)(d)?[_-](\d+)x(\d+)d?$")
_WIDE = re.compile(r"^wide_resnet(\d+)_(\d+)$")


def arch_from_name(name: str) -> Architecture | None:
    """The Architecture a lower-case ResNet-family model name denotes, None when it is none of them.

    ``resnet50`` b, ``resnet50_v1`` v1, ``resnet50_v2`` v2, ``resnet50_v1b/c/d`` (GluonCV),
    ``resnet50c``/``resnet50d`` (timm), ``resnext50_32x4d``, ``resnext50d_32x4d`` (timm),
    ``resnext101-32x8d`` (mmpretrain config), ``wide_resnet50_2``.
    """
    name = name.lower()
    m = _RESNET.match(name)
    if m:
        depth, v12, gluoncv, timm_suffix = m.groups()
        variant = {"1": "v1", "2": "v2"}.get(v12 or "") or gluoncv or timm_suffix or "b"
        return Architecture(depth=int(depth), variant=variant)  # type: ignore[arg-type]
    m = _RESNEXT.match(name)
    if m:
        depth, d, groups, width = m.groups()
        return Architecture(depth=int(depth), variant="d" if d else "b", groups=int(groups),
                            width_per_group=int(width), family="resnext")  # fmt: skip
    m = _WIDE.match(name)
    if m:
        depth, k = m.groups()
        return Architecture(depth=int(depth), width_per_group=64 * int(k), family="wide_resnet")
    return None


def other_arch(other_id: str) -> Architecture:
    """An architecture outside what ``Architecture`` describes (built by name by its converter)."""
    return Architecture(depth=0, family="other", other_id=other_id)


def published(row: dict[str, str], reference: str, *, flops_unit: str | None = "MACs",
              params_m: float | None = None) -> Published:  # fmt: skip
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
