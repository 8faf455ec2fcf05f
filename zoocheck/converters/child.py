"""Framework work in a child process: ``python -m zoocheck.converters.child``.

Every framework call (load, native forward, export) runs in a child, so an abort or segfault
inside Paddle or MXNet, or the kernel's OOM killer, ends that child only. The child is a fresh
interpreter started with ``subprocess``, not ``multiprocessing``: nothing re-imports the caller's
``__main__``, so a library user's script needs no ``if __name__ == "__main__"`` guard.

Parent and child talk over a socket pair (the child's stdout and stderr stay the framework's):
length-prefixed pickles, first the parent's ``sys.path`` and the sources and families registered
beyond the built-in ones (``zoocheck.extensions``: so they exist in the child too), then one job, whose
``run(channel)`` sends replies and may receive further requests.

Warm children: a process that starts many children (the test suite, a script converting many
models) may name groups of framework modules in ``ZOOCHECK_PRELOAD`` (``;`` between groups, ``,``
within one, e.g. ``torch,torchvision,timm,onnx;paddle,paddle2onnx``). A child whose source's
frameworks all lie in one group is then forked from a long-lived process (a "zygote", one per group)
that imported that group once, instead of importing it afresh (torch + torchvision + timm: 4-8 s
of every child). The forked child gets the caller's environment, working directory, standard
output and error, and stays isolated exactly as a fresh one: its own process, its own process
group, killed with its parent. A child started ahead (``started_ahead``) imports its frameworks
while the parent still prepares the job, and the next ``ChildProcess`` for them takes it.

Why one module of about 480 lines: the three ways a child starts (fresh, forked from a zygote,
started ahead) end in the same entry point (``main``) and the zygote forks into it, while
``ChildProcess`` picks among them; split apart, the pieces would import each other.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn, Protocol

_HEADER = struct.Struct("!Q")
_PR_SET_PDEATHSIG = 1
_INTERRUPTS = {signal.SIGINT, signal.SIGTERM}


class Job(Protocol):
    def run(self, channel: Channel) -> None: ...


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


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([_package_root(), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _spawn(argv: list[str], fd: int) -> subprocess.Popen:
    # Its own process group from the start: the terminal's Ctrl-C never reaches the framework
    # (Paddle answers it with a C++ "FatalError" and an abort); the parent owns interrupts, kills
    # the child and removes the run's files.
    return subprocess.Popen(
        [sys.executable, "-m", "zoocheck.converters.child", *argv, str(fd)],
        pass_fds=(fd,),
        env=_child_env(),
        stdin=subprocess.DEVNULL,
        process_group=0,
    )


class _Fresh:
    """A child that is a fresh interpreter; ``preload``: the modules it imports before it reads its job."""

    def __init__(self, fd: int, preload: Sequence[str] = ()):
        self._proc = _spawn(["--import", ",".join(preload)] if preload else [], fd)

    def kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()

    def wait(self) -> int:
        return self._proc.wait()


class ChildProcess:
    """A child running one job; iterate ``replies()`` until it ends, then ``wait()``. As a context
    manager it kills the child when the block is left by an exception (Ctrl-C, SIGTERM) and
    always reaps it. ``frameworks``: the modules the job imports (a warm child is used where they
    lie in a ``ZOOCHECK_PRELOAD`` group)."""

    def __init__(self, job: Job, frameworks: Sequence[str] | None = None):
        from zoocheck.extensions import registered_extensions

        ahead = _take_started_ahead(frameworks)
        if ahead is not None:
            self._process, parent_sock = ahead
        else:
            parent_sock, child_sock = socket.socketpair()
            try:
                group = _preload_group(frameworks)
                self._process = _zygote(group).fork(child_sock.fileno()) if group else _Fresh(child_sock.fileno())
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
        return self._process.wait()

    def kill(self) -> None:
        self._process.kill()

    def __enter__(self) -> ChildProcess:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.kill()
        self.wait()


# ---------------------------------------------------------------------------------------------
# a child started ahead of its job: its imports run while the caller gets the job ready

_ahead: list[tuple[tuple[str, ...], _Fresh, socket.socket]] = []
_ahead_lock = threading.Lock()


@contextlib.contextmanager
def started_ahead(frameworks: Sequence[str], imports: Sequence[str]) -> Iterator[None]:
    """A fresh child started now, importing ``imports`` while this process gets its job ready (checks
    options, hashes, decodes photographs): the first ``ChildProcess`` for the same ``frameworks``
    inside the block takes it, any other starts as usual. Killed on the way out if none took it.
    Nothing is started where a warm child serves these frameworks (``ZOOCHECK_PRELOAD``)."""
    if _preload_group(frameworks) is not None:
        yield
        return
    parent_sock, child_sock = socket.socketpair()
    try:
        process = _Fresh(child_sock.fileno(), preload=imports)
    finally:
        child_sock.close()
    slot = (tuple(frameworks), process, parent_sock)
    with _ahead_lock:
        _ahead.append(slot)
    try:
        yield
    finally:
        with _ahead_lock:
            untaken = any(waiting is slot for waiting in _ahead)
            _ahead[:] = [waiting for waiting in _ahead if waiting is not slot]
        if untaken:
            process.kill()
            process.wait()
            parent_sock.close()


def _take_started_ahead(frameworks: Sequence[str] | None) -> tuple[_Fresh, socket.socket] | None:
    """The child started ahead for ``frameworks`` and its end of the channel, if one waits."""
    with _ahead_lock:
        for slot in _ahead:
            if frameworks is not None and slot[0] == tuple(frameworks):
                _ahead.remove(slot)
                return slot[1], slot[2]
    return None


def import_modules(modules: Sequence[str]) -> None:
    """Import ``modules`` ahead of the work that needs them, a framework through the importer its
    source declares (MXNet's numpy shim: a plain ``import mxnet`` fails); one that fails is imported
    again by that work, which reports the error where it belongs."""
    import importlib

    from zoocheck.sources import all_sources

    frameworks = {f.module: f for source in all_sources() for f in source.frameworks if f.importer}
    for module in modules:
        with contextlib.suppress(Exception):
            if module in frameworks:
                frameworks[module].load()
            else:
                importlib.import_module(module)


def _import_quietly(modules: Sequence[str]) -> None:
    """Import ``modules`` before any job, their output sent to /dev/null: what an import prints is no
    job's business (a job captures its own output into its log), as in a warm child."""
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in saved:
            os.dup2(devnull, fd)
        import_modules(modules)
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        for fd, original in saved.items():
            os.dup2(original, fd)
            os.close(original)
        os.close(devnull)


# ---------------------------------------------------------------------------------------------
# warm children: forked from a zygote that imported a group of frameworks once

PRELOAD_ENV = "ZOOCHECK_PRELOAD"
_MESSAGE_MAX = 1 << 20
_STATUS = struct.Struct("!i")


def _preload_group(frameworks: Sequence[str] | None) -> tuple[str, ...] | None:
    """The first ``ZOOCHECK_PRELOAD`` group holding all of ``frameworks``; None: a fresh child."""
    if frameworks is None:
        return None
    for text in os.environ.get(PRELOAD_ENV, "").split(";"):
        group = tuple(m.strip() for m in text.split(",") if m.strip())
        if group and set(frameworks) <= set(group):
            return group
    return None


class _Forked:
    """A child forked by a zygote: the zygote reports its exit status and kills it on request.
    ``control`` None: the zygote was gone before it could fork."""

    def __init__(self, control: socket.socket | None):
        self._control, self._status = control, None if control is not None else -signal.SIGKILL

    def kill(self) -> None:
        if self._status is None:
            with contextlib.suppress(OSError):
                self._control.send(b"k")

    def wait(self) -> int:
        if self._status is None:
            try:
                data = self._control.recv(_STATUS.size)
            except OSError:
                data = b""
            # no status: the zygote died, and its children with it (PR_SET_PDEATHSIG)
            self._status = _STATUS.unpack(data)[0] if len(data) == _STATUS.size else -signal.SIGKILL
            self._control.close()
        return self._status


class _Zygote:
    """The parent's end of a zygote process (``_serve_zygote``)."""

    def __init__(self, group: tuple[str, ...]):
        self.pid = os.getpid()
        self._sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._proc = _spawn(["--zygote", ",".join(group)], theirs.fileno())
        finally:
            theirs.close()

    def alive(self) -> bool:
        return self.pid == os.getpid() and self._proc.poll() is None

    def fork(self, channel_fd: int) -> _Forked:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            request = pickle.dumps((_child_env(), os.getcwd()))
            socket.send_fds(self._sock, [request], [channel_fd, 1, 2, theirs.fileno()])
        except OSError:  # the zygote is gone: the child reads as killed, like the ones it took along
            ours.close()
            return _Forked(None)
        finally:
            theirs.close()
        return _Forked(ours)


_zygotes: dict[tuple[str, ...], _Zygote] = {}
_zygotes_lock = threading.Lock()


def _zygote(group: tuple[str, ...]) -> _Zygote:
    """This process's zygote for ``group``, started on first use (again if it died)."""
    with _zygotes_lock:
        zygote = _zygotes.get(group)
        if zygote is None or not zygote.alive():
            zygote = _zygotes[group] = _Zygote(group)
        return zygote


def _serve_zygote(fd: int, group: list[str]) -> int:
    """A zygote's life: import ``group``, then fork a child per request and report its exit status."""
    detach_from_parent_signals()
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)  # what the imports print is nobody's business: each child has its own stdout
    os.dup2(devnull, 2)
    os.close(devnull)
    import_modules([*group, "zoocheck.converters.pipeline"])
    requests = socket.socket(fileno=fd)
    selector = selectors.DefaultSelector()
    selector.register(requests, selectors.EVENT_READ)
    children: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> pid, control socket
    while True:
        for key, _ in selector.select():
            if key.fileobj is requests:
                message, fds, _, _ = socket.recv_fds(requests, _MESSAGE_MAX, 4)
                if not message:  # the parent closed its end or died
                    return 0
                own = [selector.fileno(), requests.fileno(), *[fd for pidfd, (_, c) in children.items() for fd in (pidfd, c.fileno())]]
                pid = _fork_child(message, fds, own)
                control = socket.socket(fileno=fds[3])
                for passed in fds[:3]:
                    os.close(passed)
                pidfd = os.pidfd_open(pid)
                children[pidfd] = (pid, control)
                selector.register(pidfd, selectors.EVENT_READ, "exit")
                selector.register(control, selectors.EVENT_READ, pidfd)
            elif key.data == "exit":  # a child ended: its status to the parent
                pid, control = children.pop(key.fd)
                status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
                with contextlib.suppress(OSError):
                    control.send(_STATUS.pack(status))
                selector.unregister(key.fd)
                os.close(key.fd)
                if control in selector.get_map():  # not once the parent asked for a kill
                    selector.unregister(control)
                control.close()
            else:  # the parent asks for a kill, or has let go of the child
                with contextlib.suppress(OSError):
                    key.fileobj.recv(1)
                signal.pidfd_send_signal(key.data, signal.SIGKILL)
                selector.unregister(key.fileobj)


def _fork_child(message: bytes, fds: list[int], zygote_fds: list[int]) -> int:
    """Fork a child that runs ``main`` on the channel ``fds[0]`` with the caller's environment,
    working directory and standard output and error (``fds[1:3]``)."""
    import tempfile

    pid = os.fork()
    if pid:
        return pid

    def run() -> int:
        for fd in [*zygote_fds, fds[3]]:
            os.close(fd)
        os.dup2(fds[1], 1)
        os.dup2(fds[2], 2)
        os.close(fds[1])
        os.close(fds[2])
        environ, cwd = pickle.loads(message)
        os.environ.clear()
        os.environ.update(environ)
        tempfile.tempdir = None  # TMPDIR: the caller's run directory
        os.chdir(cwd)
        return main([str(fds[0])])

    _exit_after(run)


def _exit_after(run: Callable[[], int]) -> NoReturn:
    """Run ``run`` and end the process with its status (1 where it raised, with the traceback a
    fresh interpreter would print), without the interpreter's teardown: the reply is sent and the
    channel closed by then, and finalising Paddle's or torch's modules and freeing the model took
    1-1.5 s that the parent spent waiting for the exit status. Temporary files are the jobs'
    ``with`` blocks' (closed before ``run`` returns) or the run directory's (removed by the parent)."""
    import traceback

    code = 1
    try:
        code = run()
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


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
    die_with_parent()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _INTERRUPTS)  # blocked by start_detached
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def die_with_parent() -> None:
    """SIGKILL for this process when the thread that started it ends (Linux; elsewhere nothing)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def main(argv: list[str], preload: Sequence[str] = ()) -> int:
    detach_from_parent_signals()
    _import_quietly(preload)
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
    if sys.argv[1] == "--zygote":
        sys.exit(_serve_zygote(int(sys.argv[3]), sys.argv[2].split(",")))
    if sys.argv[1] == "--import":
        _exit_after(lambda: main(sys.argv[3:], preload=sys.argv[2].split(",")))
    _exit_after(lambda: main(sys.argv[1:]))


def explain_exit(exitcode: int | None, process: str, during: str, *, memory_need: str = "") -> tuple[str, str]:
    """Why a child ended without a result, as (exception type, message): killed by SIGKILL (most
    likely the kernel's OOM killer; ``memory_need`` says what the work needs), another signal (a
    crash inside the framework), or an exit code. ``process`` names it ('the converter process',
    'the worker'), ``during`` what it was doing."""
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        if name == "SIGKILL":
            need = f" ({memory_need})" if memory_need else ""
            return "ProcessKilled", (
                f"{process} was killed by SIGKILL during {during}: most likely out of memory "
                f"(the kernel's OOM killer){need}; see `dmesg` and free memory before retrying"
            )
        return "ProcessCrash", f"{process} died with {name} during {during} (a crash inside the framework)"
    return "ProcessExit", f"{process} exited with code {exitcode} during {during} without a result"
