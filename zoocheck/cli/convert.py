"""``zoocheck convert``: one model from its zoo's format to a normalised, checked ONNX file."""

from __future__ import annotations

from zoocheck.cli.common import (
    EXIT_OK,
    add_graph_arg,
    add_model_args,
    add_results_arg,
    check_graph_form,
    console,
    add_output_args,
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
    add_results_arg(parser)
    parser.add_argument("--json", action="store_true", help="print the conversion record as JSON")
    parser.set_defaults(run=run)


def run(args) -> int:
    from zoocheck.checks.runs import convert_entry
    from zoocheck.reports.parity_report import RANDOM_WEIGHTS_BANNER
    from zoocheck.store import ResultsStore

    store = ResultsStore(args.results)
    entry, weights, seed = model_and_weights(args)
    output = prepare_output(args, store, entry, weights, seed)
    check_graph_form(entry, args.graph)
    with stage_status(f"converting {entry.key}", enabled=not args.json) as on_stage:
        conversion = convert_entry(entry, store, weights=weights, random_seed=seed, output=output, opset=args.opset, on_stage=on_stage, graph=args.graph)
    keep_framework_log(store, args, f"convert {entry.key}", conversion.log)
    if conversion.failure is not None:
        return report_failure(store, conversion.failure, args)
    record = conversion.record()
    if args.json:
        print_json(record.to_json())
        return EXIT_OK
    out = console()
    if weights is None:
        out.print(f"[bold yellow]{RANDOM_WEIGHTS_BANNER} (seed {seed})[/bold yellow]")
    out.print(
        f"wrote {conversion.onnx_path} (+ {conversion.onnx_path.name}.json): {entry.key}, arch {entry.arch.id}, "
        f"opset {record.opset}, {record.graph} graph {record.structure_fingerprint}",
        markup=False,
    )
    return EXIT_OK
