"""What ``zoocheck eval`` and ``zoocheck diff-eval`` do, as library functions: evaluate an entry
(converted, or an earlier identical conversion reused), a zoocheck ONNX file or an fp16/int8
variant beside its fp32 file, and pair two evaluations; each record stored and returned, as
``runs.py`` does for the other commands. None of them prints.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from zoocheck import __version__
from zoocheck.checks.runs import convert_entry, default_onnx_path
from zoocheck.converters.pipeline import Conversion, NativeProcessError, NativeSession
from zoocheck.digests import code_digest, file_digest_or_none, json_digest
from zoocheck.errors import BadInput
from zoocheck.identity import onnx_metadata
from zoocheck.records import EvalResult, Failure
from zoocheck.store import ResultsStore
from zoocheck.zoo_registry import get_entry
from zoocheck.zoo_registry.download import is_published_file
from zoocheck.zoo_registry.types import Entry, Preprocess


@dataclass(frozen=True)
class EvalOptions:
    limit: int | None = None  # only the first N images
    batch_size: int = 32
    workers: int | None = None  # decoding threads (default: one per CPU core)
    cache_dir: Path | None = None  # preprocessed-image cache; None: no cache
    progress: Callable[[int, int], None] | None = None  # (done, total) after every batch
    subsample: int | None = None  # every k-th image only, this many (evaluate.selected_samples)


def default_crop_cache() -> Path:
    from zoocheck.zoo_registry.download import cache_dir

    return cache_dir() / "preprocessed"


def _file_key(path: Path) -> str:
    return file_digest_or_none(path) or f"dir:{path.resolve()}"


def reusable_conversion(path: Path, entry: Entry, weights: Path | None, random_seed: int | None) -> bool:
    """An earlier conversion at ``path`` made by this zoocheck (its version and its code's digest:
    an edit could change the file) from the same weights (same sha256, or same random seed) and
    the same preprocessing spec."""
    if not path.is_file() or (weights is not None and not Path(weights).is_file()):
        return False
    try:
        meta = onnx_metadata(path)
    except BadInput:  # unreadable or foreign file: convert again
        return False
    if meta is None:
        return False
    same_weights = (
        meta.random_seed == random_seed if weights is None else meta.weights is not None and meta.weights.sha256 == _file_key(Path(weights))
    )
    return (
        same_weights
        and meta.random_weights == (weights is None)
        and meta.zoocheck_version == __version__
        and meta.zoocheck_code == code_digest()
        and (meta.source, meta.model) == (entry.source, entry.name)
        and meta.preprocess == entry.preprocess.to_dict()
    )


def _onnx_predict(path: Path):
    from zoocheck.converters.onnx_runtime import session

    sess = session(path)
    name = sess.get_inputs()[0].name
    return lambda batch: sess.run(None, {name: batch})[0]


def _evaluate(
    dataset,
    store: ResultsStore,
    spec: Preprocess,
    predict,
    options: EvalOptions,
    *,
    source: str,
    model: str,
    backend: str,
    run_key: str,
    **described,
) -> EvalResult | Failure:
    from zoocheck.checks.evaluate import evaluate

    name = json_digest([source, model, backend, run_key, str(Path(dataset.root).resolve()), options.limit, options.subsample])[:20]
    try:
        result = evaluate(
            dataset,
            spec,
            predict,
            source=source,
            model=model,
            backend=backend,
            run_key=run_key,
            batch_size=options.batch_size,
            limit=options.limit,
            workers=options.workers,
            cache_dir=options.cache_dir,
            checkpoint=store.directory / "eval-checkpoints" / f"{name}.npz",
            progress=options.progress,
            predictions=store.directory / "predictions" / f"{model}.{name}.npz",
            subsample=options.subsample,
            **described,
        )
    except NativeProcessError as exc:  # the framework failed or its child died: its own record
        store.add(exc.failure)
        return exc.failure
    except Exception as exc:  # the model failed on this data (e.g. wrong output shape): a failure record
        failure = Failure.from_exception(source, model, "eval", exc)
        store.add(failure)
        return failure
    store.add(result)
    return result


def evaluate_onnx_file(
    dataset,
    path: Path,
    store: ResultsStore,
    options: EvalOptions = EvalOptions(),
    *,
    entry: Entry | None = None,
    expected=None,
    allow_unverified: bool = False,
) -> EvalResult | Failure:
    """Top-1/top-5 of a zoocheck ONNX file in onnxruntime, fed as its metadata's spec says. With
    ``expected`` (an ``identity.ModelIdentity``) the file must hold that model and weights. A file
    without zoocheck metadata is taken only with ``allow_unverified``, fed ``entry``'s spec, and
    its result recorded as unverified. BadInput for a file that cannot be used."""
    from zoocheck.identity import check_input_size, check_onnx_file, check_onnx_model, read_identity

    path = Path(path)
    found, _ = read_identity(path)
    if found is not None and expected is not None:
        check_onnx_file(path, expected, allow_unverified=False)  # the file holds the model asked for
    elif found is not None and entry is not None:
        check_onnx_model(path, entry, allow_unverified=False)  # the model asked for, whatever its weights
    meta = onnx_metadata(path)
    if meta is None:
        check_onnx_file(path, expected, allow_unverified=allow_unverified)  # raises the explanation unless allowed
        if entry is None:
            raise BadInput(
                f"{path}: has no zoocheck metadata; with --unverified-onnx, name its model with --src and --model (for its preprocessing)"
            )
        check_input_size(path, entry.preprocess.crop, entry.key)
        return _evaluate(
            dataset,
            store,
            entry.preprocess,
            _onnx_predict(path),
            options,
            source=entry.source,
            model=entry.name,
            backend="onnxruntime",
            run_key=f"onnx:{_file_key(path)}",
            arch=entry.arch.id,
            random_weights=False,
            onnx_path=str(path),
            weights=None,
            onnx_verified=False,
        )
    try:
        spec = Preprocess(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta.preprocess.items()})
    except (TypeError, ValueError) as exc:
        raise BadInput(
            f"{path}: its zoocheck metadata has no usable preprocessing ({exc}); convert it again with `zoocheck convert`"
        ) from None
    check_input_size(path, spec.crop, f"{meta.source}/{meta.model}")
    owner = entry
    if owner is None:
        with contextlib.suppress(LookupError):  # a library model the registry does not list: no published file
            owner = get_entry(meta.source, meta.model)
    return _evaluate(
        dataset,
        store,
        spec,
        _onnx_predict(path),
        options,
        source=meta.source,
        model=meta.model,
        backend="onnxruntime",
        run_key=f"onnx:{_file_key(path)}",
        arch=meta.arch,
        random_weights=meta.random_weights,
        onnx_path=str(path),
        weights=meta.weights.file if meta.weights else None,
        published_weights=owner is not None and meta.weights is not None and is_published_file(owner, meta.weights.file),
        precision=meta.precision,
    )


def evaluate_variant(
    dataset, path: Path, store: ResultsStore, options: EvalOptions = EvalOptions(), *, max_drop: float | None = None, expected=None
):
    """An fp16/int8 file and the fp32 file it was made from (checked by sha256) evaluated on the
    same images, and their paired comparison (``paired.pair``), stored. Returns (variant result,
    fp32 result, PairedEval), where a failed evaluation is its Failure and the comparison None."""
    from zoocheck.checks.paired import DEFAULT_MAX_DROP, pair
    from zoocheck.digests import file_digest

    info = onnx_metadata(Path(path)).variant
    fp32 = Path(info.fp32_path)
    if not fp32.is_file() or file_digest(fp32) != info.fp32_file.sha256:
        raise BadInput(
            f"{path}: the fp32 file it was made from ({fp32}, sha256 {info.fp32_file.sha256[:12]}) is gone or changed; make the variant again from the fp32 file"
        )
    variant = evaluate_onnx_file(dataset, Path(path), store, options, expected=expected)
    if isinstance(variant, Failure):
        return variant, None, None
    reference = evaluate_onnx_file(dataset, fp32, store, options)
    if isinstance(reference, Failure):
        return variant, reference, None
    paired = pair(reference, variant, max_drop=DEFAULT_MAX_DROP if max_drop is None else max_drop)
    store.add(paired)
    return variant, reference, paired


def pair_evaluations(reference: Path, candidate: Path, store: ResultsStore, *, max_drop: float | None = None):
    """The paired comparison of the two evaluations whose per-image predictions files are
    ``reference`` and ``candidate`` (as the results store records them), stored. BadInput for a
    file no stored evaluation names, or two evaluations on different images."""
    from zoocheck.checks.paired import DEFAULT_MAX_DROP, pair

    evaluations = {Path(r.predictions).resolve(): r for r in store.results("eval") if r.predictions}
    found = []
    for path in (reference, candidate):
        result = evaluations.get(Path(path).resolve())
        if result is None:
            raise BadInput(
                f"{path}: no evaluation in {store.directory} kept these predictions; give a file `zoocheck eval` printed, with the same --results"
            )
        found.append(result)
    paired = pair(*found, max_drop=DEFAULT_MAX_DROP if max_drop is None else max_drop)
    store.add(paired)
    return paired


def evaluate_entry(
    dataset,
    entry: Entry,
    store: ResultsStore,
    options: EvalOptions = EvalOptions(),
    *,
    weights: Path | None,
    random_seed: int | None,
    backend: str = "onnx",
    on_conversion: Callable[[Conversion], None] | None = None,
) -> EvalResult | Failure:
    """Top-1/top-5 of ``entry``: converted (or an earlier identical conversion reused) and run in
    onnxruntime, or with ``backend='native'`` run in its own framework in an isolated child.
    ``on_conversion`` sees a conversion made for it (its framework log, say)."""
    described = dict(
        arch=entry.arch.id,
        random_weights=weights is None,
        weights=str(weights) if weights else None,
        published_weights=weights is not None and is_published_file(entry, weights),
    )
    if backend == "native":
        run_key = f"random:{random_seed}" if weights is None else f"weights:{_file_key(Path(weights))}"
        try:
            with NativeSession(entry, weights, random_seed) as native:
                return _evaluate(
                    dataset,
                    store,
                    entry.preprocess,
                    native.forward,
                    options,
                    source=entry.source,
                    model=entry.name,
                    backend="native",
                    run_key=run_key,
                    **described,
                )
        except NativeProcessError as exc:  # the model could not be loaded
            store.add(exc.failure)
            return exc.failure
    output = default_onnx_path(store, entry, random_seed)
    if not reusable_conversion(output, entry, weights, random_seed):
        from zoocheck.identity import ModelIdentity, check_replaceable
        from zoocheck.validate import check_writable_file

        check_writable_file(output)
        check_replaceable(output, lambda: ModelIdentity.of_run(entry, weights, random_seed), overwrite=False)
        conversion = convert_entry(entry, store, weights=weights, random_seed=random_seed, output=output)
        if on_conversion:
            on_conversion(conversion)
        if conversion.failure is not None:
            return conversion.failure
    return _evaluate(
        dataset,
        store,
        entry.preprocess,
        _onnx_predict(output),
        options,
        source=entry.source,
        model=entry.name,
        backend="onnxruntime",
        run_key=f"onnx:{_file_key(output)}",
        onnx_path=str(output),
        **described,
    )


__all__ = [
    "EvalOptions",
    "default_crop_cache",
    "evaluate_entry",
    "evaluate_onnx_file",
    "evaluate_variant",
    "pair_evaluations",
    "reusable_conversion",
]
