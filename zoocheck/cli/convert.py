"""``zoocheck convert``: one model from its zoo's format to a normalised, checked ONNX file."""

from __future__ import annotations

from pathlib import Path

from zoocheck.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    add_graph_arg,
    add_model_args,
    add_output_args,
    add_precision_args,
    add_results_arg,
    check_graph_form,
    check_precision_args,
    console,
    keep_framework_log,
    model_and_weights,
    prepare_output,
    print_json,
    report_failure,
    stage_status,
)


def register(subparsers) -> None:
    parser = subparsers.add_parser("convert", help="convert a model to ONNX (source exporter + normalisation + checker)")
    add_model_args(parser)
    add_output_args(parser, "")
    add_graph_arg(parser)
    add_precision_args(parser)
    add_results_arg(parser)
    parser.add_argument("--json", action="store_true", help="print the conversion record as JSON")
    parser.set_defaults(run=run)


def run(args) -> int:
    from zoocheck.checks.runs import convert_entry, variant_of_file
    from zoocheck.reports.parity_report import RANDOM_WEIGHTS_BANNER, print_variant
    from zoocheck.store import ResultsStore

    check_precision_args(args)
    store = ResultsStore(args.results)
    entry, weights, seed = model_and_weights(args)
    output = prepare_output(args, store, entry, weights, seed)
    check_graph_form(entry, args.graph, args.opset)
    with stage_status(f"converting {entry.key}", enabled=not args.json) as on_stage:
        conversion = convert_entry(
            entry, store, weights=weights, random_seed=seed, output=output, opset=args.opset, on_stage=on_stage, graph=args.graph
        )
    keep_framework_log(store, args, f"convert {entry.key}", conversion.log)
    if conversion.failure is not None:
        return report_failure(store, conversion.failure, args)
    record = conversion.record()
    variant = None
    if args.precision != "fp32":
        calibration = Path(args.calibration) if args.calibration else None
        variant = variant_of_file(conversion.onnx_path, args.precision, store, calibration=calibration)
        keep_framework_log(store, args, f"{args.precision} variant {variant.path.name}", variant.log)
    if args.json:
        print_json(record.to_json() if variant is None else [record.to_json(), (variant.record or variant.failure).to_json()])
        return EXIT_OK if variant is None or variant.record else EXIT_FAILED
    out = console()
    if weights is None:
        out.print(f"[bold yellow]{RANDOM_WEIGHTS_BANNER} (seed {seed})[/bold yellow]")
    out.print(
        f"wrote {conversion.onnx_path} (+ {conversion.onnx_path.name}.json): {entry.key}, arch {entry.arch.id}, "
        f"opset {record.opset}, {record.graph} graph {record.structure_fingerprint}",
        markup=False,
    )
    if variant is None:
        return EXIT_OK
    if variant.failure is not None:
        return report_failure(store, variant.failure, args)
    print_variant(out, variant)
    return EXIT_OK
