"""ImageNet-1k validation data as users have it: the class table, label mapping and the four layouts.

Every label ends up as the sorted-WNID index 0..999 that every zoo's classifier outputs. The mapping
comes from the packaged class table (``data/imagenet_classes.tsv``: index, wnid, the devkit's
ILSVRC2012_ID, names), never from whichever folders happen to be present.

Layouts, detected by ``read_dataset(path)`` (``path`` is the data folder or the label file itself):

- ``devkit``: ``ILSVRC2012_validation_ground_truth.txt`` (line i = ILSVRC2012_ID of
  ``ILSVRC2012_val_%08d.JPEG`` % i, in the devkit's own ID order, mapped to indices through the
  ``ilsvrc2012_id`` column; no meta.mat needed). Looked for in the folder, its ``data/`` and
  ``ILSVRC2012_devkit_t12/data/``. Images: the first folder that holds an ``ILSVRC2012_val_*``
  image among the data folder, the ground truth's folder and the two folders above it, each
  itself, then its ``val/``, then its ``ILSVRC2012_img_val/``.
- ``kaggle``: ``LOC_val_solution.csv`` (``ImageId,PredictionString``; the label is the first token,
  a WNID, of PredictionString). Images: ``<ImageId>.JPEG`` in the folder of the CSV, its
  ``ILSVRC/Data/CLS-LOC/val/`` (the Kaggle download) or its ``val/``; the first that has the first image.
- ``list``: PaddleClas ``val_list.txt`` (``path index`` per line; paths relative to the list's folder).
- ``imagefolder``: ``<wnid>/*.JPEG`` class folders, in the folder or in its ``val/``.

A listed image whose file is absent is kept in the sample list: evaluation counts it as skipped
("missing file") rather than silently shrinking the set.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from zoocheck.checks.images import IMAGE_SUFFIXES

NUM_CLASSES = 1000
CLASS_TABLE = Path(__file__).parent / "data" / "imagenet_classes.tsv"
WNID_RE = re.compile(r"^n\d{8}$")
VAL_NAME_RE = re.compile(r"^ILSVRC2012_val_(\d{8})\.(JPEG|jpeg|jpg|JPG|png|PNG)$")

DEVKIT_GT = "ILSVRC2012_validation_ground_truth.txt"
KAGGLE_CSV = "LOC_val_solution.csv"
PADDLE_LIST = "val_list.txt"
LAYOUTS = ("imagefolder", "list", "kaggle", "devkit")


class DatasetError(ValueError):
    """A data folder or label file that zoocheck cannot read as ImageNet-1k val; the message says why."""


@dataclass(frozen=True)
class ImageNetClass:
    index: int  # sorted-WNID index: the model output index
    wnid: str
    ilsvrc2012_id: int  # the devkit's own ID, 1..1000
    name: str
    short_name: str  # torchvision's display name


@cache
def classes() -> tuple[ImageNetClass, ...]:
    """The 1000 ImageNet-1k classes in sorted-WNID order (the packaged class table)."""
    with open(CLASS_TABLE, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    table = tuple(ImageNetClass(int(r["index"]), r["wnid"], int(r["ilsvrc2012_id"]), r["name"], r["torchvision_name"]) for r in rows)
    if [c.index for c in table] != list(range(NUM_CLASSES)) or sorted(c.wnid for c in table) != [c.wnid for c in table]:
        raise RuntimeError(f"{CLASS_TABLE}: not the 1000 ImageNet classes in sorted-WNID order")
    return table


@cache
def wnid_to_index() -> dict[str, int]:
    return {c.wnid: c.index for c in classes()}


@cache
def ilsvrc2012_id_to_index() -> dict[int, int]:
    return {c.ilsvrc2012_id: c.index for c in classes()}


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int  # sorted-WNID index


@dataclass(frozen=True)
class Dataset:
    """An ordered list of labelled images and where it was read from."""

    layout: str  # one of LAYOUTS
    root: Path  # the folder or label file given
    label_file: Path | None
    samples: tuple[Sample, ...]

    def __len__(self) -> int:
        return len(self.samples)

    def fingerprint(self) -> str:
        """sha256 over the ordered (file name, size, mtime, label) of every sample.

        Names rather than full paths, so moving the folder keeps the fingerprint (and the cache);
        size and mtime, so replacing an image changes it. A missing file contributes ``-1``.
        """
        digest = hashlib.sha256()
        for sample in self.samples:
            try:
                st = os.stat(sample.path)
                size, mtime = st.st_size, st.st_mtime_ns
            except OSError:
                size, mtime = -1, -1
            rel = _relative(sample.path, self.base)
            digest.update(f"{rel}\t{size}\t{mtime}\t{sample.label}\n".encode())
        return digest.hexdigest()

    @property
    def base(self) -> Path:
        return self.root if self.root.is_dir() else self.root.parent

    def describe(self) -> dict:
        return {
            "layout": self.layout,
            "root": str(self.root),
            "label_file": str(self.label_file) if self.label_file else None,
            "images": len(self.samples),
        }


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


# ---------------------------------------------------------------------------------------------
# readers, one per layout


def read_imagefolder(root: Path) -> list[Sample]:
    """``<wnid>/<image>`` under ``root``; labels from the class table, so a folder set with only a
    few classes present still maps each to its true index. Unknown class folders are an error."""
    index = wnid_to_index()
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    unknown = [d.name for d in class_dirs if d.name not in index]
    if unknown:
        raise DatasetError(f"{root}: folders that are not ImageNet-1k WNIDs: {', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''}")
    samples = []
    for d in class_dirs:
        label = index[d.name]
        samples.extend(Sample(p, label) for p in sorted(d.iterdir()) if p.is_file() and _is_image(p))
    if not samples:
        raise DatasetError(f"{root}: no images in its class folders")
    return samples


def _numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number from 1, stripped text) of every non-blank line of a text list, so an error can
    name the line."""
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if line.strip():
                yield number, line.strip()


def read_path_index_list(list_file: Path) -> list[Sample]:
    """PaddleClas ``val_list.txt``: ``relative/path.JPEG index`` per line, relative to the list's folder."""
    base = list_file.parent
    samples = []
    for number, line in _numbered_lines(list_file):
        parts = line.rsplit(None, 1)
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise DatasetError(f"{list_file}:{number}: expected 'path index', got {line[:80]!r}")
        label = int(parts[1])
        if not 0 <= label < NUM_CLASSES:
            raise DatasetError(f"{list_file}:{number}: class index {label} outside 0..{NUM_CLASSES - 1}")
        samples.append(Sample(base / parts[0], label))
    if not samples:
        raise DatasetError(f"{list_file}: no entries")
    return samples


def _first_dir_with(candidates: list[Path], name: str) -> Path | None:
    for d in candidates:
        if (d / name).is_file():
            return d
    return None


def read_kaggle_csv(csv_file: Path) -> list[Sample]:
    """Kaggle ``LOC_val_solution.csv``: ``ImageId,PredictionString`` with the WNID as the first token."""
    index = wnid_to_index()
    rows: list[tuple[str, int]] = []
    with open(csv_file, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header or [h.strip() for h in header[:2]] != ["ImageId", "PredictionString"]:
            raise DatasetError(f"{csv_file}: expected the header 'ImageId,PredictionString', got {header!r}")
        for number, row in enumerate(reader, 2):
            if not row:
                continue
            tokens = row[1].split() if len(row) > 1 else []
            if not tokens or tokens[0] not in index:
                raise DatasetError(f"{csv_file}:{number}: PredictionString does not start with an ImageNet-1k WNID: {row!r}")
            rows.append((row[0].strip(), index[tokens[0]]))
    if not rows:
        raise DatasetError(f"{csv_file}: no entries")
    base = csv_file.parent
    candidates = [base, base / "ILSVRC" / "Data" / "CLS-LOC" / "val", base / "val"]
    # The first candidate folder that has any listed image (checked in CSV order).
    image_dir = None
    for image_id, _ in rows[:100]:
        image_dir = _first_dir_with(candidates, image_id + ".JPEG")
        if image_dir is not None:
            break
    image_dir = image_dir or candidates[1]
    return [Sample(image_dir / f"{image_id}.JPEG", label) for image_id, label in rows]


def read_devkit(gt_file: Path, data_root: Path | None = None) -> list[Sample]:
    """The devkit's ground truth: line i is the ILSVRC2012_ID of ``ILSVRC2012_val_%08d.JPEG`` % i."""
    to_index = ilsvrc2012_id_to_index()
    ids = []
    for number, line in _numbered_lines(gt_file):
        if not line.isdigit() or int(line) not in to_index:
            raise DatasetError(f"{gt_file}:{number}: expected an ILSVRC2012_ID 1..1000, got {line[:40]!r}")
        ids.append(int(line))
    if not ids:
        raise DatasetError(f"{gt_file}: no entries")
    # The data folder given, then the ground truth's folder and up to two folders above it
    # (``ILSVRC2012_devkit_t12/data/`` sits inside the data folder): each itself, its ``val/``
    # and its ``ILSVRC2012_img_val/``.
    candidates: list[Path] = []
    for folder in ([data_root] if data_root is not None else []) + [gt_file.parent, *list(gt_file.parent.parents)[:2]]:
        for d in (folder, folder / "val", folder / "ILSVRC2012_img_val"):
            if d not in candidates:
                candidates.append(d)
    image_dir = None
    for d in candidates:
        if d.is_dir() and any(VAL_NAME_RE.match(p.name) for p in _scan(d)):
            image_dir = d
            break
    if image_dir is None:
        raise DatasetError(f"{gt_file}: no ILSVRC2012_val_*.JPEG images found in any of: {', '.join(str(c) for c in candidates)}")
    return [Sample(image_dir / f"ILSVRC2012_val_{i:08d}.JPEG", to_index[gid]) for i, gid in enumerate(ids, 1)]


def _scan(directory: Path):
    with os.scandir(directory) as it:
        for entry in it:
            yield Path(entry.path)


# ---------------------------------------------------------------------------------------------
# detection


def _devkit_gt_in(folder: Path) -> Path | None:
    for candidate in (folder / DEVKIT_GT, folder / "data" / DEVKIT_GT, folder / "ILSVRC2012_devkit_t12" / "data" / DEVKIT_GT):
        if candidate.is_file():
            return candidate
    return None


def _has_wnid_dirs(folder: Path) -> bool:
    return folder.is_dir() and any(WNID_RE.match(p.name) and p.is_dir() for p in _scan(folder))


def read_dataset(path: str | Path) -> Dataset:
    """Detect the layout of ``path`` (a data folder or a label file) and read its labelled images.

    Order for a folder: ``val_list.txt``, ``LOC_val_solution.csv``, the devkit ground truth, then
    WNID class folders (in the folder, then in its ``val/``).
    """
    root = Path(path)
    if not root.exists():
        raise DatasetError(f"{root}: no such data folder or label file")
    if root.is_file():
        name = root.name
        if name == DEVKIT_GT or "ground_truth" in name:
            return Dataset("devkit", root, root, tuple(read_devkit(root)))
        if root.suffix.lower() == ".csv":
            return Dataset("kaggle", root, root, tuple(read_kaggle_csv(root)))
        if root.suffix.lower() == ".txt":
            return Dataset("list", root, root, tuple(read_path_index_list(root)))
        raise DatasetError(f"{root}: not a label file zoocheck knows ({PADDLE_LIST}, {KAGGLE_CSV}, {DEVKIT_GT})")
    if (root / PADDLE_LIST).is_file():
        return Dataset("list", root, root / PADDLE_LIST, tuple(read_path_index_list(root / PADDLE_LIST)))
    if (root / KAGGLE_CSV).is_file():
        return Dataset("kaggle", root, root / KAGGLE_CSV, tuple(read_kaggle_csv(root / KAGGLE_CSV)))
    gt = _devkit_gt_in(root)
    if gt is not None:
        return Dataset("devkit", root, gt, tuple(read_devkit(gt, root)))
    for folder in (root, root / "val"):
        if _has_wnid_dirs(folder):
            return Dataset("imagefolder", root, None, tuple(read_imagefolder(folder)))
    raise DatasetError(
        f"{root}: not an ImageNet-1k val layout zoocheck knows: expected WNID class folders (n01440764/...), "
        f"{PADDLE_LIST}, {KAGGLE_CSV} or {DEVKIT_GT}"
    )


__all__ = [
    "DatasetError",
    "Dataset",
    "ImageNetClass",
    "LAYOUTS",
    "NUM_CLASSES",
    "Sample",
    "classes",
    "ilsvrc2012_id_to_index",
    "read_dataset",
    "wnid_to_index",
]
