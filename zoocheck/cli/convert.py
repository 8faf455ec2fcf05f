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
    log_failure,
    model_and_weights,
    prepare_output,
    print_json,
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


def conversion_record(conversion, weights) -> dict:
    """The results-store record of one conversion (kind 'conversion')."""
    entry = conversion.entry
    meta = conversion.metadata or {}
    return {
        "kind": "conversion",
        "status": "ok" if conversion.ok else "failed",
        "source": entry.source,
        "model": entry.name,
        "arch": entry.arch.id,
        "onnx_path": str(conversion.onnx_path) if conversion.onnx_path else None,
        "random_weights": weights is None,
        "random_seed": meta.get("random_seed"),
        "weights": str(weights) if weights else None,
        "weights_sha256": (meta.get("weights") or {}).get("sha256"),
        "output": "probabilities" if conversion.outputs_probabilities else "logits",
        "graph": meta.get("graph"),
        "structure_fingerprint": meta.get("structure_fingerprint"),
        # read back from the file written, not what was asked for
        "opset": meta.get("opset"),
        "opset_requested": meta.get("opset_requested"),
        "ir_version": meta.get("ir_version"),
        "input_shape": meta.get("input_shape"),
        "output_shape": meta.get("output_shape"),
        "onnx_sha256": (meta.get("onnx_file") or {}).get("sha256"),
        "versions": conversion.versions,
        "failure": conversion.failure.to_dict() if conversion.failure else None,
    }


def run(args) -> int:
    from zoocheck.converters.pipeline import DEFAULT_OPSET, convert
    from zoocheck.reports.parity_report import RANDOM_WEIGHTS_BANNER
    from zoocheck.store import ResultsStore

    store = ResultsStore(args.results)
    entry, weights, seed = model_and_weights(args)
    output = prepare_output(args, store, entry, weights, seed)
    check_graph_form(entry, args.graph)
    with stage_status(f"converting {entry.key}", enabled=not args.json) as on_stage:
        conversion = convert(entry, output=output, weights=weights, random_seed=seed, opset=args.opset or DEFAULT_OPSET, on_stage=on_stage, graph=args.graph)
    keep_framework_log(store, args, f"convert {entry.key}", conversion.log)
    record = conversion_record(conversion, weights)
    if conversion.ok or not conversion.failure.bad_input:  # an unusable weights file says nothing about the model
        store.add_result(record)
    if not conversion.ok:
        return log_failure(store, conversion.failure, args)
    if args.json:
        print_json(record)
        return EXIT_OK
    out = console()
    if weights is None:
        out.print(f"[bold yellow]{RANDOM_WEIGHTS_BANNER} (seed {seed})[/bold yellow]")
    out.print(f"wrote {conversion.onnx_path} (+ {conversion.onnx_path.name}.json): {entry.key}, arch {entry.arch.id}, opset {record['opset']}, {record['graph']} graph {record['structure_fingerprint']}", markup=False)
    return EXIT_OK
