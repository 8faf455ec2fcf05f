"""Convert and parity show their steps on a terminal (a rich status line on standard error).

The commands run in this process (``main``) with standard error on a pseudo-terminal: what rich
draws there is read back as a user's terminal would show it."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import threading

import pytest

from zoocheck.cli import main

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _run_on_a_terminal(argv: list[str], monkeypatch) -> tuple[int, str]:
    """``main(argv)`` with standard error on a pseudo-terminal; (exit code, what the terminal showed)."""
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("TERM", "xterm")
    controller, terminal = pty.openpty()
    shown: list[str] = []
    finished = threading.Event()

    def read() -> None:  # drained as it is written: a full terminal buffer would block the writer
        while True:
            ready, _, _ = select.select([controller], [], [], 0.1)
            if not ready:
                if finished.is_set():
                    return
                continue
            try:
                data = os.read(controller, 65536)
            except OSError:  # the terminal side was closed
                return
            if not data:
                return
            shown.append(data.decode("utf-8", "replace"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        with open(terminal, "w", encoding="utf-8") as stderr, contextlib.redirect_stderr(stderr):
            assert stderr.isatty()
            code = main(argv)
    finally:
        finished.set()
        reader.join(timeout=30)
        os.close(controller)
    return code, _ANSI.sub("", "".join(shown))


def test_convert_shows_each_step_on_a_terminal(tmp_path, monkeypatch):
    pytest.importorskip("torchvision")
    output = tmp_path / "resnet18.onnx"
    code, shown = _run_on_a_terminal(
        [
            "convert",
            "--src",
            "torchvision",
            "--model",
            "resnet18.IMAGENET1K_V1",
            "--random-weights",
            "--output",
            str(output),
            "--results",
            str(tmp_path / "results"),
        ],
        monkeypatch,
    )
    assert code == 0 and output.is_file(), shown
    assert "converting torchvision/resnet18.IMAGENET1K_V1" in shown
    for step in ("building the model and loading its weights", "exporting ONNX with the source's exporter"):
        assert step in shown, shown


def test_parity_shows_each_step_on_a_terminal(tmp_path, monkeypatch):
    pytest.importorskip("torchvision")
    code, shown = _run_on_a_terminal(
        [
            "parity",
            "--src",
            "torchvision",
            "--model",
            "resnet18.IMAGENET1K_V1",
            "--random-weights",
            "--output",
            str(tmp_path / "resnet18.onnx"),
            "--results",
            str(tmp_path / "results"),
        ],
        monkeypatch,
    )
    assert code == 0, shown
    for step in ("running the framework's own forward", "exporting ONNX with the source's exporter"):
        assert step in shown, shown
