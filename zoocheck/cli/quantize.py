"""``zoocheck quantize``: an fp16 or int8 variant of an fp32 file zoocheck wrote."""

from __future__ import annotations

from pathlib import Path

from zoocheck.cli.common import EXIT_OK, UsageError, add_results_arg, console, keep_framework_log, print_json, report_failure


def register(subparsers) -> None:
    from zoocheck.records import PRECISIONS

    parser = subparsers.add_parser(
        "quantize", help="write the fp16 or int8 variant of a converted fp32 file (drop-in: fp32 inputs and outputs)"
    )
    parser.add_argument("onnx", help="an fp32 ONNX file written by zoocheck (its metadata names the model, weights and preprocessing)")
    parser.add_argument("--precision", required=True, choices=[p for p in PRECISIONS if p != "fp32"], help="the variant to write")
    parser.add_argument(
        "--calibration",
        help="int8: folder of images to calibrate on, from the data you evaluate on (default: the bundled photographs, too few: a warning says so)",
    )
    parser.add_argument("--output", help="the variant's file (default: beside the fp32 file, <name>.<precision>.onnx)")
    add_results_arg(parser)
    parser.add_argument("--json", action="store_true", help="print the variant's conversion record as JSON")
    parser.set_defaults(run=run)


def run(args) -> int:
    from zoocheck.checks.runs import variant_of_file
    from zoocheck.reports.parity_report import print_variant
    from zoocheck.store import ResultsStore
    from zoocheck.validate import check_writable_dir, check_writable_file

    if not Path(args.onnx).is_file():  # named as given: a positional file, not parity's --onnx
        raise UsageError(f"{args.onnx}: no such ONNX file; check the fp32 file's path")
    if args.calibration and args.precision != "int8":
        raise UsageError("--calibration calibrates an int8 variant: use it with --precision int8")
    output = Path(args.output) if args.output else None
    if output is not None:
        if output.suffix != ".onnx":
            raise UsageError(f"{output}: the output file must end in .onnx")
        if output.resolve() == Path(args.onnx).resolve():
            raise UsageError(f"{output}: is the fp32 file itself; name another --output")
        check_writable_file(output)
    store = ResultsStore(args.results)
    check_writable_dir(store.directory, "the results folder")
    outcome = variant_of_file(
        Path(args.onnx), args.precision, store, output=output, calibration=Path(args.calibration) if args.calibration else None
    )
    keep_framework_log(store, args, f"{args.precision} variant {outcome.path.name}", outcome.log)
    if outcome.failure is not None:
        return report_failure(store, outcome.failure, args)
    if args.json:
        print_json(outcome.record.to_json())
    else:
        print_variant(console(), outcome)
    return EXIT_OK
