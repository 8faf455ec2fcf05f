"""Work in a forked process (``converters/forked.py``): its result, what it raised, its death, and
no process left behind."""

import os
import signal
import time

import pytest

from zoocheck.converters.forked import ForkedTraceback, forked


def _reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_the_result_comes_from_another_process():
    running = forked(lambda: (os.getpid(), [1.5] * 1000), "a list")
    pid, values = running.result()
    assert pid == running.pid != os.getpid() and values == [1.5] * 1000
    assert _reaped(running.pid)
    running.cancel()  # after the result: nothing to stop


def test_what_it_raised_is_raised_here_with_its_traceback():
    def fails():
        raise ValueError("weights of another shape")

    running = forked(fails, "a failing forward")
    with pytest.raises(ValueError, match="weights of another shape") as raised:
        running.result()
    assert isinstance(raised.value.__cause__, ForkedTraceback) and "in fails" in str(raised.value.__cause__)
    assert _reaped(running.pid)


def test_an_exception_that_does_not_pickle_arrives_as_its_text():
    class Local(Exception):  # a local class: pickle cannot find it by name
        pass

    def fails():
        raise Local("a local error")

    with pytest.raises(RuntimeError, match="Local: a local error"):
        forked(fails, "an unpicklable failure").result()


def test_a_killed_process_is_said_so():
    running = forked(lambda: os.kill(os.getpid(), signal.SIGKILL), "the float64 forward")
    with pytest.raises(RuntimeError, match="the process of the float64 forward was killed by SIGKILL during the float64 forward"):
        running.result()
    assert _reaped(running.pid)


def test_cancel_stops_a_running_process_and_reaps_it():
    running = forked(lambda: time.sleep(60), "a long sleep")
    started = time.monotonic()
    running.cancel()
    assert _reaped(running.pid) and time.monotonic() - started < 5
    with pytest.raises(OSError):
        os.fstat(running.pipe)  # its pipe is closed


def test_no_process_to_be_had_raises_and_leaves_nothing_open(monkeypatch):
    def no_fork():
        raise BlockingIOError("Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    before = sorted(os.listdir("/proc/self/fd"))
    with pytest.raises(OSError):
        forked(lambda: 1, "nothing")
    assert sorted(os.listdir("/proc/self/fd")) == before


def test_an_interrupt_ends_it_without_this_process_handlers():
    """A handler of this process (its cleanup) would run in the fork and keep it alive."""
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        running = forked(lambda: time.sleep(5), "a sleep")
        time.sleep(0.2)
        os.kill(running.pid, signal.SIGTERM)
        with pytest.raises(RuntimeError, match="died with SIGTERM"):
            running.result()
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_result_that_cannot_be_read_here_still_reaps_the_process():
    """A class only the forked process has (made after the fork): unpickling it here fails."""

    def local_object():
        global Later

        class Later:
            pass

        Later.__qualname__ = "Later"  # a module-level class there, by name; here there is none
        return Later()

    running = forked(local_object, "an object")
    with pytest.raises(Exception):  # noqa: B017 - pickle's own error, whichever it is
        running.result()
    assert _reaped(running.pid)
    running.cancel()  # nothing left to stop or close
