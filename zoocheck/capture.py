"""Framework logs captured at the file-descriptor level, not printed.

paddle2onnx, glog, Polygraphy, libpng and torch write to file descriptors 1 and 2 from C, C++ and
Python alike; redirecting the descriptors (not ``sys.stdout``) is the only way to catch all of them.
What is caught goes to a log file: the run's debug log, shown on the terminal only with --verbose.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def captured_output(log: Path) -> Iterator[None]:
    """Append everything this process writes to descriptors 1 and 2 to ``log`` while inside."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    target = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    saved = os.dup(1), os.dup(2)
    try:
        os.dup2(target, 1)
        os.dup2(target, 2)
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, target):
            os.close(fd)


@contextlib.contextmanager
def captured_text() -> Iterator[list[str]]:
    """Capture descriptors 1 and 2 while inside; on leaving, the yielded list holds the text caught
    (through a file in the run directory, removed afterwards)."""
    import tempfile

    from zoocheck import rundir

    caught: list[str] = []
    with rundir.run_directory() as run:
        fd, name = tempfile.mkstemp(prefix="captured-", suffix=".log", dir=run)
        os.close(fd)
        log = Path(name)
        try:
            with captured_output(log):
                yield caught
        finally:
            caught.append(read_log(log))
            log.unlink(missing_ok=True)


def read_log(log: Path) -> str:
    try:
        return log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
