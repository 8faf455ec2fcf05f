"""``zoocheck eval``: top-1/top-5 of a model on ImageNet-1k val, in onnxruntime or its own framework."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from zoocheck import rundir
from zoocheck.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    add_random_weights_args,
    add_results_arg,
    console,
    default_onnx_path,
    keep_framework_log,
    log_failure,
    model_and_weights,
    print_json,
    resolve_entry,
    stage_status,
    weights_for,
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="top-1/top-5 on ImageNet-1k val (ImageFolder, val_list.txt, LOC_val_solution.csv or devkit ground truth)",
    )
    parser.add_argument("--src", help="source zoo (taken from the ONNX metadata with --onnx)")
    parser.add_argument("--model", help="the source's own model name (taken from the ONNX metadata with --onnx)")
    parser.add_argument("--weights", help="weights file or directory in the source's own format (default: the fetched file in the cache)")
    add_random_weights_args(parser)
    parser.add_argument("--onnx", help="evaluate this zoocheck ONNX file (its metadata gives model and preprocessing)")
    parser.add_argument("--unverified-onnx", action="store_true", help="accept an --onnx file without zoocheck metadata, with --src/--model for its preprocessing (recorded as unverified)")
    parser.add_argument("--data", required=True, help="ImageNet val folder, or its val_list.txt / LOC_val_solution.csv / ground-truth file")
    parser.add_argument("--backend", choices=("onnx", "native"), default="onnx", help="onnxruntime on the converted model (default) or the source framework")
    parser.add_argument("--limit", type=int, help="evaluate only the first N images")
    parser.add_argument("--batch-size", type=int, default=32, help="images per model call (default 32)")
    parser.add_argument("--workers", type=int, help="decoding threads (default: one per CPU core)")
    parser.add_argument("--cache-dir", help="preprocessed-image cache (default <zoocheck cache>/preprocessed)")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the preprocessed-image cache")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_results_arg(parser)
    parser.add_argument("--json", action="store_true", help="print the result (top1, top5, images, ...) as JSON")
    parser.set_defaults(run=run)


def _sha256(path: Path) -> str:
    from zoocheck.converters.pipeline import sha256_of

    return sha256_of(path) if path.is_file() else f"dir:{path.resolve()}"


def _onnx_runner(path: Path):
    from zoocheck.checks.onnx_runtime import session

    sess = session(path)
    name = sess.get_inputs()[0].name
    return lambda batch: sess.run(None, {name: batch})[0]


def _reusable(path: Path, entry, weights, seed) -> bool:
    """An earlier conversion at ``path`` made by this zoocheck from the same weights and spec."""
    from zoocheck import __version__
    from zoocheck.converters.normalize import read_metadata

    if not path.is_file() or (weights is not None and not Path(weights).is_file()):
        return False
    try:
        meta = read_metadata(path)
    except Exception:  # unreadable or foreign file: convert again
        return False
    same_weights = meta.get("random_seed") == seed if weights is None else (meta.get("weights") or {}).get("sha256") == _sha256(Path(weights))
    return (
        same_weights
        and meta.get("random_weights") == (weights is None)
        and meta.get("zoocheck_version") == __version__
        and (meta.get("source"), meta.get("model")) == (entry.source, entry.name)
        and meta.get("preprocess") == json.loads(json.dumps(entry.preprocess.to_dict()))
    )


def _model_from_onnx(args):
    """(description, spec, predict) for --onnx FILE: the file's own metadata names the model; a
    --src/--model/--weights/--random-weights given beside it must agree with it."""
    from zoocheck.identity import ModelIdentity, check_onnx_file, check_onnx_model, read_identity
    from zoocheck.zoo_registry.types import Preprocess

    if args.backend != "onnx":
        raise UsageError("--onnx evaluates an ONNX file: it cannot be combined with --backend native")
    path = Path(args.onnx)
    found, meta = read_identity(path)
    if found is None:
        if not args.unverified_onnx:
            check_onnx_file(path, None, allow_unverified=False)  # raises the explanation
        if not (args.src and args.model):
            raise UsageError(f"{path}: has no zoocheck metadata; with --unverified-onnx, name its model with --src and --model (for its preprocessing)")
        entry = resolve_entry(args.src, args.model)
        info = dict(source=entry.source, model=entry.name, arch=entry.arch.id, random_weights=False, onnx_path=str(path), weights=None, onnx_verified=False, run_key=f"onnx:{_sha256(path)}")
        return info, entry.preprocess, _onnx_runner(path)
    if args.src or args.model or args.weights or args.random_weights:
        entry = resolve_entry(args.src or found.source, args.model or found.model)
        if args.weights or args.random_weights:
            check_onnx_file(path, ModelIdentity.of_run(entry, *weights_for(entry, args)), allow_unverified=False)
        else:
            check_onnx_model(path, entry, allow_unverified=False)
    try:
        spec = Preprocess(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["preprocess"].items()})
    except (KeyError, TypeError) as exc:
        raise UsageError(f"{path}: its zoocheck metadata has no usable preprocessing ({exc}); convert it again with `zoocheck convert`") from None
    info = dict(
        source=found.source,
        model=found.model,
        arch=meta.get("arch"),
        random_weights=found.random_weights,
        onnx_path=str(path),
        weights=found.weights_file,
        run_key=f"onnx:{_sha256(path)}",
    )
    return info, spec, _onnx_runner(path)


def _model_from_registry(args, store):
    """(description, spec, predict) for --src/--model: converted (or reused) for onnx, loaded for native.
    Returns an exit code instead when the conversion or load fails (logged as a failure)."""
    from zoocheck.checks.results import Failure

    if not (args.src and args.model):
        raise UsageError("name the model with --src and --model, or give --onnx FILE")
    entry, weights, seed = model_and_weights(args)
    info = dict(
        source=entry.source,
        model=entry.name,
        arch=entry.arch.id,
        random_weights=weights is None,
        onnx_path=None,
        weights=str(weights) if weights else None,
        run_key=f"random:{seed}" if weights is None else f"weights:{_sha256(Path(weights))}",
    )
    if args.backend == "native":
        from zoocheck.converters import FrameworkUnavailable, converter_for
        from zoocheck.capture import captured_output, read_log
        from zoocheck.converters.pipeline import weights_fix

        log = rundir.current() / "native-load.log"  # the framework's import and load chatter
        try:
            with captured_output(log):
                converter = converter_for(entry.source)
                converter.check_available()
                native = converter.load(entry, weights, random_seed=seed)
            rundir.reclaim_signals()  # Paddle installs its own SIGTERM handler when imported here
        except FrameworkUnavailable as exc:
            raise UsageError(str(exc)) from None
        except Exception as exc:  # a model that cannot be loaded is a failure record, exit 1
            return log_failure(store, Failure.from_exception(entry.source, entry.name, "load", exc, fix=weights_fix(entry, exc)), args)
        finally:
            keep_framework_log(store, args, f"eval {entry.key}: native load", read_log(log))
        info["backend"] = "native"
        return info, entry.preprocess, native.forward

    from zoocheck.cli.convert import conversion_record
    from zoocheck.converters.pipeline import convert
    from zoocheck.identity import ModelIdentity, check_replaceable
    from zoocheck.validate import check_writable_file

    output = default_onnx_path(store.directory, entry, seed)
    if not _reusable(output, entry, weights, seed):
        check_writable_file(output)
        check_replaceable(output, ModelIdentity.of_run(entry, weights, seed), overwrite=False)
        with stage_status(f"converting {entry.key}", enabled=not args.no_progress) as on_stage:
            conversion = convert(entry, output=output, weights=weights, random_seed=seed, on_stage=on_stage)
        keep_framework_log(store, args, f"eval {entry.key}: convert", conversion.log)
        store.add_result(conversion_record(conversion, weights))
        if not conversion.ok:
            return log_failure(store, conversion.failure, args)
    info["onnx_path"] = str(output)
    info["run_key"] = f"onnx:{_sha256(output)}"
    return info, entry.preprocess, _onnx_runner(output)


def _progress_bar():
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task):
            speed = task.finished_speed or task.speed
            return Text(f"{speed:.1f} img/s" if speed else "- img/s")

    return Progress(
        TextColumn("eval"),
        BarColumn(),
        MofNCompleteColumn(),
        Rate(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )


def run(args) -> int:
    from zoocheck.checks.evaluate import evaluate
    from zoocheck.checks.imagenet import DatasetError, read_dataset
    from zoocheck.checks.results import Failure
    from zoocheck.store import ResultsStore
    from zoocheck.validate import at_least_one, check_writable_dir
    from zoocheck.zoo_registry.download import cache_dir

    at_least_one("--limit", args.limit)
    at_least_one("--batch-size", args.batch_size)
    at_least_one("--workers", args.workers)
    if args.unverified_onnx and not args.onnx:
        raise UsageError("--unverified-onnx goes with --onnx FILE")
    store = ResultsStore(args.results)
    check_writable_dir(store.directory, "the results folder")
    cache = None if args.no_cache else Path(args.cache_dir) if args.cache_dir else cache_dir() / "preprocessed"
    if cache is not None:
        check_writable_dir(cache, "the preprocessed-image cache (--cache-dir; or --no-cache)")
    try:
        dataset = read_dataset(args.data)
    except DatasetError as exc:
        raise UsageError(str(exc)) from None
    model = _model_from_onnx(args) if args.onnx else _model_from_registry(args, store)
    if isinstance(model, int):
        return model
    info, spec, predict = model
    backend = info.pop("backend", "onnxruntime")
    run_key = info.pop("run_key")
    checkpoint_name = hashlib.sha256(json.dumps([info["source"], info["model"], backend, run_key, str(Path(args.data).resolve()), args.limit]).encode()).hexdigest()[:20]
    checkpoint = store.directory / "eval-checkpoints" / f"{checkpoint_name}.npz"

    bar = None if args.no_progress else _progress_bar()
    task = None

    def progress(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            task = bar.add_task("eval", total=total, completed=done)
        else:
            bar.update(task, completed=done)

    try:
        if bar:
            bar.start()
        result = evaluate(
            dataset,
            spec,
            predict,
            backend=backend,
            run_key=run_key,
            batch_size=args.batch_size,
            limit=args.limit,
            workers=args.workers,
            cache_dir=cache,
            checkpoint=checkpoint,
            progress=progress if bar else None,
            **info,
        )
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # the model failed on this data (e.g. wrong output shape): a failure record
        return log_failure(store, Failure.from_exception(info["source"], info["model"], "eval", exc), args)
    finally:
        if bar:
            bar.stop()
    store.add_result(result.to_dict())
    if args.json:
        print_json(result.to_dict())
    else:
        _print_result(result, store)
    if result.images == 0:
        print("zoocheck: error: no image could be evaluated", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _print_result(result, store) -> None:
    from rich.table import Table

    from zoocheck.reports.parity_report import RANDOM_WEIGHTS_BANNER

    out = console()
    if result.random_weights:
        out.print(f"[bold yellow]{RANDOM_WEIGHTS_BANNER}[/bold yellow]")
    table = Table(title=f"{result.source}/{result.model} ({result.backend}) on {result.dataset['layout']} {result.dataset['root']}", title_justify="left")
    for column in ("top-1 %", "top-5 %", "images", "skipped", "time", "img/s"):
        table.add_column(column, justify="right")
    fmt = lambda x: "-" if x is None else f"{x:.3f}"  # noqa: E731
    table.add_row(fmt(result.top1), fmt(result.top5), str(result.images), str(len(result.skipped)), f"{result.time_s:.1f} s", f"{result.throughput:.1f}")
    out.print(table)
    for skipped in result.skipped[:10]:
        out.print(f"skipped {skipped.path}: {skipped.reason}", markup=False)
    if len(result.skipped) > 10:
        out.print(f"... and {len(result.skipped) - 10} more skipped images (listed in {store.results_path})", markup=False)
    notes = []
    if result.resumed_images:
        notes.append(f"{result.resumed_images} images resumed from an interrupted run")
    if result.cached_images:
        notes.append(f"{result.cached_images} crops from the preprocessed cache")
    if notes:
        out.print("; ".join(notes), markup=False)
    out.print(result.summary(), markup=False)
