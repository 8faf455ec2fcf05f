"""Framework work in a child process: ``python -m zoocheck.converters.child``.

Every framework call (load, native forward, export) runs in a child, so an abort or segfault
inside Paddle or MXNet, or the kernel's OOM killer, ends that child only. The child is a fresh
interpreter started with ``subprocess``, not ``multiprocessing``: nothing re-imports the caller's
``__main__``, so a library user's script needs no ``if __name__ == "__main__"`` guard.

Parent and child talk over a socket pair (the child's stdout and stderr stay the framework's):
length-prefixed pickles, first the parent's ``sys.path`` and the sources and families registered
beyond the built-in ones (``zoocheck.extensions``: so they exist in the child too), then one job, whose
``run(channel)`` sends replies and may receive further requests.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

_HEADER = struct.Struct("!Q")
_PR_SET_PDEATHSIG = 1
_INTERRUPTS = {signal.SIGINT, signal.SIGTERM}


class Job(Protocol):
    def run(self, channel: "Channel") -> None: ...


class Channel:
    """One end of the socket pair: ``send`` / ``recv`` whole pickled objects."""

    def __init__(self, sock: socket.socket):
        self._sock = sock
        self._reader = sock.makefile("rb")

    def send(self, obj: Any) -> None:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        self._sock.sendall(_HEADER.pack(len(data)) + data)

    def recv(self) -> Any:
        """The next object; EOFError when the other end has closed (or died)."""
        header = self._reader.read(_HEADER.size)
        if len(header) < _HEADER.size:
            raise EOFError("the other process closed the channel")
        size = _HEADER.unpack(header)[0]
        data = self._reader.read(size)
        if len(data) < size:
            raise EOFError("the other process closed the channel mid-message")
        return pickle.loads(data)

    def close(self) -> None:
        self._reader.close()
        self._sock.close()


def _package_root() -> str:
    import zoocheck

    return str(Path(zoocheck.__file__).resolve().parent.parent)


class ChildProcess:
    """A child running one job; iterate ``replies()`` until it ends, then ``wait()``. As a context
    manager it kills the child when the block is left by an exception (Ctrl-C, SIGTERM) and
    always reaps it."""

    def __init__(self, job: Job):
        from zoocheck.extensions import registered_extensions

        parent_sock, child_sock = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([_package_root(), *filter(None, [env.get("PYTHONPATH")])])
        try:
            # Its own process group from the start: the terminal's Ctrl-C never reaches the
            # framework (Paddle answers it with a C++ "FatalError" and an abort); the parent owns
            # interrupts, kills the child and removes the run's files.
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "zoocheck.converters.child", str(child_sock.fileno())],
                pass_fds=(child_sock.fileno(),),
                env=env,
                stdin=subprocess.DEVNULL,
                process_group=0,
            )
        finally:
            child_sock.close()
        self.channel = Channel(parent_sock)
        self.send((list(sys.path), registered_extensions()))
        self.send(job)

    def send(self, obj: Any) -> None:
        """Send ``obj`` to the child; a child that has died is reported by ``replies``/``wait``."""
        with contextlib.suppress(OSError):
            self.channel.send(obj)

    def replies(self) -> Iterator[Any]:
        while True:
            try:
                yield self.channel.recv()
            except (EOFError, OSError):
                return

    def wait(self) -> int:
        """The child's exit status (negative: the signal that killed it)."""
        self.channel.close()
        return self._proc.wait()

    def kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()

    def __enter__(self) -> "ChildProcess":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.kill()
        self.wait()


def start_detached(proc) -> None:
    """Start the ``multiprocessing`` process ``proc``, whose target calls
    ``detach_from_parent_signals`` first (a sweep's long-lived workers). Until the child has
    detached itself, a Ctrl-C must not reach it (spawn's bootstrap would print a traceback): the
    signal mask is inherited, and the parent gets the signal afterwards."""
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)
    try:
        proc.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)


def detach_from_parent_signals() -> None:
    """The parent owns Ctrl-C and SIGTERM: it kills this child and removes the run's files. The
    child is in its own process group, so the terminal's Ctrl-C never reaches the framework
    (Paddle answers it with a C++ "FatalError" and an abort), and dies with the parent even when
    the parent is killed outright."""
    os.setpgrp()  # a no-op for a ChildProcess, started in its own group
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _INTERRUPTS)  # blocked by start_detached
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def main(argv: list[str]) -> int:
    detach_from_parent_signals()
    channel = Channel(socket.socket(fileno=int(argv[0])))
    try:
        path, extensions = channel.recv()
        sys.path[:] = list(dict.fromkeys([*path, *sys.path]))
        from zoocheck.extensions import register_extensions

        register_extensions(extensions)
        channel.recv().run(channel)
    except EOFError:  # the parent went away: nothing left to report to
        return 1
    finally:
        channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
