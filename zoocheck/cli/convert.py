"""``zoocheck convert``: one model from its zoo's format to a normalised, checked ONNX file."""

from __future__ import annotations

from pathlib import Path

from zoocheck.cli.common import (
    EXIT_OK,
    UsageError,
    add_graph_arg,
    add_model_args,
    add_results_arg,
    check_graph_form,
    console,
    default_onnx_path,
    keep_framework_log,
    log_failure,
    model_and_weights,
    print_json,
    stage_status,
)


def register(subparsers) -> None:
    parser = subparsers.add_parser("convert", help="convert a model to ONNX (source exporter + normalisation + checker)")
    add_model_args(parser)
    parser.add_argument("--output", help="ONNX file to write (default <results>/onnx/<source>/<model>.onnx)")
    parser.add_argument("--opset", type=int, help="ONNX opset (default 17)")
    add_graph_arg(parser)
    add_results_arg(parser)
    parser.add_argument("--json", action="store_true", help="print the conversion record as JSON")
    parser.set_defaults(run=run)


def conversion_record(conversion, weights) -> dict:
    """The results-store record of one conversion (kind 'conversion')."""
    entry = conversion.entry
    return {
        "kind": "conversion",
        "status": "ok" if conversion.ok else "failed",
        "source": entry.source,
        "model": entry.name,
        "arch": entry.arch.id,
        "onnx_path": str(conversion.onnx_path) if conversion.onnx_path else None,
        "random_weights": weights is None,
        "weights": str(weights) if weights else None,
        "output": "probabilities" if conversion.outputs_probabilities else "logits",
        "opset": (conversion.metadata or {}).get("opset"),
        "graph": (conversion.metadata or {}).get("graph"),
        "structure_fingerprint": (conversion.metadata or {}).get("structure_fingerprint"),
        "versions": conversion.versions,
        "failure": conversion.failure.to_dict() if conversion.failure else None,
    }


def run(args) -> int:
    from zoocheck.converters.pipeline import DEFAULT_OPSET, convert
    from zoocheck.reports.parity_report import RANDOM_WEIGHTS_BANNER
    from zoocheck.store import ResultsStore

    store = ResultsStore(args.results)
    entry, weights, seed = model_and_weights(args)
    output = Path(args.output) if args.output else default_onnx_path(store.directory, entry)
    if output.suffix != ".onnx":
        raise UsageError(f"{output}: the output file must end in .onnx")
    check_graph_form(entry, args.graph)
    with stage_status(f"converting {entry.key}", enabled=not args.json) as on_stage:
        conversion = convert(entry, output=output, weights=weights, random_seed=seed, opset=args.opset or DEFAULT_OPSET, on_stage=on_stage, graph=args.graph)
    keep_framework_log(store, args, f"convert {entry.key}", conversion.log)
    record = conversion_record(conversion, weights)
    store.add_result(record)
    if not conversion.ok:
        return log_failure(store, conversion.failure)
    if args.json:
        print_json(record)
        return EXIT_OK
    out = console()
    if weights is None:
        out.print(f"[bold yellow]{RANDOM_WEIGHTS_BANNER} (seed {seed})[/bold yellow]")
    out.print(f"wrote {conversion.onnx_path} (+ {conversion.onnx_path.name}.json): {entry.key}, arch {entry.arch.id}, opset {record['opset']}, {record['graph']} graph {record['structure_fingerprint']}", markup=False)
    return EXIT_OK
