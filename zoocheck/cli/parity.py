"""``zoocheck parity``: the source framework's forward vs onnxruntime on the same inputs.

One model gets a per-input table; several (names or patterns such as ``'ResNet*_vd'``) are checked
one after another in one run, each in its own process, with one summary line per model: a crash
in one framework never loses the results of the others.
"""

from __future__ import annotations

from pathlib import Path

from zoocheck.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    add_execution_provider_arg,
    add_graph_arg,
    add_model_args,
    add_output_args,
    add_precision_args,
    add_results_arg,
    check_graph_form,
    check_precision_args,
    console,
    keep_framework_log,
    prepare_output,
    print_json,
    random_seed,
    report_failure,
    resolve_entries,
    stage_status,
    use_execution_provider,
    weights_for,
)


def register(subparsers) -> None:
    parser = subparsers.add_parser("parity", help="compare the source framework with onnxruntime on random tensors and real photographs")
    add_model_args(parser, many=True)
    parser.add_argument(
        "--onnx",
        help="an existing ONNX file to check instead of converting (one model only; its zoocheck metadata must name this model and weights, and gives the weights when none are named)",
    )
    parser.add_argument(
        "--unverified-onnx",
        action="store_true",
        help="accept an --onnx file without zoocheck metadata (the result is recorded as unverified)",
    )
    add_output_args(parser, "one model only; ")
    parser.add_argument("--images", help="folder of photographs (default: the real photographs bundled with scikit-image)")
    parser.add_argument(
        "--max-rel-err", type=float, help="tolerance: max |diff| / logit range (default 1e-3; an fp16/int8 variant's own otherwise)"
    )
    add_precision_args(parser)
    add_execution_provider_arg(parser)
    add_graph_arg(parser)
    add_results_arg(parser)
    parser.add_argument("--json", action="store_true", help="print the parity results as JSON")
    parser.set_defaults(run=run)


def run(args) -> int:
    from zoocheck.converters.pipeline import converter_started_ahead
    from zoocheck.store import ResultsStore
    from zoocheck.validate import positive_finite

    use_execution_provider(args)
    store = ResultsStore(args.results)
    positive_finite("--max-rel-err", args.max_rel_err)
    entries = resolve_entries(args.src, args.model)
    # the framework's process imports while the rest of the options are checked and the
    # photographs decoded
    with converter_started_ahead(entries[0].source):
        return _check(args, store, entries)


def _check(args, store, entries) -> int:
    import dataclasses

    from zoocheck.checks.images import images_in
    from zoocheck.checks.runs import ModelRun, parity_runs
    from zoocheck.identity import weights_recorded_in
    from zoocheck.records import Tolerance
    from zoocheck.reports.lines import parity_line
    from zoocheck.reports.parity_report import print_parity, print_variant
    from zoocheck.validate import check_writable_dir

    if len(entries) > 1 and (args.onnx or args.output):
        raise UsageError(f"--onnx and --output take one model; {len(entries)} matched {' '.join(args.model)}")
    if args.onnx and (args.output or args.opset is not None or args.overwrite):
        raise UsageError("--onnx checks an existing file: --output, --opset and --overwrite are for a conversion")
    if args.unverified_onnx and not args.onnx:
        raise UsageError("--unverified-onnx goes with --onnx FILE")
    random_seed(args)  # a --seed without --random-weights is refused, also where --onnx records the weights
    check_precision_args(args)
    if args.onnx and args.precision != "fp32":
        raise UsageError("--onnx checks an existing file: make its variant with `zoocheck quantize`, then check that file with --onnx")
    try:
        images = images_in(args.images) if args.images else None
    except FileNotFoundError as exc:
        raise UsageError(f"{exc}; check the --images folder") from None
    tolerance = None if args.max_rel_err is None else dataclasses.replace(Tolerance(), max_rel_err=args.max_rel_err)
    # Resolve every model's weights and output before converting any, so a typo fails fast with exit 2.
    check_writable_dir(store.directory, "the results folder")
    runs = []
    for entry in entries:
        check_graph_form(entry, args.graph, args.opset)
        recorded = None
        if args.onnx and not (args.weights or args.random_weights):
            recorded = weights_recorded_in(Path(args.onnx), entry)  # the weights the file says it holds
        weights, seed = recorded or weights_for(entry, args)
        runs.append(ModelRun(entry, weights, seed, None if args.onnx else prepare_output(args, store, entry, weights, seed)))
    out = console()

    def show(result, conversion) -> None:
        if conversion is not None:
            keep_framework_log(store, args, f"parity {result.source}/{result.model}", conversion.log)
        if args.json:
            return
        if result.failure is not None and result.failure.bad_input:
            report_failure(store, result.failure, args)  # an unusable input file: no result to show
        elif len(runs) == 1:
            print_parity(out, result)
        else:
            out.print(parity_line(result), markup=False)

    def made(outcome) -> None:
        keep_framework_log(store, args, f"{args.precision} variant {outcome.path.name}", outcome.log)
        if not args.json:
            print_variant(out, outcome)

    results = parity_runs(
        runs,
        store,
        onnx_path=Path(args.onnx) if args.onnx else None,
        images=images,
        tolerance=tolerance,
        opset=args.opset,
        graph=args.graph,
        allow_unverified_onnx=args.unverified_onnx,
        watch=lambda entry: stage_status(f"parity {entry.key}", enabled=not args.json),
        on_result=show,
        precision=args.precision,
        calibration=Path(args.calibration) if args.calibration else None,
        on_variant=made,
    )
    if args.json:
        print_json(results[0].to_json() if len(results) == 1 else [r.to_json() for r in results])
    elif len(results) > 1:
        counts = {s: sum(r.status == s for r in results) for s in ("ok", "failed", "error")}
        out.print(
            f"{len(results)} parity checks of {len(runs)} models: {counts['ok']} passed, {counts['failed']} failed, {counts['error']} errors",
            markup=False,
        )
    if any(r.failure is not None for r in results) and not args.json:
        print(f"failure log: {store.failures_path}")
    unpassed = [r for r in results if r.status != "ok"]
    if unpassed and all(r.failure is not None and r.failure.bad_input for r in unpassed):
        return EXIT_USAGE
    return EXIT_FAILED if unpassed else EXIT_OK
