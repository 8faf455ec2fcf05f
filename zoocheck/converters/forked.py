"""Work done in a process forked from this one, beside what this process does next.

A thread shares the interpreter lock: torch's kernels release it, but torch.onnx's passes, onnx's
parser and checker and protobuf's serialisation hold it for seconds at a time, so a forward in a
thread waits between its operators whenever the export or the graph's rewriting runs (a ViT-B/16's
float32 forward of 7 photographs: 3.5 s on one core alone, 9 s beside them). A forked process has
its own, and shares the model's weights with this one page by page until either writes them.
"""

from __future__ import annotations

import os
import pickle
import signal
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from zoocheck.converters.child import die_with_parent, explain_exit

T = TypeVar("T")


class ForkedTraceback(Exception):
    """The traceback of what the forked process raised, as its text (the cause of the exception
    re-raised here, as ``concurrent.futures`` does for its process pools)."""


@dataclass
class Forked(Generic[T]):
    """``work()`` under way in a forked process: ``result()`` waits for it and returns what it
    returned or raises what it raised; ``cancel()`` kills it if it still runs (a caller that
    failed before waiting). Either reaps the process."""

    pid: int
    pipe: int
    what: str
    _reaped: bool = False

    def result(self) -> T:
        try:
            with os.fdopen(self.pipe, "rb") as pipe:
                try:
                    ok, value, text = pickle.load(pipe)
                except (EOFError, pickle.UnpicklingError):
                    ok = None
        finally:  # whatever reading raised, the process is reaped (and ``cancel`` has nothing to do)
            status = self._reap()
        if ok is None:  # died before it replied: killed (the OOM killer) or crashed
            raise RuntimeError(explain_exit(status, f"the process of {self.what}", self.what)[1])
        if not ok:
            raise value from ForkedTraceback(text)
        return value

    def cancel(self) -> None:
        if not self._reaped:  # until reaped, the pid is this process's child (a zombie once ended)
            os.kill(self.pid, signal.SIGKILL)
            self._reap()
            os.close(self.pipe)

    def _reap(self) -> int:
        _, status = os.waitpid(self.pid, 0)
        self._reaped = True
        return os.waitstatus_to_exitcode(status)


def forked(work: Callable[[], T], what: str) -> Forked[T]:
    """``work()`` begun in a process forked from this one; ``what`` names it in an error. The forked
    process dies with this one, and of an interrupt (none of this one's handlers run there), sends
    its result (or what it raised, with the traceback's text) through a pipe, and ends without
    this process's exit handlers. Its result must pickle. OSError where no process can be forked,
    with nothing left open."""
    read_end, write_end = os.pipe()
    parent = os.getpid()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        raise
    if pid == 0:
        try:
            os.close(read_end)
            for interrupt in (signal.SIGINT, signal.SIGTERM):  # not this process's handlers (its cleanup)
                signal.signal(interrupt, signal.SIG_DFL)
            die_with_parent()
            if os.getppid() != parent:  # the parent died before that took effect
                return
            try:
                reply = (True, work(), "")
            except BaseException as exc:
                reply = (False, exc, "".join(traceback.format_exception(exc)))
            try:
                data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:  # a result or exception that does not pickle: its type and text
                data = pickle.dumps((False, RuntimeError(f"{type(reply[1]).__name__}: {reply[1]}"), reply[2]))
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(data)
        finally:
            os._exit(0)
    os.close(write_end)
    return Forked(pid, read_end, what)
