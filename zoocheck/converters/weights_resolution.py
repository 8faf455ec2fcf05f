"""Which weights a run loads, and whether they can be used: the file given, else the verified
one in the cache, else a clear line saying where weights are expected (``MissingWeightsError``);
a source whose weights file is its published model takes only that file; a file that cannot be
used is explained before an error about something else sends the user to the wrong fix."""

from __future__ import annotations

from pathlib import Path

from zoocheck.zoo_registry.download import ChecksumMismatch, cached_weights, cached_weights_path
from zoocheck.zoo_registry.types import Entry


class MissingWeightsError(FileNotFoundError):
    pass


def resolve_weights(
    entry: Entry, weights: Path | None, random_seed: int | None, *, weights_option: str | None = "--weights PATH"
) -> Path | None:
    """The weights file to load: the one given, else the fetched one in the cache (verified), else
    None for a random-weights run. Raises MissingWeightsError naming where weights are expected
    (``weights_option``: how the command takes a file, None where it takes none), or the cached
    file that fails its checksum."""
    if weights is not None:
        weights = Path(weights)
        if not weights.exists():
            raise MissingWeightsError(f"{weights}: no such weights file or directory; check the --weights path")
        return weights
    if random_seed is not None:
        return None
    try:
        verified = cached_weights(entry)
    except ChecksumMismatch as exc:
        raise MissingWeightsError(str(exc)) from None
    if verified is not None:
        return verified
    cached = cached_weights_path(entry)
    ways = (
        [f"run `zoocheck fetch --src {entry.source} --model {entry.name}` (downloads {entry.weights.url} to {cached})"]
        if cached is not None
        else []
    )
    ways += [f"pass {weights_option}"] if weights_option else []
    raise MissingWeightsError(
        f"no weights for {entry.key}: {', '.join(ways)}{', or' if ways else 'pass'} --random-weights to convert with seeded random weights"
    )


def check_published_file(entry: Entry, weights: Path | None) -> None:
    """For a source whose weights file IS its published model (the ONNX model zoo), only that file:
    its checksum must be the registry's, or the run is refused (BadInput) before any work."""
    from zoocheck.converters import converter_for
    from zoocheck.errors import BadInput
    from zoocheck.zoo_registry.download import ChecksumMismatch, verify

    if weights is None or not Path(weights).is_file() or not getattr(converter_for(entry.source), "weights_are_the_published_file", False):
        return
    fetch = f"`zoocheck fetch --src {entry.source} --model {entry.name}`"
    if entry.weights is None or entry.weights.checksum is None:
        raise BadInput(
            f"{weights}: the registry has no checksum for {entry.key}, so this file cannot be proved to be the zoo's own; nothing is converted"
        )
    try:
        verify(Path(weights), entry.weights.checksum)
    except ChecksumMismatch:
        raise BadInput(
            f"{weights}: not the file {entry.source} publishes for {entry.name} (its checksum is not {entry.weights.checksum}); fetch the published one with {fetch}"
        ) from None


def check_weights_usable(entry: Entry, weights: Path | None) -> None:
    """Load ``weights`` in a child as a conversion does and raise BadInput with the converter's
    one line when they cannot be used (another format, truncated, a pickled whole model, another
    architecture's); nothing when they load, for random weights (None), or when the load fails
    for another reason. It costs a framework start, so it runs only before an error about something
    else (an output that would be overwritten), which would otherwise send the user to the wrong fix."""
    from zoocheck.errors import BadInput

    if weights is None:
        return
    from zoocheck.converters.pipeline import convert

    failure = convert(entry, output=None, weights=weights).failure
    if failure is not None and failure.bad_input:
        raise BadInput(failure.one_line())
