"""One temporary directory per run, removed on every exit path; SIGTERM as an exception; output locks.

Every temporary file of a run, the frameworks' included, lives inside one ``zoocheck-run-*``
directory under the system temp dir: ``TMPDIR`` and ``tempfile.tempdir`` point into it, so child
processes (converters, paddle2onnx, Paddle's ``.ses`` session file) write there too. Files that must
live beside an output to be renamed into place atomically (staging folders, lock files) are listed
in the run directory's manifest and removed with it. A run killed outright (SIGKILL, power loss)
leaves its directory behind; the next run sweeps it: a directory whose owner lock nobody holds any
more belongs to a dead run.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

RUN_PREFIX = "zoocheck-run-"
#: set in the environment of a run (inherited by its child processes): the run directory
RUN_DIR_ENV = "ZOOCHECK_RUN_DIR"
_OWNER_LOCK = "owner.lock"
_MANIFEST = "outside.txt"  # paths outside the run directory that the run created, one a line
_INTERRUPTS = (signal.SIGINT, signal.SIGTERM)


class Terminated(BaseException):
    """SIGTERM arrived. A BaseException like KeyboardInterrupt, so no ``except Exception`` swallows it."""


class OutputBusyError(RuntimeError):
    """Another zoocheck run is writing the same output file."""


def current() -> Path | None:
    """The active run directory (in this process or the parent run that started it), if any."""
    path = os.environ.get(RUN_DIR_ENV)
    return Path(path) if path and Path(path).is_dir() else None


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _remove_unheld_lock(path: Path) -> None:
    """Unlink a lock file beside an output unless a live run holds it."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    os.close(fd)


def _remove_run(run: Path) -> None:
    """Remove a run directory and everything its manifest lists outside it."""
    manifest = run / _MANIFEST
    if manifest.exists():
        for line in manifest.read_text(encoding="utf-8").splitlines():
            outside = Path(line)
            if outside.name.endswith(_LOCK_SUFFIX):
                _remove_unheld_lock(outside)
            else:
                _remove(outside)
    shutil.rmtree(run, ignore_errors=True)


def sweep_stale(base: Path) -> list[Path]:
    """Remove the run directories under ``base`` left by runs that were killed; returns them."""
    swept = []
    try:
        candidates = [p for p in base.iterdir() if p.name.startswith(RUN_PREFIX) and p.is_dir()]
    except OSError:
        return swept
    for run in candidates:
        try:
            fd = os.open(run / _OWNER_LOCK, os.O_RDWR)
        except FileNotFoundError:  # a run that is just starting, or one killed before locking
            fd = None
            if _age_s(run) < 60:
                continue
        except OSError:
            continue
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: the run is alive
            os.close(fd)
            continue
        _remove_run(run)
        swept.append(run)
        if fd is not None:
            os.close(fd)
    return swept


def _age_s(path: Path) -> float:
    import time

    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def register_outside(path: Path) -> None:
    """Record ``path`` (created beside an output) so the run's cleanup, or the sweep after a
    kill, removes it. A no-op outside a run."""
    run = current()
    if run is None:
        return
    with open(run / _MANIFEST, "a", encoding="utf-8") as fh:
        fh.write(f"{Path(path).absolute()}\n")


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    saved = [signal.signal(s, signal.SIG_IGN) for s in _INTERRUPTS]
    try:
        yield
    finally:
        for s, handler in zip(_INTERRUPTS, saved):
            signal.signal(s, handler)


@contextlib.contextmanager
def run_directory() -> Iterator[Path]:
    """Create this run's temporary directory (after sweeping stale ones), point ``TMPDIR`` and
    ``tempfile.tempdir`` into it, and remove it with everything it lists on the way out. Nested
    use (a library call inside a CLI run) reuses the outer directory."""
    outer = current()
    if outer is not None:
        yield outer
        return
    base = Path(tempfile.gettempdir())
    sweep_stale(base)
    # named before it is made, so that the cleanup is armed before the directory exists: a Ctrl-C
    # between its creation and the ``try`` would leave it behind (the pid keeps the name ours)
    run = base / f"{RUN_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    while run.exists():
        run = base / f"{RUN_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    saved_env = {k: os.environ.get(k) for k in ("TMPDIR", RUN_DIR_ENV)}
    saved_tempdir = tempfile.tempdir
    owner = None
    try:
        run.mkdir(mode=0o700)
        owner = os.open(run / _OWNER_LOCK, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(owner, fcntl.LOCK_EX)
        os.environ["TMPDIR"] = os.environ[RUN_DIR_ENV] = str(run)
        tempfile.tempdir = str(run)
        yield run
    finally:
        with _signals_ignored():  # a second Ctrl-C must not interrupt the cleanup
            for key, value in saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            tempfile.tempdir = saved_tempdir
            _remove_run(run)
            if owner is not None:
                os.close(owner)


def _raise_terminated(signum, frame):
    raise Terminated()


@contextlib.contextmanager
def signals_as_exceptions() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt and SIGTERM raises Terminated, so every ``finally`` runs."""
    saved = signal.signal(signal.SIGTERM, _raise_terminated)
    saved_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, saved)
        signal.signal(signal.SIGINT, saved_int)


def reclaim_signals() -> None:
    """Re-install zoocheck's SIGINT/SIGTERM handling after a framework imported into this process
    installed its own (Paddle prints a C++ "FatalError: Termination signal" and aborts)."""
    if signal.getsignal(signal.SIGTERM) is not _raise_terminated and current() is not None:
        signal.signal(signal.SIGTERM, _raise_terminated)
    signal.signal(signal.SIGINT, signal.default_int_handler)


_LOCK_SUFFIX = ".zoocheck-lock"


def lock_path(output: Path) -> Path:
    return output.parent / f".{output.name}{_LOCK_SUFFIX}"


@contextlib.contextmanager
def output_lock(output: Path) -> Iterator[None]:
    """Hold the right to write ``output``; OutputBusyError at once if another run holds it."""
    path = lock_path(Path(output))
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise OutputBusyError(
                f"{output}: another zoocheck run is writing this file; wait for it to finish or choose another --output"
            ) from None
        try:  # the holder before us may have unlinked the file after we opened it: lock the live one
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    register_outside(path)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.close(fd)


__all__ = [
    "OutputBusyError", "RUN_DIR_ENV", "Terminated", "current", "lock_path", "output_lock", "reclaim_signals",
    "register_outside", "run_directory", "signals_as_exceptions", "sweep_stale",
]  # fmt: skip
