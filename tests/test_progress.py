"""Convert and parity show their steps on a terminal (a rich status line on standard error)."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _run_on_a_terminal(argv: list[str], timeout: float = 300.0) -> tuple[int, str]:
    """Run ``argv`` with standard error on a pseudo-terminal; (exit code, what the terminal showed)."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=terminal, env={**os.environ, "COLUMNS": "200", "TERM": "xterm"}
    )
    os.close(terminal)
    shown, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.5)
        if ready:
            try:
                data = os.read(controller, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            shown.append(data.decode("utf-8", "replace"))
        elif proc.poll() is not None:
            break
    os.close(controller)
    code = proc.wait(timeout=30)
    return code, _ANSI.sub("", "".join(shown))


def test_convert_shows_each_step_on_a_terminal(tmp_path):
    pytest.importorskip("torchvision")
    output = tmp_path / "resnet18.onnx"
    code, shown = _run_on_a_terminal(
        [
            sys.executable,
            "-m",
            "zoocheck",
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
        ]
    )
    assert code == 0 and output.is_file(), shown
    assert "converting torchvision/resnet18.IMAGENET1K_V1" in shown
    for step in ("building the model and loading its weights", "exporting ONNX with the source's exporter"):
        assert step in shown, shown


def test_parity_shows_each_step_on_a_terminal(tmp_path):
    pytest.importorskip("torchvision")
    code, shown = _run_on_a_terminal(
        [
            sys.executable,
            "-m",
            "zoocheck",
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
        ]
    )
    assert code == 0, shown
    for step in ("running the framework's own forward", "exporting ONNX with the source's exporter"):
        assert step in shown, shown
