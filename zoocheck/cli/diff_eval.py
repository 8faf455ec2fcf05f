"""``zoocheck diff-eval``: two evaluations on the same images, compared image by image."""

from __future__ import annotations

from pathlib import Path

from zoocheck.cli.common import EXIT_FAILED, EXIT_OK, add_max_drop_arg, add_results_arg, check_max_drop, console, print_json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "diff-eval",
        help="paired comparison of two evaluations on the same images: flips, McNemar test, bootstrap interval, verdict",
    )
    parser.add_argument(
        "reference",
        help="the reference evaluation's per-image predictions (.npz; `zoocheck eval` prints it): fp32, source framework, zoo A",
    )
    parser.add_argument("candidate", help="the candidate's predictions (.npz): the variant, the ONNX file, zoo B")
    add_max_drop_arg(parser, "the candidate against the reference")
    add_results_arg(parser)
    parser.add_argument("--json", action="store_true", help="print the paired comparison as JSON")
    parser.set_defaults(run=run)


def run(args) -> int:
    from zoocheck.checks.eval_runs import pair_evaluations
    from zoocheck.reports.eval_report import print_paired
    from zoocheck.store import ResultsStore

    check_max_drop(args.max_drop)
    paired = pair_evaluations(Path(args.reference), Path(args.candidate), ResultsStore(args.results), max_drop=args.max_drop / 100)
    if args.json:
        print_json(paired.to_json())
    else:
        print_paired(console(), paired)
    return EXIT_OK if paired.verdict == "pass" else EXIT_FAILED
