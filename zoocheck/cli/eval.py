"""``zoocheck eval``: top-1/top-5 of a model on ImageNet-1k val, in onnxruntime or its own framework."""

from __future__ import annotations

import sys
from pathlib import Path

from zoocheck.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    add_execution_provider_arg,
    add_max_drop_arg,
    add_random_weights_args,
    add_results_arg,
    check_max_drop,
    console,
    keep_framework_log,
    print_json,
    random_seed,
    report_failure,
    resolve_entry,
    use_execution_provider,
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
    parser.add_argument(
        "--unverified-onnx",
        action="store_true",
        help="accept an --onnx file without zoocheck metadata, with --src/--model for its preprocessing (recorded as unverified)",
    )
    parser.add_argument("--data", required=True, help="ImageNet val folder, or its val_list.txt / LOC_val_solution.csv / ground-truth file")
    parser.add_argument(
        "--backend", choices=("onnx", "native"), default="onnx", help="onnxruntime on the converted model (default) or the source framework"
    )
    parser.add_argument("--limit", type=int, help="evaluate only the first N images")
    parser.add_argument(
        "--subsample",
        type=int,
        help="evaluate N images, every k-th of the data set (a fixed subset; the output says the confidence interval it buys)",
    )
    add_max_drop_arg(parser, "an fp16/int8 --onnx file is evaluated beside its fp32 file (the reference)")
    parser.add_argument("--batch-size", type=int, default=32, help="images per model call (default 32)")
    parser.add_argument("--workers", type=int, help="decoding threads (default: one per CPU core)")
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument("--cache-dir", help="preprocessed-image cache (default <zoocheck cache>/preprocessed)")
    cache.add_argument("--no-cache", action="store_true", help="neither read nor write the preprocessed-image cache")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_execution_provider_arg(parser)
    add_results_arg(parser)
    parser.add_argument("--json", action="store_true", help="print the result (top1, top5, images, ...) as JSON")
    parser.set_defaults(run=run)


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
    from zoocheck.checks.eval_runs import EvalOptions, default_crop_cache, evaluate_entry, evaluate_onnx_file, evaluate_variant
    from zoocheck.checks.imagenet import DatasetError, read_dataset
    from zoocheck.checks.paired import interval_bought
    from zoocheck.identity import ModelIdentity, entry_of_file, read_identity
    from zoocheck.records import Failure
    from zoocheck.reports.eval_report import print_eval, print_paired
    from zoocheck.store import ResultsStore
    from zoocheck.validate import at_least_one, check_writable_dir

    use_execution_provider(args)
    at_least_one("--limit", args.limit)
    at_least_one("--subsample", args.subsample)
    check_max_drop(args.max_drop)
    at_least_one("--batch-size", args.batch_size)
    at_least_one("--workers", args.workers)
    if args.unverified_onnx and not args.onnx:
        raise UsageError("--unverified-onnx goes with --onnx FILE")
    if args.onnx and args.backend != "onnx":
        raise UsageError("--onnx evaluates an ONNX file: it cannot be combined with --backend native")
    if not args.onnx and not (args.src and args.model):
        raise UsageError("name the model with --src and --model, or give --onnx FILE")
    random_seed(args)  # a --seed without --random-weights is refused, even where no weights are resolved
    store = ResultsStore(args.results)
    check_writable_dir(store.directory, "the results folder")
    cache = None if args.no_cache else Path(args.cache_dir) if args.cache_dir else default_crop_cache()
    if cache is not None:
        check_writable_dir(cache, "the preprocessed-image cache (--cache-dir; or --no-cache)")
    try:
        dataset = read_dataset(args.data)
    except DatasetError as exc:
        raise UsageError(str(exc)) from None
    # --onnx: the file's metadata names the model; a --src/--model (and --weights/--random-weights)
    # given beside it is what the file must be, or (--unverified-onnx) what preprocessing it gets
    entry = resolve_entry(args.src, args.model) if args.src and args.model else None
    expected = None
    if args.onnx and (args.weights or args.random_weights):
        named = entry or entry_of_file(Path(args.onnx))  # weights alone: the file's own model with them
        if named is not None:
            expected = ModelIdentity.of_run(named, *weights_for(named, args))
    run_weights = None if args.onnx else weights_for(entry, args)
    bar = None if args.no_progress else _progress_bar()
    task = None

    def progress(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            task = bar.add_task("eval", total=total, completed=done)
        else:
            bar.update(task, completed=done)

    options = EvalOptions(
        limit=args.limit,
        batch_size=args.batch_size,
        workers=args.workers,
        cache_dir=cache,
        progress=progress if bar else None,
        subsample=args.subsample,
    )
    variant = bool(args.onnx) and bool((read_identity(Path(args.onnx))[1] or {}).get("variant"))
    paired = None
    try:
        if bar:
            bar.start()
        if variant:
            result, _, paired = evaluate_variant(dataset, Path(args.onnx), store, options, max_drop=args.max_drop / 100, expected=expected)
        elif args.onnx:
            result = evaluate_onnx_file(
                dataset, Path(args.onnx), store, options, entry=entry, expected=expected, allow_unverified=args.unverified_onnx
            )
        else:
            weights, seed = run_weights
            result = evaluate_entry(
                dataset,
                entry,
                store,
                options,
                weights=weights,
                random_seed=seed,
                backend=args.backend,
                on_conversion=lambda conversion: keep_framework_log(store, args, f"eval {entry.key}: convert", conversion.log),
            )
    finally:
        if bar:
            bar.stop()
    if isinstance(result, Failure):
        return report_failure(store, result, args)
    if args.json:
        print_json(result.to_json() if paired is None else {"evaluation": result.to_json(), "paired": paired.to_json()})
    else:
        out = console()
        print_eval(out, result, store.results_path, interval_bought(result.top1, result.images) if result.subsample else None)
        if paired is not None:
            print_paired(out, paired)
    if result.images == 0:
        print("zoocheck: error: no image could be evaluated", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_FAILED if paired is not None and paired.verdict == "fail" else EXIT_OK
