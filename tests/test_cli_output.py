"""Where the CLI's output goes: a pipe its reader closed early, and the files it writes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from zoocheck.cli import main


@pytest.mark.parametrize(
    "command",
    # audit of one small source: the whole registry's counts take half a minute and say nothing more here;
    # list --json computes every entry's fingerprint: its JSON writer is audit's and table's (default run)
    [
        ["list"],
        pytest.param(["list", "--json"], marks=pytest.mark.slow),
        ["audit", "--src", "gluon"],
        ["audit", "--src", "gluon", "--json"],
        ["table"],
        ["table", "--json"],
    ],
    ids=" ".join,
)
def test_a_reader_that_closed_the_pipe_ends_the_command_quietly(command, tmp_path):
    """`zoocheck list --json | head -1`: exit 141 (as git and ls, killed by SIGPIPE) and nothing on stderr."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte: every write meets a closed pipe
    try:
        done = subprocess.run(
            [sys.executable, "-m", "zoocheck", *command],
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=120,
            env={**os.environ, "ZOOCHECK_RESULTS": str(tmp_path / "results")},
        )
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr.decode()) == (141, "")


def test_a_broken_pipe_elsewhere_is_still_an_error(monkeypatch, capsys):
    """Only the output's own closed pipe is quiet: one to a child process that died is reported."""

    def run_with_a_dead_child(_args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("zoocheck.cli.table.run", run_with_a_dead_child)
    assert main(["table"]) == 2
    assert "Broken pipe" in capsys.readouterr().err


def test_written_files_get_the_umask_mode_not_the_temporary_files_0600(tmp_path):
    """results.jsonl rewritten by a re-run (store.replace_results) and `table --output` files: 0644 under umask 022."""
    from zoocheck.store import ResultsStore

    previous = os.umask(0o022)
    try:
        store = ResultsStore(tmp_path / "results")
        store.replace_results(lambda record: True, [])
        html = tmp_path / "table.html"
        assert (
            main(
                [
                    "table",
                    "--src",
                    "torchvision",
                    "--arch",
                    "resnet18",
                    "--format",
                    "html",
                    "--output",
                    str(html),
                    "--results",
                    str(store.directory),
                ]
            )
            == 0
        )
        os.umask(0o027)
        csv_file = tmp_path / "table.csv"
        assert (
            main(
                [
                    "table",
                    "--src",
                    "torchvision",
                    "--arch",
                    "resnet18",
                    "--format",
                    "csv",
                    "--output",
                    str(csv_file),
                    "--results",
                    str(store.directory),
                ]
            )
            == 0
        )
    finally:
        os.umask(previous)
    assert stat.S_IMODE(store.results_path.stat().st_mode) == 0o644
    assert stat.S_IMODE(html.stat().st_mode) == 0o644
    assert stat.S_IMODE(csv_file.stat().st_mode) == 0o640


def test_every_command_has_json_output():
    """Every command of the README's table takes --json (its output parses: the tests of each command)."""
    from zoocheck.cli import build_parser

    parser = build_parser()
    [commands] = [a for a in parser._actions if a.dest == "command"]
    assert set(commands.choices) >= {
        "convert",
        "parity",
        "list",
        "show",
        "fetch",
        "audit",
        "eval",
        "table",
        "preprocess",
        "sweep",
        "compare",
    }
    for name, subparser in commands.choices.items():
        assert "--json" in subparser._option_string_actions, name


def test_every_command_and_option_the_readme_shows_exists():
    """The README's command lines (its bash blocks and `zoocheck ...` spans) name only commands and
    options the parser has, and its commands table lists every command."""
    import re
    from pathlib import Path

    from zoocheck.cli import build_parser

    parser = build_parser()
    [commands] = [a for a in parser._actions if a.dest == "command"]
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = re.findall(r"^```bash\n(.*?)^```", readme, re.S | re.M)
    prose = re.sub(r"^```.*?^```", "", readme, flags=re.S | re.M)
    spans = [span.replace("\\|", " ") for span in re.findall(r"(?<!`)`(zoocheck [^`\n]+)`", prose)]  # a table cell's \| is "or"
    shown = []
    for line in [line.split("#")[0] for block in blocks for line in block.splitlines()] + spans:
        shown += [(m.group(1), m.group(2), line) for m in re.finditer(r"(?:^|[\s/])zoocheck ([a-z][a-z-]*)([^;&|]*)", line)]
    assert len(shown) > 20
    for command, rest, line in shown:
        assert command in commands.choices, line
        known = commands.choices[command]._option_string_actions.keys() | parser._option_string_actions.keys()
        unknown = [option for option in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", rest) if option not in known]
        assert not unknown, (line, unknown)
    table = {m.group(1) for m in re.finditer(r"^\| `zoocheck ([a-z-]+)", readme, re.M)} | {
        m.group(1) for m in re.finditer(r"/ `zoocheck ([a-z-]+)", readme)
    }
    assert table == set(commands.choices)
