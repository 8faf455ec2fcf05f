"""``zoocheck sweep``: every selected registry entry x every selected step, in one resumable run.

Jobs run in long-lived workers (``--executor local``) or as Ray tasks (``--executor ray``); the
driver is the results store's one writer. A re-run skips what is unchanged and finished, and redoes
what changed or failed (``--force``: everything). Exit 0 when every job passed, 1 when any failed.
"""

from __future__ import annotations

from zoocheck.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    add_arch_arg,
    add_precision_args,
    add_results_arg,
    add_seed_arg,
    check_precision_args,
    console,
    print_json,
    random_seed,
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sweep", help="convert and check every selected entry (all sources by default), resumably, locally or on Ray"
    )
    parser.add_argument("--src", nargs="+", help="only these sources (default: every source)")
    add_arch_arg(parser)
    parser.add_argument(
        "--model",
        nargs="+",
        help="only models matching these names or fnmatch patterns (case-insensitive); 'source/name' picks one source's",
    )
    parser.add_argument(
        "--steps", default="convert,parity", help="comma-separated steps from convert,parity,eval,compare (default convert,parity)"
    )
    parser.add_argument(
        "--random-weights",
        action="store_true",
        help="seeded random weights for every entry (every output says so); default: the fetched weights",
    )
    add_seed_arg(parser)
    parser.add_argument("--data", help="validation set for the eval step (any layout `zoocheck eval` reads)")
    parser.add_argument("--limit", type=int, help="eval: only the first N images")
    parser.add_argument("--images", help="parity: folder of photographs (default: the ones bundled with scikit-image)")
    parser.add_argument("--max-rel-err", type=float, help="parity tolerance: max |diff| / logit range (default 1e-3)")
    parser.add_argument("--opset", type=int, help="ONNX opset when converting (default 17)")
    add_precision_args(
        parser,
        "parity: also make each converted file's variant and check it against the framework and the fp32 file; eval: evaluate it beside the fp32 file, paired",
    )
    parser.add_argument("--workers", type=int, default=1, help="jobs run at once (local: worker processes; default 1)")
    parser.add_argument("--executor", choices=("local", "ray"), default="local", help="where jobs run (default local)")
    parser.add_argument("--ray-address", help="Ray cluster to join (default: start a local one on 127.0.0.1)")
    # the Ray options have no default here: given without --executor ray they are refused, not ignored
    parser.add_argument("--cpus-per-job", type=float, help="ray: CPUs each task requests (default 1)")
    parser.add_argument("--eval-shards", type=int, help="ray: split each eval into this many tasks, merged exactly (default 1)")
    parser.add_argument("--timeout", type=float, help="per-job time limit in seconds: a job past it is killed and recorded as 'timeout'")
    parser.add_argument(
        "--memory-limit", type=float, help="per-job memory limit in GB: a job over it is killed and recorded as 'out of memory'"
    )
    parser.add_argument("--force", action="store_true", help="run every job again, finished or not")
    add_results_arg(parser)
    parser.add_argument(
        "--report", metavar="DIR", help="at the end, write the report of the sweep's entries into DIR (as `zoocheck report --output DIR`)"
    )
    parser.add_argument("--json", action="store_true", help="print every job's record as JSON")
    parser.set_defaults(run=run)


def selected_entries(sources, arch: str | None, models):
    """The registry entries the sweep runs: ``zoo_registry.select_entries`` over the registry only
    (a name no entry has is an error, not a library model); UsageError when it selects nothing."""
    from zoocheck.zoo_registry import UnknownModelError, UnknownSourceError, select_entries

    try:
        entries = select_entries(sources or None, models, arch)
    except (UnknownSourceError, UnknownModelError) as exc:
        raise UsageError(str(exc)) from None
    if not entries:
        raise UsageError("no registry entry matches the selection (see `zoocheck list`)")
    return entries


def _steps(text: str) -> tuple[str, ...]:
    from zoocheck.sweep.jobs import STEPS

    steps = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [s for s in steps if s not in STEPS]
    if unknown or not steps:
        raise UsageError(f"--steps {text!r}: unknown step {', '.join(unknown) or '(none given)'}; choose from {','.join(STEPS)}")
    return steps


def _executor(args):
    memory = int(args.memory_limit * 2**30) if args.memory_limit else None
    if args.executor == "ray":
        from zoocheck.sweep.ray_executor import RayExecutor, RayUnavailable

        try:
            given = {
                k: v for k, v in (("cpus_per_job", args.cpus_per_job), ("eval_shards", args.eval_shards)) if v is not None
            }  # else RayExecutor's defaults
            return RayExecutor(address=args.ray_address, memory_bytes=memory, timeout_s=args.timeout, **given)
        except RayUnavailable as exc:
            raise UsageError(str(exc)) from None
    from zoocheck.sweep.local import LocalExecutor

    return LocalExecutor(workers=args.workers, timeout_s=args.timeout, memory_limit_bytes=memory)


def run(args) -> int:
    import dataclasses
    from pathlib import Path

    from zoocheck.checks.images import images_in
    from zoocheck.converters.weights_resolution import resolve_weights
    from zoocheck.reports.sweep_report import ProgressPrinter, job_message, print_summary
    from zoocheck.sources import get_source
    from zoocheck.store import ResultsStore
    from zoocheck.sweep.driver import run_sweep
    from zoocheck.sweep.jobs import plan
    from zoocheck.validate import at_least_one, check_opset, check_writable_dir, positive_finite

    steps = _steps(args.steps)
    for name, value in (("--workers", args.workers), ("--eval-shards", args.eval_shards), ("--limit", args.limit)):
        at_least_one(name, value)
    for name, value in (
        ("--timeout", args.timeout),
        ("--memory-limit", args.memory_limit),
        ("--cpus-per-job", args.cpus_per_job),
        ("--max-rel-err", args.max_rel_err),
    ):
        positive_finite(name, value)
    ray_only = [
        option
        for option, value in (
            ("--ray-address", args.ray_address),
            ("--cpus-per-job", args.cpus_per_job),
            ("--eval-shards", args.eval_shards),
        )
        if value is not None
    ]
    if ray_only and args.executor != "ray":
        raise UsageError(f"{', '.join(ray_only)}: Ray options, used only with --executor ray; add --executor ray or leave them out")
    seed = random_seed(args)
    entries = selected_entries(args.src, args.arch, args.model)
    for source in dict.fromkeys(e.source for e in entries):
        check_opset(source, args.opset)
    store = ResultsStore(args.results)
    check_writable_dir(store.directory, "the results folder")
    if args.report:
        from zoocheck.reports.site import check_output

        check_writable_dir(Path(args.report), "the report folder (--report)")
        check_output(Path(args.report))
    if "eval" in steps and not args.data:
        raise UsageError("the eval step needs a validation set: pass --data DIR (or leave eval out of --steps)")
    try:
        images = tuple(str(p) for p in images_in(args.images)) if args.images else None
    except FileNotFoundError as exc:
        raise UsageError(f"{exc}; check the --images folder") from None
    data_fingerprint = None
    if "eval" in steps:
        from zoocheck.checks.imagenet import DatasetError, read_dataset

        try:  # the data set's content is part of every eval job's identity
            data_fingerprint = read_dataset(args.data).fingerprint()
        except DatasetError as exc:
            raise UsageError(str(exc)) from None
    tolerance = {"max_rel_err": args.max_rel_err} if args.max_rel_err is not None else {}
    check_precision_args(args)
    variant = {"precision": args.precision, "calibration": args.calibration} if args.precision != "fp32" else {}
    options = {
        "convert": {"opset": args.opset},
        "parity": {"opset": args.opset, "tolerance": tolerance, "images": images, **variant},
        "eval": {"data": args.data, "data_fingerprint": data_fingerprint, "limit": args.limit, **variant},
        "compare": {"tolerance": tolerance, "images": images},
    }
    jobs = plan(
        entries,
        steps,
        framework_of=lambda e: get_source(e.source).runtime,  # one worker pool per framework
        weights_of=lambda e: (resolve_weights(e, None, seed, weights_option=None), seed),  # a sweep takes fetched files only
        options=options,
    )
    executor = _executor(args)
    printer = ProgressPrinter()
    try:
        result = run_sweep(
            jobs,
            executor,
            store,
            force=args.force,
            data=args.data,
            images=images,
            eval_options={"limit": args.limit},
            on_progress=printer,
            describe=job_message,
        )
    finally:
        printer.close()
        getattr(executor, "close", lambda: None)()
    if args.json:
        print_json([r.to_json() for r in [*(o.record() for o in result.outcomes), *result.cached]])
    else:
        out = console()
        if seed is not None:
            from zoocheck.reports.parity_report import RANDOM_WEIGHTS_BANNER

            out.print(f"[bold yellow]{RANDOM_WEIGHTS_BANNER} (seed {seed})[/bold yellow]")
        print_summary(out, result)
        if result.failed:
            out.print(f"failure log: {store.failures_path}", markup=False)
    if args.report:
        from zoocheck.cli.report import selection, write

        write(store.directory, args.report, dataclasses.replace(selection(None, args.arch), keys=tuple(e.key for e in entries)))
    return EXIT_FAILED if result.failed else EXIT_OK
