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
    UsageError,
    add_graph_arg,
    add_model_args,
    add_results_arg,
    check_graph_form,
    console,
    default_onnx_path,
    keep_framework_log,
    print_json,
    resolve_entries,
    stage_status,
    weights_for,
)


def register(subparsers) -> None:
    parser = subparsers.add_parser("parity", help="compare the source framework with onnxruntime on random tensors and real photographs")
    add_model_args(parser, many=True)
    parser.add_argument("--onnx", help="an existing ONNX file to check instead of converting (one model only)")
    parser.add_argument("--output", help="where to write the conversion (one model only; default <results>/onnx/<source>/<model>.onnx)")
    parser.add_argument("--images", help="folder of photographs (default: the real photographs bundled with scikit-image)")
    parser.add_argument("--max-rel-err", type=float, help="tolerance: max |diff| / logit range (default 1e-3)")
    parser.add_argument("--opset", type=int, help="ONNX opset when converting (default 17)")
    add_graph_arg(parser)
    add_results_arg(parser)
    parser.add_argument("--json", action="store_true", help="print the parity results as JSON")
    parser.set_defaults(run=run)


def run(args) -> int:
    import dataclasses

    from zoocheck.checks.images import images_in
    from zoocheck.checks.parity import check_parity
    from zoocheck.checks.results import Tolerance
    from zoocheck.cli.convert import conversion_record
    from zoocheck.reports.parity_report import print_parity
    from zoocheck.store import ResultsStore

    store = ResultsStore(args.results)
    entries = resolve_entries(args.src, args.model)
    if len(entries) > 1 and (args.onnx or args.output):
        raise UsageError(f"--onnx and --output take one model; {len(entries)} matched {' '.join(args.model)}")
    if args.onnx and not Path(args.onnx).is_file():
        raise UsageError(f"{args.onnx}: no such ONNX file; check the --onnx path")
    try:
        images = images_in(args.images) if args.images else None
    except FileNotFoundError as exc:
        raise UsageError(f"{exc}; check the --images folder") from None
    tolerance = Tolerance() if args.max_rel_err is None else dataclasses.replace(Tolerance(), max_rel_err=args.max_rel_err)
    # Resolve every model's weights before converting any, so a typo fails fast with exit 2.
    plan = [(entry, *weights_for(entry, args)) for entry in entries]
    for entry in entries:
        check_graph_form(entry, args.graph)
    out = console()
    results = []
    for entry, weights, seed in plan:
        output = None if args.onnx else Path(args.output) if args.output else default_onnx_path(store.directory, entry)
        with stage_status(f"parity {entry.key}", enabled=not args.json) as on_stage:
            result, conversion = check_parity(
                entry,
                weights=weights,
                random_seed=seed,
                output=output,
                onnx_path=Path(args.onnx) if args.onnx else None,
                images=images,
                tolerance=tolerance,
                opset=args.opset,
                on_stage=on_stage,
                graph=args.graph,
            )
        keep_framework_log(store, args, f"parity {entry.key}", conversion.log)
        if not args.onnx:
            store.add_result(conversion_record(conversion, weights))
        store.add_result(result.to_dict())
        if result.failure is not None:
            store.add_failure(result.failure.to_dict())
        results.append(result)
        if not args.json:
            if len(plan) == 1:
                print_parity(out, result)
            else:
                out.print(result.summary(), markup=False)
    if args.json:
        print_json(results[0].to_dict() if len(results) == 1 else [r.to_dict() for r in results])
    elif len(results) > 1:
        counts = {s: sum(r.status == s for r in results) for s in ("pass", "fail", "error")}
        out.print(f"{len(results)} models: {counts['pass']} passed, {counts['fail']} failed, {counts['error']} errors", markup=False)
    if any(r.failure is not None for r in results) and not args.json:
        print(f"failure log: {store.failures_path}")
    return EXIT_OK if all(r.status == "pass" for r in results) else EXIT_FAILED
