"""``zoocheck compare SRC:MODEL SRC:MODEL``: two zoos' versions of one architecture side by side.

The verdict comes first (identical / equivalent / different), then the weights, the function on the
same inputs, the first diverging node when they differ, and what the two preprocessings do.
Exit 0 for identical or equivalent, 1 for different (or a side that could not be converted), 2 for
different architectures, an architecture without a canonical graph, or an unusable weights file.
"""

from __future__ import annotations

from zoocheck.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    add_results_arg,
    add_seed_arg,
    console,
    keep_framework_log,
    print_json,
    random_seed,
    report_failure,
    resolve_entry,
    stage_status,
)


def register(subparsers) -> None:
    parser = subparsers.add_parser("compare", help="compare two zoos' versions of one architecture: weights, function, preprocessing")
    parser.add_argument("models", nargs=2, metavar="SRC:MODEL", help="two models, e.g. timm:resnet50d ppcls:ResNet50_vd")
    parser.add_argument(
        "--weights",
        nargs=2,
        metavar=("A", "B"),
        help="a weights file per side, each in its source's own format (default: the fetched files)",
    )
    parser.add_argument(
        "--random-weights",
        action="store_true",
        help="one common random set written in each side's own format (a self-test of both weight mappings)",
    )
    add_seed_arg(parser)
    parser.add_argument("--images", help="folder of photographs (default: the real photographs bundled with scikit-image)")
    parser.add_argument("--max-rel-err", type=float, help="function tolerance: max |diff| / logit range (default 1e-3)")
    add_results_arg(parser)
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    parser.set_defaults(run=run)


def _entry(text: str):
    source, sep, name = text.partition(":")
    if not sep or not source or not name:
        raise UsageError(f"{text!r}: name a model as SRC:MODEL, e.g. timm:resnet50d")
    return resolve_entry(source, name)


def run(args) -> int:
    import dataclasses

    from zoocheck.checks.images import bundled_photos, images_in
    from zoocheck.checks.runs import compare_and_store
    from zoocheck.converters.graph import NoCanonicalForm, resolve_form
    from zoocheck.converters.weights_resolution import MissingWeightsError, check_published_file, resolve_weights
    from zoocheck.records import Failure, Tolerance
    from zoocheck.reports.compare_report import compare_lines
    from zoocheck.store import ResultsStore
    from zoocheck.validate import check_writable_dir, positive_finite

    entry_a, entry_b = (_entry(m) for m in args.models)
    if entry_a.arch.id != entry_b.arch.id:
        raise UsageError(
            f"{entry_a.key} is {entry_a.arch.id} and {entry_b.key} is {entry_b.arch.id}: different architectures, nothing to compare"
        )
    try:  # both sides are compared as the architecture's canonical graph
        resolve_form(entry_a.arch, "canonical")
    except NoCanonicalForm as exc:
        raise UsageError(f"{entry_a.key} vs {entry_b.key}: compare works on canonical graphs, and {exc}; nothing to compare") from None
    if args.weights and args.random_weights:
        raise UsageError("give either --weights A B or --random-weights, not both")
    seed = random_seed(args)
    positive_finite("--max-rel-err", args.max_rel_err)
    weights = None
    if not args.random_weights:
        try:
            given = args.weights or (None, None)
            weights = tuple(resolve_weights(e, w, None, weights_option="--weights A B") for e, w in zip((entry_a, entry_b), given))
        except MissingWeightsError as exc:
            raise UsageError(str(exc)) from None
        for entry, path in zip((entry_a, entry_b), weights):
            check_published_file(entry, path)
    try:
        images = images_in(args.images) if args.images else bundled_photos()
    except FileNotFoundError as exc:
        raise UsageError(f"{exc}; check the --images folder") from None
    tolerance = Tolerance() if args.max_rel_err is None else dataclasses.replace(Tolerance(), max_rel_err=args.max_rel_err)
    store = ResultsStore(args.results)
    check_writable_dir(store.directory, "the results folder")
    with stage_status(f"comparing {entry_a.key} with {entry_b.key}", enabled=not args.json):
        result, log = compare_and_store(entry_a, entry_b, store, weights=weights, random_seed=seed, images=images, tolerance=tolerance)
    keep_framework_log(store, args, f"compare {entry_a.key} {entry_b.key}", log)
    if isinstance(result, Failure):
        return report_failure(store, result, args)
    if args.json:
        print_json(result.to_json())
    else:
        out = console()
        for line in compare_lines(result):
            out.print(line, markup=False, soft_wrap=True)
    return EXIT_OK if result.verdict in ("identical", "equivalent") else EXIT_FAILED
