"""Which model and weights an ONNX file holds, read from the zoocheck metadata inside it.

Anything that takes an existing ONNX file (``parity --onnx``, ``eval --onnx``, an output about to be
replaced) compares the file's own identity with the one the run is about: another source, model,
seed or weights file is refused with a line saying what the file is. A file without zoocheck
metadata is taken only on explicit request, and whatever is measured on it is recorded as
unverified.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from zoocheck.digests import file_digest_or_none
from zoocheck.errors import BadInput


@dataclass(frozen=True)
class ModelIdentity:
    """A model as zoocheck names it: source, model, and either a random seed or a weights file."""

    source: str
    model: str
    random_seed: int | None = None  # set exactly when the weights are seeded random ones
    weights_sha256: str | None = None  # the weights file's checksum (None for a weights folder)
    weights_file: str | None = None

    @classmethod
    def of_run(cls, entry, weights: Path | None, random_seed: int | None) -> ModelIdentity:
        if weights is None:
            return cls(entry.source, entry.name, random_seed=random_seed)
        weights = Path(weights)
        return cls(entry.source, entry.name, weights_sha256=file_digest_or_none(weights), weights_file=str(weights))

    @classmethod
    def from_metadata(cls, meta: dict) -> ModelIdentity:
        weights = meta.get("weights") or {}
        seed = meta.get("random_seed") if meta.get("random_weights") else None
        return cls(str(meta.get("source")), str(meta.get("model")), seed, weights.get("sha256"), weights.get("file"))

    @property
    def random_weights(self) -> bool:
        return self.weights_sha256 is None and self.weights_file is None

    def describe(self) -> str:
        if self.random_weights:
            return f"{self.source}/{self.model} with random weights (seed {self.random_seed})"
        shown = f"sha256 {self.weights_sha256[:12]}" if self.weights_sha256 else self.weights_file
        return f"{self.source}/{self.model} with the weights {Path(self.weights_file or '?').name} ({shown})"

    def same_as(self, other: ModelIdentity) -> bool:
        if (self.source, self.model, self.random_weights) != (other.source, other.model, other.random_weights):
            return False
        if self.random_weights:
            return self.random_seed == other.random_seed
        if self.weights_sha256 and other.weights_sha256:
            return self.weights_sha256 == other.weights_sha256
        return Path(self.weights_file or "").resolve() == Path(other.weights_file or "").resolve()


def read_identity(path: Path, option: str = "--onnx") -> tuple[ModelIdentity | None, dict | None]:
    """(identity, metadata) of an ONNX file; (None, None) when it has no zoocheck metadata.
    BadInput when it is not an ONNX file at all."""
    import onnx
    from google.protobuf.message import DecodeError

    from zoocheck.converters.normalize import METADATA_KEY

    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: no such ONNX file; check the {option} path")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, OSError, RuntimeError) as exc:
        raise BadInput(
            f"{path}: not a readable ONNX file ({type(exc).__name__}); check the {option} path, or convert the model again with `zoocheck convert`"
        ) from None
    if not model.graph.node:
        raise BadInput(f"{path}: not an ONNX model (no graph in it); check the {option} path")
    for prop in model.metadata_props:
        if prop.key == METADATA_KEY:
            try:
                meta = json.loads(prop.value)
            except ValueError:
                break
            return ModelIdentity.from_metadata(meta), meta
    return None, None


def onnx_metadata(path: Path):
    """The zoocheck metadata of an ONNX file as an ``OnnxMetadata``; None for a file without it.
    BadInput when it is not an ONNX file, or its metadata is not zoocheck's."""
    from zoocheck.records import OnnxMetadata, RecordError

    _, meta = read_identity(path)
    if meta is None:
        return None
    try:
        return OnnxMetadata.from_json(meta)
    except RecordError as exc:
        raise BadInput(f"{path}: its zoocheck metadata is not usable ({exc}); convert it again with `zoocheck convert`") from None


def check_onnx_file(path: Path, expected: ModelIdentity, *, allow_unverified: bool, option: str = "--onnx") -> dict | None:
    """Refuse an ONNX file that holds another model or other weights than ``expected``.

    Returns the file's zoocheck metadata; None for a file without any, taken only with
    ``allow_unverified`` (the caller records its results as unverified).
    """
    found, meta = read_identity(path, option)
    if found is None:
        if allow_unverified:
            return None
        raise BadInput(
            f"{path}: has no zoocheck metadata, so which model and weights it holds cannot be checked; "
            f"convert it with `zoocheck convert`, or pass --unverified-onnx to use it anyway (recorded as unverified)"
        )
    if not found.same_as(expected):
        raise BadInput(
            f"{path}: this file is {found.describe()}, not {expected.describe()}; give the file of that model, or the --src/--model/--seed/--weights it was made with"
        )
    return meta


def entry_of_file(path: Path, option: str = "--onnx"):
    """The registry entry (or library model) that the ONNX file at ``path`` names in its zoocheck
    metadata; None for a file without any. BadInput for a model this zoocheck does not know."""
    from zoocheck.converters import library_entry
    from zoocheck.sources import UnknownSourceError
    from zoocheck.zoo_registry import UnknownModelError, select_entries

    found, _ = read_identity(path, option)
    if found is None:
        return None
    try:
        [entry] = select_entries(found.source, [found.model], library=library_entry)
        return entry
    except (UnknownSourceError, UnknownModelError) as exc:
        raise BadInput(
            f"{path}: holds {found.source}/{found.model}, which this zoocheck cannot load ({exc}); name the model with --src and --model"
        ) from None


def weights_recorded_in(path: Path, entry, option: str = "--onnx") -> tuple[Path | None, int | None] | None:
    """(weights, random seed) that the ONNX file at ``path`` says it was made with, for a run on it
    that names none: the seed of random weights, else the recorded weights file (or ``entry``'s
    fetched file in the cache) found with the recorded checksum. None for a file without zoocheck
    metadata. BadInput for a file of another model, or when its weights file is not found."""
    check_onnx_model(path, entry, allow_unverified=True, option=option)
    found, _ = read_identity(path, option)
    if found is None:
        return None
    if found.random_weights:
        return None, found.random_seed
    from zoocheck.zoo_registry.download import cached_weights_path

    recorded = Path(found.weights_file or "")
    for candidate in (recorded, cached_weights_path(entry)):
        if (
            candidate is not None
            and candidate.exists()
            and (found.weights_sha256 is None or file_digest_or_none(candidate) == found.weights_sha256)
        ):
            return candidate, None
    checksum = f" (sha256 {found.weights_sha256[:12]})" if found.weights_sha256 else ""
    raise BadInput(
        f"{path}: was made with the weights {recorded.name}{checksum}, which are not at {recorded}; pass --weights PATH to that file"
    )


def check_input_size(path: Path, crop: int, model: str, option: str = "--onnx") -> None:
    """Refuse an ONNX file whose declared input size is not ``crop`` (what ``model``'s preprocessing
    makes): onnxruntime would refuse every batch."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    weights = {t.name for t in graph.initializer}  # at IR 3 the initializers are graph inputs too
    declared = next((i for i in graph.input if i.name not in weights), None)
    dims = [d.dim_value if d.HasField("dim_value") else None for d in declared.type.tensor_type.shape.dim] if declared is not None else []
    if len(dims) == 4 and None not in dims[2:] and tuple(dims[2:]) != (crop, crop):
        height, width = dims[2:]
        raise BadInput(
            f"{path}: takes {height}x{width} inputs, but the preprocessing of {model} crops {crop}x{crop}; "
            f"give the {option} file of that model made at {crop}x{crop}, or the --src/--model whose preprocessing crops {height}x{width}"
        )


def check_onnx_model(path: Path, entry, *, allow_unverified: bool, option: str = "--onnx") -> dict | None:
    """Refuse an ONNX file of another source or model than ``entry`` (whatever its weights: for
    checks whose verdict does not depend on them). Returns its metadata; None as in check_onnx_file."""
    found, _ = read_identity(path, option)
    expected = (
        ModelIdentity(entry.source, entry.name)
        if found is None
        else ModelIdentity(entry.source, entry.name, found.random_seed, found.weights_sha256, found.weights_file)
    )
    return check_onnx_file(path, expected, allow_unverified=allow_unverified, option=option)


def record_disowned_by_file(record) -> str | None:
    """Why a stored conversion/parity/eval record no longer describes its ONNX file (the file was
    replaced since by one of another model or other weights), or None while it still does or the
    file is gone. Reads the description beside the file (``FILE.onnx.json``), else its metadata."""
    path = getattr(record, "onnx_path", None)
    if record.KIND not in ("conversion", "parity", "eval") or not path or getattr(record, "onnx_verified", True) is False:
        return None
    path = Path(path)
    beside = path.with_name(path.name + ".json")
    try:
        if beside.is_file():
            found = ModelIdentity.from_metadata(json.loads(beside.read_text(encoding="utf-8")))
        elif path.is_file():
            found, _ = read_identity(path)
        else:
            return None
    except (BadInput, ValueError, OSError):
        return f"its ONNX file {path} can no longer be read"
    if found is None:
        return f"its ONNX file {path} no longer carries zoocheck metadata"
    random = bool(record.random_weights)
    seed = getattr(record, "random_seed", None)
    if (
        (found.source, found.model) != (record.source, record.model)
        or found.random_weights != random
        or (random and seed is not None and found.random_seed != seed)
    ):
        return f"its ONNX file {path} now holds {found.describe()}"
    return None


def check_replaceable(output: Path, expected: Callable[[], ModelIdentity], *, overwrite: bool) -> None:
    """An existing ``output`` is replaced only when it is the same model and weights (a re-run) or
    with ``overwrite``: nothing is overwritten silently. ``expected`` gives the run's identity,
    asked only when there is a file to compare it with (it hashes the weights file)."""
    output = Path(output)
    if overwrite or not output.exists() or output.is_dir():
        return
    try:
        found, _ = read_identity(output, "--output")
    except BadInput:
        found = None
    if found is not None and found.same_as(expected()):
        return
    what = found.describe() if found is not None else "a file zoocheck did not write"
    raise BadInput(f"{output}: already holds {what}; pass --overwrite to replace it, or choose another --output")


__all__ = [
    "ModelIdentity",
    "check_input_size",
    "entry_of_file",
    "check_onnx_file",
    "check_onnx_model",
    "check_replaceable",
    "read_identity",
    "record_disowned_by_file",
    "weights_recorded_in",
]
