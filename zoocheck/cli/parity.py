"""``zoocheck parity``: the source framework's forward vs onnxruntime on the same inputs."""

from __future__ import annotations

from pathlib import Path

from zoocheck.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    add_model_args,
    add_results_arg,
    console,
    default_onnx_path,
    model_and_weights,
    print_json,
)


def register(subparsers) -> None:
    parser = subparsers.add_parser("parity", help="compare the source framework with onnxruntime on random tensors and real photographs")
    add_model_args(parser)
    parser.add_argument("--onnx", help="an existing ONNX file to check instead of converting")
    parser.add_argument("--output", help="where to write the conversion (default <results>/onnx/<source>/<model>.onnx)")
    parser.add_argument("--images", help="folder of photographs (default: the real photographs bundled with scikit-image)")
    parser.add_argument("--max-rel-err", type=float, help="tolerance: max |diff| / logit range (default 1e-3)")
    parser.add_argument("--opset", type=int, help="ONNX opset when converting (default 17)")
    add_results_arg(parser)
    parser.add_argument("--json", action="store_true", help="print the parity result as JSON")
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
    entry, weights, seed = model_and_weights(args)
    if args.onnx and not Path(args.onnx).is_file():
        raise UsageError(f"{args.onnx}: no such ONNX file; check the --onnx path")
    try:
        images = images_in(args.images) if args.images else None
    except FileNotFoundError as exc:
        raise UsageError(f"{exc}; check the --images folder") from None
    tolerance = Tolerance() if args.max_rel_err is None else dataclasses.replace(Tolerance(), max_rel_err=args.max_rel_err)
    output = None if args.onnx else Path(args.output) if args.output else default_onnx_path(store.directory, entry)
    result, conversion = check_parity(
        entry,
        weights=weights,
        random_seed=seed,
        output=output,
        onnx_path=Path(args.onnx) if args.onnx else None,
        images=images,
        tolerance=tolerance,
        opset=args.opset,
    )
    if not args.onnx:
        store.add_result(conversion_record(conversion, weights))
    record = result.to_dict()
    store.add_result(record)
    if result.failure is not None:
        store.add_failure(result.failure.to_dict())
    if args.json:
        print_json(record)
    else:
        print_parity(console(), result)
        if result.failure is not None:
            print(f"failure log: {store.failures_path}")
    return {"pass": EXIT_OK, "fail": EXIT_FAILED, "error": EXIT_FAILED}[result.status]
