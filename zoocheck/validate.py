"""Options and paths checked before any work: a conversion that can only fail at the end must
fail at the start, in well under a second, naming the option or path and the fix."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

from zoocheck.errors import BadInput

#: numpy's seed range (``np.random.default_rng`` and ``RandomState`` alike)
MAX_SEED = 2**32 - 1
# suffixes zoocheck adds beside an output name: ".json", ".data", ".<name>.XXXXXXXX" staging, lock
_LONGEST_COMPANION = len(".zoocheck-lock") + 2


def opset_range(source: str) -> tuple[int, int]:
    """The opsets ``source``'s exporter can write (its converter's ``opset_range``; None as the
    upper bound means the newest the installed onnx knows)."""
    from zoocheck.converters import converter_for

    low, high = converter_for(source).opset_range
    if high is None:
        import onnx

        high = onnx.defs.onnx_opset_version()
    return low, high


def check_opset(source: str, opset: int | None) -> None:
    if opset is None:
        return
    low, high = opset_range(source)
    if not low <= opset <= high:
        raise BadInput(f"--opset {opset}: the {source} exporter writes opsets {low} to {high}; pick one of those (default 17)")


def check_seed(seed: int) -> None:
    if not 0 <= seed <= MAX_SEED:
        raise BadInput(f"--seed {seed}: seeds run from 0 to {MAX_SEED}")


def positive_finite(option: str, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise BadInput(f"{option} {value}: must be a positive finite number")


def at_least_one(option: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise BadInput(f"{option} {value}: must be at least 1")


def _existing_ancestor(path: Path) -> Path:
    for parent in [path, *path.parents]:
        if parent.exists() or parent.is_symlink():
            return parent
    return Path(".")


def _probe_writable(directory: Path, what: str, path: Path) -> None:
    try:
        fd, probe = tempfile.mkstemp(prefix=".zoocheck-probe-", dir=directory)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise BadInput(f"{path}: {what} cannot be written ({directory}: {reason}); choose a writable location") from None
    os.close(fd)
    os.unlink(probe)


def _check_name(path: Path, what: str) -> None:
    try:
        name_max = os.pathconf(_existing_ancestor(path.parent), "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    for part in path.parts:
        if len(part.encode()) + _LONGEST_COMPANION > name_max:
            raise BadInput(
                f"{path}: {what} has a name over the file system's {name_max}-byte limit (with the companion files zoocheck writes beside it); choose a shorter name"
            )


def check_writable_file(path: Path, what: str = "the output file") -> None:
    """``path`` can be created or replaced: not a directory, a short enough name, and its folder
    (or the nearest existing ancestor, when folders will be created) writable."""
    path = Path(path)
    _check_name(path, what)
    if path.is_dir():
        raise BadInput(f"{path}: {what} is a directory; give a file name")
    ancestor = _existing_ancestor(path.parent)
    if not ancestor.is_dir():
        raise BadInput(f"{path}: {what} cannot be created because {ancestor} is a file, not a folder")
    _probe_writable(ancestor, what, path)


def check_writable_dir(path: Path, what: str) -> None:
    """``path`` is, or can be created as, a writable folder."""
    path = Path(path)
    _check_name(path, what)
    ancestor = _existing_ancestor(path)
    if ancestor == path and not path.is_dir():
        raise BadInput(f"{path}: {what} is a file, not a folder; give a folder")
    if not ancestor.is_dir():
        raise BadInput(f"{path}: {what} cannot be created because {ancestor} is a file, not a folder")
    _probe_writable(ancestor, what, path)


__all__ = [
    "MAX_SEED",
    "at_least_one",
    "check_opset",
    "check_seed",
    "check_writable_dir",
    "check_writable_file",
    "opset_range",
    "positive_finite",
]
