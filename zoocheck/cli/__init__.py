"""The ``zoocheck`` command: a thin layer over the library.

``main(argv) -> int``: 0 all passed, 1 a check failed, 2 bad usage or input. Each subcommand lives
in its own module exposing ``register(subparsers)``; a subcommand whose module cannot be imported
is replaced by a stub that explains why, so one broken part never breaks the whole CLI.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import select
import sys
import traceback

from zoocheck import __version__, rundir
from zoocheck.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_PIPE_CLOSED, EXIT_TERMINATED, EXIT_USAGE, UsageError, fail
from zoocheck.errors import BadInput

# subcommand module names, in the order `zoocheck --help` lists them
SUBCOMMAND_MODULES = (
    "zoocheck.cli.convert",
    "zoocheck.cli.quantize",
    "zoocheck.cli.parity",
    "zoocheck.cli.registry",
    "zoocheck.cli.eval",
    "zoocheck.cli.diff_eval",
    "zoocheck.cli.table",
    "zoocheck.cli.report",
    "zoocheck.cli.sweep",
    "zoocheck.cli.preprocess",
    "zoocheck.cli.compare",
)


def _stub(subparsers, module_name: str, error: Exception) -> None:
    name = module_name.rsplit(".", 1)[1]
    parser = subparsers.add_parser(name, help=f"(unavailable: {error})", add_help=False)
    parser.add_argument("rest", nargs=argparse.REMAINDER)

    def run(_args) -> int:
        return fail(
            f"`zoocheck {name}` is unavailable: {type(error).__name__}: {error}; install zoocheck's dependencies again (`pip install zoocheck`) and run it again"
        )

    parser.set_defaults(run=run)


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors as one line (exit 2) like every other zoocheck error."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="zoocheck", description="Convert model-zoo ImageNet classifiers to ONNX and check them.")
    parser.add_argument("--version", action="version", version=f"zoocheck {__version__}")
    parser.add_argument("--verbose", action="store_true", help="also show the frameworks' own output and messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in SUBCOMMAND_MODULES:
        try:
            importlib.import_module(module_name).register(subparsers)
        except ImportError as exc:
            _stub(subparsers, module_name, exc)
    for subparser in subparsers.choices.values():  # `zoocheck convert ... --verbose` works too
        subparser.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def _output_closed() -> bool:
    """Whether standard output or error is a pipe whose reader has gone (``zoocheck list | head -1``)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            poller = select.poll()
            poller.register(stream.fileno(), select.POLLOUT)
        except (AttributeError, OSError, ValueError):  # replaced by an object without a descriptor
            continue
        if any(events & select.POLLERR for _fd, events in poller.poll(0)):
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    """Run one command. A closed output pipe ends it quietly with 141, as git and ls do (they die
    of SIGPIPE); what is left in the buffers goes to /dev/null, so exiting does not fail on it."""
    try:
        code = _run_command(argv)
        sys.stdout.flush()  # output still buffered meets a closed pipe here, not at exit
        return code
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(AttributeError, OSError, ValueError):
                os.dup2(devnull, stream.fileno())
        return EXIT_PIPE_CLOSED


def _run_command(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    if not getattr(args, "run", None):
        parser.print_help()
        return EXIT_USAGE
    # One temporary directory for the whole run, removed on every way out (SIGTERM included).
    with rundir.signals_as_exceptions():
        try:
            with rundir.run_directory():
                return args.run(args)
        except (UsageError, BadInput, rundir.OutputBusyError) as exc:
            return fail(str(exc))
        except KeyboardInterrupt:
            return fail(
                "interrupted (Ctrl-C): nothing was written under the final name and no temporary file is left", code=EXIT_INTERRUPTED
            )
        except rundir.Terminated:
            return fail(
                "terminated (SIGTERM): nothing was written under the final name and no temporary file is left", code=EXIT_TERMINATED
            )
        except OSError as exc:  # the disk filled up, a file vanished or changed permissions mid-run
            if isinstance(exc, BrokenPipeError) and _output_closed():
                raise  # not an error: main() ends quietly
            return fail(f"{exc.filename or 'a file'}: {exc.strerror or exc}; free space or fix the permissions and run again")
        except Exception as exc:  # a zoocheck bug: one line, the traceback only on request
            if getattr(args, "verbose", False):
                traceback.print_exc()
            return fail(
                f"internal error: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''} (a zoocheck bug; --verbose shows where)",
                code=EXIT_FAILED,
            )


def entry_point() -> None:
    sys.exit(main())
