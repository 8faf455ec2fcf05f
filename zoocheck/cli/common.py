"""What every subcommand shares: exit codes, one-line errors, JSON output, common options."""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# 128 + the signal number, as shells report a process ended by SIGINT / SIGTERM / SIGPIPE
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143
EXIT_PIPE_CLOSED = 141  # the output's reader went away (`| head`): git and ls end so, silently


class UsageError(Exception):
    """Bad usage or input: printed as one line, exit code 2."""


def fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"zoocheck: error: {message}", file=sys.stderr)
    return code


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


def console():
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:  # rich would exit 1 here; main() ends a closed pipe quietly
            raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))

    # Piped output is read by people and grep alike: do not squeeze tables to 80 columns.
    return _Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def sources_help() -> str:
    """The registered sources, for --src help texts."""
    from zoocheck.sources import source_names

    return ", ".join(source_names())


def add_arch_arg(parser) -> None:
    parser.add_argument(
        "--arch",
        help="only these architectures: an id pattern (fnmatch, e.g. 'resnet50*') or a family's name (e.g. 'swin', 'densenet', "
        "or a zoo table's: 'deit', 'deit3', 'swin_v2')",
    )


def add_model_args(parser, *, many: bool = False) -> None:
    """--src/--model, --weights/--random-weights/--seed: how convert and parity name a model and its
    weights. With ``many``, --model takes several names or fnmatch patterns."""
    parser.add_argument("--src", required=True, help=f"source zoo: {sources_help()}")
    if many:
        parser.add_argument(
            "--model", required=True, nargs="+", help="model names or fnmatch patterns such as 'ResNet*_vd' (case-insensitive)"
        )
    else:
        parser.add_argument("--model", required=True, help="the source's own model name (case-insensitive; aliases accepted)")
    parser.add_argument("--weights", help="weights file or directory in the source's own format (default: the fetched file in the cache)")
    add_random_weights_args(parser)


def add_random_weights_args(parser) -> None:
    parser.add_argument("--random-weights", action="store_true", help="use seeded random weights (every output says so)")
    add_seed_arg(parser)


def add_seed_arg(parser) -> None:
    # no default here: a --seed given without --random-weights is refused (random_seed), not ignored
    parser.add_argument("--seed", type=int, help="seed for --random-weights (0 to 2**32-1, default 0)")


def random_seed(args) -> int | None:
    """The seed of --random-weights (default 0), None without --random-weights. UsageError for a
    --seed given without it (it would be silently ignored) and for a seed out of range."""
    from zoocheck.validate import check_seed

    if not args.random_weights:
        if args.seed is not None:
            raise UsageError(f"--seed {args.seed} seeds --random-weights: add --random-weights, or leave --seed out")
        return None
    seed = 0 if args.seed is None else args.seed
    check_seed(seed)
    return seed


def add_output_args(parser, what: str) -> None:
    """--output/--overwrite/--opset for a command that writes a conversion."""
    parser.add_argument(
        "--output",
        help=f"ONNX file to write ({what}default <results>/onnx/<source>/<model>.onnx, or <model>.random-seed<N>.onnx for random weights)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file that holds another model or other weights")
    parser.add_argument("--opset", type=int, help="ONNX opset (default 17; each exporter's range is checked)")


def add_precision_args(
    parser, what: str = "also write this variant beside the fp32 file (<name>.<precision>.onnx) and check it with its own tolerance"
) -> None:
    """--precision/--calibration: a deployment variant of the file converted."""
    from zoocheck.records import PRECISIONS

    parser.add_argument("--precision", choices=PRECISIONS, default="fp32", help=what)
    parser.add_argument(
        "--calibration",
        help="int8: folder of images to calibrate on, from the data you evaluate on (default: the bundled photographs, too few: a warning says so)",
    )


def check_precision_args(args) -> None:
    if args.calibration and args.precision != "int8":
        raise UsageError("--calibration calibrates an int8 variant: add --precision int8")


def add_execution_provider_arg(parser) -> None:
    parser.add_argument(
        "--execution-provider",
        help="onnxruntime execution provider to run the ONNX file on (default CPUExecutionProvider; one this onnxruntime has)",
    )


def use_execution_provider(args) -> None:
    """The --execution-provider asked for, or a one-line refusal listing those installed."""
    from zoocheck.converters.onnx_runtime import use_execution_provider as use

    if args.execution_provider:
        try:
            use(args.execution_provider)
        except ValueError as exc:
            raise UsageError(f"{exc}; pick one of those for --execution-provider") from None


def add_max_drop_arg(parser, compared: str) -> None:
    parser.add_argument(
        "--max-drop",
        type=float,
        default=1.0,
        help=f"{compared}: the top-1 drop allowed, in percent of the reference's top-1 (default 1: MLPerf's 99%%)",
    )


def check_max_drop(value: float) -> None:
    if not 0 <= value < 100:
        raise UsageError(f"--max-drop {value:g}: give a percentage of the reference top-1 from 0 to 100 (1: MLPerf's 99%)")


def add_results_arg(parser) -> None:
    parser.add_argument("--results", help="results folder (default $ZOOCHECK_RESULTS or ./zoocheck-results)")


def resolve_entries(source: str, names: list[str]):
    """Entries for names, aliases and fnmatch patterns (``'ResNet*_vd'``) of one source, in the
    order given; for timm/torchvision also any model the library itself knows. UsageError when a
    name selects nothing. Every command selects through ``zoo_registry.select_entries``."""
    from zoocheck.converters import library_entry
    from zoocheck.sources import UnknownSourceError
    from zoocheck.zoo_registry import UnknownModelError, select_entries

    try:
        return select_entries(source, names, library=library_entry)
    except (UnknownSourceError, UnknownModelError) as exc:
        raise UsageError(str(exc)) from None


def resolve_entry(source: str, name: str):
    """The one entry ``name`` selects in ``source`` (``resolve_entries``); UsageError when it selects several."""
    entries = resolve_entries(source, [name])
    if len(entries) > 1:
        shown = ", ".join(e.name for e in entries[:4]) + (", ..." if len(entries) > 4 else "")
        raise UsageError(f"--model {name!r} selects {len(entries)} {source} models ({shown}); give one model's name")
    return entries[0]


def weights_for(entry, args):
    """(weights path or None, random seed or None) for --weights/--random-weights/--seed.

    Raises UsageError (exit 2) for both --weights and --random-weights, for neither of them without
    a fetched file in the cache, for a weights path that does not exist, or for a bad --seed.
    """
    from zoocheck.converters.weights_resolution import MissingWeightsError, check_published_file, resolve_weights

    if args.weights and args.random_weights:
        raise UsageError("give either --weights or --random-weights, not both")
    seed = random_seed(args)
    try:
        weights = resolve_weights(entry, args.weights, seed)
    except MissingWeightsError as exc:
        raise UsageError(str(exc)) from None
    check_published_file(entry, weights)
    return weights, seed


def model_and_weights(args):
    """(entry, weights, seed) for a command that takes exactly one --model."""
    entry = resolve_entry(args.src, args.model)
    return (entry, *weights_for(entry, args))


def prepare_output(args, store, entry, weights, seed):
    """The ONNX path a command converts to, checked before any work: ends in .onnx, writable, not a
    directory, a short enough name, not a file of another model or weights (unless --overwrite;
    before refusing one, the weights are loaded: when they are unusable, that is the error);
    the results folder writable; the opset within the exporter's range."""
    from pathlib import Path

    from zoocheck.checks.runs import default_onnx_path
    from zoocheck.converters.weights_resolution import check_weights_usable
    from zoocheck.errors import BadInput
    from zoocheck.identity import ModelIdentity, check_replaceable
    from zoocheck.validate import check_opset, check_writable_dir, check_writable_file

    check_opset(entry.source, args.opset)
    output = Path(args.output) if args.output else default_onnx_path(store, entry, seed)
    if output.suffix != ".onnx":
        raise UsageError(f"{output}: the output file must end in .onnx")
    check_writable_dir(store.directory, "the results folder")
    check_writable_file(output)
    try:
        check_replaceable(output, lambda: ModelIdentity.of_run(entry, weights, seed), overwrite=args.overwrite)
    except BadInput:
        check_weights_usable(entry, weights)  # unusable weights are the error to fix first
        raise
    return output


def report_failure(store, failure, args=None) -> int:
    """Print the one-line reason of a failure the library stored in ``store``'s failure log (with
    --verbose, also what the library said); exit code 1, or 2 for an unusable input file."""
    print(f"zoocheck: error: {failure.one_line()} (failure log: {store.failures_path})", file=sys.stderr)
    if getattr(args, "verbose", False) and failure.detail:
        print(failure.detail, file=sys.stderr)
    return EXIT_USAGE if failure.bad_input else EXIT_FAILED


_STAGE_TEXT = {
    "load": "starting the framework",
    "build": "building the model and loading its weights",
    "parity": "running the framework's own forward",
    "export": "exporting ONNX with the source's exporter",
    "check": "normalising, checking and writing the ONNX file",
}


@contextmanager
def stage_status(what: str, enabled: bool = True) -> Iterator[Callable[[str], None]]:
    """A status line on standard error naming the step a conversion is at; yields the ``on_stage``
    callback for ``pipeline.convert``."""
    if not enabled:
        yield lambda stage: None
        return
    from rich.console import Console

    with Console(stderr=True).status(f"{what}: starting") as status:
        yield lambda stage: status.update(f"{what}: {_STAGE_TEXT.get(stage, stage)}")


def keep_framework_log(store, args, title: str, text: str) -> None:
    """What the frameworks printed: into the results folder's debug log, on the terminal with --verbose."""
    if not text.strip():
        return
    store.add_debug_log(title, text)
    if getattr(args, "verbose", False):
        sys.stderr.write(text if text.endswith("\n") else text + "\n")


def add_graph_arg(parser) -> None:
    parser.add_argument(
        "--graph",
        choices=("canonical", "native"),
        help="canonical: the architecture's one graph, the same from every zoo (default where the architecture has one); "
        "native: the source exporter's graph, normalised",
    )


def check_graph_form(entry, requested: str | None, opset: int | None) -> None:
    """Refuse ``--graph canonical`` for an architecture without a canonical graph at ``opset`` (None:
    the default one) (UsageError), before anything is converted; an opset outside the source
    exporter's range first, as that (BadInput)."""
    from zoocheck.converters.graph import NoCanonicalForm, resolve_form
    from zoocheck.converters.pipeline import DEFAULT_OPSET
    from zoocheck.validate import check_opset

    check_opset(entry.source, opset)
    try:
        resolve_form(entry.arch, requested, opset=DEFAULT_OPSET if opset is None else opset)
    except NoCanonicalForm as exc:
        raise UsageError(f"{entry.key}: no canonical graph ({exc}); use --graph native") from None
