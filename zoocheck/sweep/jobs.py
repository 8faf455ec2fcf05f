"""What a sweep runs: one job per (entry, step), its identity (the cache key), and the failure taxonomy.

A job's key hashes everything its result depends on: the registry entry as data, the weights'
identity (random seed, or the weights file's size, mtime and the entry's published checksum), the
step's options, zoocheck's version, a digest of its code (``digests.code_digest``: an edit
re-runs what it could change) and the versions of every framework package the source may use. A re-run
skips a job whose key has a finished record; anything that changed gets a new key and runs again.
The conversion's key also names its cached ONNX file, which parity and eval reuse.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path

from zoocheck import __version__
from zoocheck.digests import code_digest, json_digest
from zoocheck.records import Failure
from zoocheck.zoo_registry.types import Entry

STEPS = ("convert", "parity", "eval", "compare")
#: Steps that need the converted ONNX file of the same entry.
NEEDS_CONVERSION = ("parity", "eval")

#: The failure taxonomy, in the order the summary lists it.
CATEGORIES = (
    "load", "weights", "build", "export", "unsupported op", "numerical", "preprocessing", "labels",
    "timeout", "out of memory",
)  # fmt: skip

# packages every job's result depends on, whatever the source
_COMMON_PACKAGES = ("numpy", "onnx", "onnxruntime")


@cache
def framework_versions(extra: str | None) -> dict[str, str]:
    """Installed versions of the packages zoocheck's pip extra ``extra`` declares (None: none), read
    from zoocheck's own package metadata (pyproject.toml is the one list), plus numpy/onnx/onnxruntime."""
    wanted = list(_COMMON_PACKAGES)
    try:
        requirements = metadata.requires("zoocheck") or []
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        requirements = []
    for requirement in requirements:
        name, _, marker = requirement.partition(";")
        if extra is not None and re.search(rf"extra\s*==\s*['\"]{re.escape(extra)}['\"]", marker):
            wanted.append(re.split(r"[<>=!~\[ ]", name.strip(), maxsplit=1)[0])
    versions = {}
    for name in dict.fromkeys(wanted):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def source_versions(source: str) -> dict[str, str]:
    """The installed versions of every package a job of ``source`` may run: each of its frameworks'
    extras (the ONNX zoo's random-weights files are written by MXNet or torch, though its jobs run
    in onnxruntime's pool), plus numpy/onnx/onnxruntime."""
    from zoocheck.sources import get_source

    versions = framework_versions(None)
    for extra in get_source(source).extras:
        versions = {**versions, **framework_versions(extra)}
    return versions


def weights_identity(weights: Path | None, random_seed: int | None, entry: Entry) -> dict:
    """What tells one set of weights from another without reading gigabytes: the seed, or the
    file's name, size and mtime with the checksum the zoo publishes."""
    if weights is None:
        return {"random_seed": random_seed}
    st = Path(weights).stat()
    checksum = entry.weights.checksum if entry.weights else None
    return {
        "file": Path(weights).name,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "published_checksum": dataclasses.asdict(checksum) if checksum else None,
    }


@dataclass(frozen=True)
class Job:
    """One step of one entry, with everything its result depends on."""

    entry: Entry
    step: str  # one of STEPS
    framework: str  # the pip extra whose framework runs it ('torch', 'paddle', 'mxnet')
    weights: Path | None
    random_seed: int | None
    options: dict = field(default_factory=dict, hash=False, compare=False)
    key: str = ""  # filled by ``plan``

    @property
    def label(self) -> str:
        return f"{self.entry.key} {self.step}"


def job_key(entry: Entry, step: str, weights_id: dict, options: dict, conversion_key: str | None) -> str:
    return json_digest(
        {
            "entry": dataclasses.asdict(entry),
            "step": step,
            "weights": weights_id,
            "options": options,
            "conversion": conversion_key,
            "zoocheck": __version__,
            "code": code_digest(),
            "versions": source_versions(entry.source),
        }
    )


def plan(entries, steps, *, framework_of, weights_of, options: dict) -> list[Job]:
    """The sweep's jobs, entry by entry in the order given, steps in STEPS order.

    ``framework_of(entry)`` names the pip extra of its converter; ``weights_of(entry)`` gives
    (weights path or None, seed or None) or raises MissingWeightsError; ``options[step]`` the
    options of that step."""
    jobs = []
    selected = {e.key for e in entries}
    for entry in entries:
        framework = framework_of(entry)
        weights, seed, weights_id, missing = _weights_of(entry, weights_of)
        conversion_key = job_key(entry, "convert", weights_id, options.get("convert", {}), None)
        for step in (s for s in STEPS if s in steps):
            step_options = {**options.get(step, {}), "conversion_key": conversion_key, **({"missing_weights": missing} if missing else {})}
            key_options = options.get(step, {})
            if step == "compare":
                compared_here = compare_partners(entry, selected)
                partners = [_partner(key, weights_of) for key in compared_here]
                step_options["partners"] = [{k: p[k] for k in ("key", "weights", "missing_weights")} for p in partners]
                step_options["compared_by_partner"] = [k for k in entry.same_weights_as if k not in compared_here]
                key_options = {**key_options, "partners": partners}
            key = (
                conversion_key
                if step == "convert"
                else job_key(entry, step, weights_id, key_options, conversion_key if step in NEEDS_CONVERSION else None)
            )
            jobs.append(Job(entry, step, framework, weights, seed, step_options, key))
    return jobs


def _weights_of(entry: Entry, weights_of) -> tuple[Path | None, int | None, dict, str | None]:
    """(weights, seed, their identity, why they are missing): weights that cannot be found make
    that entry's jobs fail as 'weights' while the others run."""
    from zoocheck.converters.weights_resolution import MissingWeightsError

    try:
        weights, seed = weights_of(entry)
        return weights, seed, weights_identity(weights, seed, entry), None
    except MissingWeightsError as exc:
        return None, None, {"missing": str(exc)}, str(exc)


def compare_partners(entry: Entry, selected: set[str]) -> tuple[str, ...]:
    """The keys of the entries ``entry``'s compare job compares it with: the registry's
    ``same_weights_as`` partners, each pair once (by the entry whose key sorts first when both
    are selected)."""
    return tuple(k for k in entry.same_weights_as if k not in selected or entry.key < k)


def _partner(key: str, weights_of) -> dict:
    """What a compare job needs of its partner entry, and what its result depends on: the
    partner as data, its weights and their identity, its frameworks' versions."""
    from zoocheck.zoo_registry import get_entry

    try:
        other = get_entry(*key.split("/", 1))
    except LookupError as exc:  # its source's registry table is disabled
        return {"key": key, "weights": None, "missing_weights": f"{key}: {exc}", "entry": None, "weights_id": None, "versions": None}
    weights, _, weights_id, missing = _weights_of(other, weights_of)
    return {
        "key": key,
        "weights": str(weights) if weights else None,
        "missing_weights": missing,
        "entry": dataclasses.asdict(other),
        "weights_id": weights_id,
        "versions": source_versions(other.source),
    }


def reproduce_command(job: Job, message: str = "") -> str:
    """The one zoocheck command that runs ``job``'s step of its entry alone, as the sweep ran it
    (a compare job: with the partner ``message`` names, else its first)."""
    import shlex

    entry, options = job.entry, job.options
    weights = ["--random-weights", "--seed", str(job.random_seed)] if job.weights is None and job.random_seed is not None else []
    if job.weights is not None and job.step != "compare":
        weights = ["--weights", str(job.weights)]
    tolerance = options.get("tolerance", {}).get("max_rel_err")
    images = {str(Path(p).parent) for p in options.get("images") or ()}
    extra = {
        "opset": ["--opset", str(options["opset"])] if options.get("opset") else [],
        "images": ["--images", images.pop()] if len(images) == 1 else [],
        "tolerance": ["--max-rel-err", f"{tolerance:g}"] if tolerance else [],
    }
    if job.step == "compare":
        partners = [p for p in options.get("partners", ()) if p["key"] in message] or list(options.get("partners", ()))
        if not partners:
            return ""
        partner = partners[0]
        if job.weights is not None and partner["weights"]:
            weights = ["--weights", str(job.weights), partner["weights"]]
        argv = [
            "compare",
            entry.key.replace("/", ":", 1),
            partner["key"].replace("/", ":", 1),
            *weights,
            *extra["images"],
            *extra["tolerance"],
        ]
    elif job.step == "eval":
        argv = ["eval", "--src", entry.source, "--model", entry.name, *weights, "--data", str(options.get("data"))]
        argv += ["--limit", str(options["limit"])] if options.get("limit") else []
    elif job.step == "parity":
        argv = ["parity", "--src", entry.source, "--model", entry.name, *weights, *extra["opset"], *extra["images"], *extra["tolerance"]]
    else:
        argv = ["convert", "--src", entry.source, "--model", entry.name, *weights, *extra["opset"]]
    return shlex.join(["zoocheck", *argv])


# ---------------------------------------------------------------------------------------------
# the failure taxonomy

_UNSUPPORTED = re.compile(r"unsupported|not supported|UnsupportedOperator|Exporting the operator|No Op registered|is not implemented", re.I)
_BY_EXCEPTION = {
    "WeightsError": "weights",
    "MissingWeightsError": "weights",
    "ChecksumMismatch": "weights",
    "FrameworkUnavailable": "load",
    # zoocheck builds (or writes weights for) no such network, whichever step asked for it
    "NoBuilder": "build",
    "ImageDecodeError": "preprocessing",
    "DatasetError": "labels",
    "JobTimeout": "timeout",
    "MemoryError": "out of memory",
    "OutOfMemoryError": "out of memory",
    "ProcessKilled": "out of memory",
}
_BY_STAGE = {"load": "load", "build": "build", "export": "export", "check": "export", "parity": "numerical", "eval": "labels"}


def categorize(failure: Failure) -> str:
    """The taxonomy category of a failure record."""
    exc = failure.exception_type
    message = f"{failure.message} {failure.traceback_tail}"
    if exc in _BY_EXCEPTION:
        return _BY_EXCEPTION[exc]
    if "out of memory" in message.lower():
        return "out of memory"
    stage = failure.stage
    if stage in ("export", "check") and _UNSUPPORTED.search(message):
        return "unsupported op"
    if stage == "eval" and ("preprocess" in message or "decode" in message):
        return "preprocessing"
    return _BY_STAGE.get(stage, "load")


__all__ = [
    "CATEGORIES",
    "Job",
    "NEEDS_CONVERSION",
    "STEPS",
    "categorize",
    "compare_partners",
    "framework_versions",
    "job_key",
    "plan",
    "reproduce_command",
    "source_versions",
    "weights_identity",
]
