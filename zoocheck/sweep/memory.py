"""Resident memory: of a process now, and the peak of a piece of work in this process and the
child processes it starts (Linux ``/proc``)."""

from __future__ import annotations

import os
import resource
import threading
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE")
_SAMPLE_S = 0.1


def rss_bytes(pid: int) -> int:
    """Resident memory of process ``pid`` (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def _descendants(pid: int) -> list[int]:
    """The live child processes of ``pid`` and theirs (none where the kernel does not list them)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                children = [int(c) for c in task.read_text().split()]
            except (OSError, ValueError):
                continue
            found += children
            todo += children
    return found


def _reset_high_water_mark() -> bool:
    """Set this process's VmHWM to its current RSS (Linux >= 4.0); False where it cannot be."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _high_water_mark() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _ended_children_peak() -> int:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # kB on Linux


class PeakMemory:
    """``with PeakMemory() as peak: ...`` then ``peak.bytes``: the most resident memory the block
    needed, the largest of this process's high-water mark over the block (reset at its start),
    a sample every 0.1 s of this process plus its live descendants together, and the peak of a
    child that ended within the block (``RUSAGE_CHILDREN``, seen when it beat every earlier child).
    Where the high-water mark cannot be reset, the samples alone stand for this process."""

    def __init__(self) -> None:
        self.bytes = 0
        self._sampled = 0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, name="zoocheck-peak-memory", daemon=True)

    def _total(self) -> int:
        pid = os.getpid()
        return rss_bytes(pid) + sum(rss_bytes(child) for child in _descendants(pid))

    def _sample(self) -> None:
        while not self._stop.wait(_SAMPLE_S):
            self._sampled = max(self._sampled, self._total())

    def __enter__(self) -> PeakMemory:
        self._reset = _reset_high_water_mark()
        self._children_before = _ended_children_peak()
        self._sampled = self._total()
        self._sampler.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._sampler.join()
        children = _ended_children_peak()
        ended = children if children > self._children_before else 0
        own = _high_water_mark() if self._reset else 0
        self.bytes = max(own, self._sampled, self._total(), ended)


__all__ = ["PeakMemory", "rss_bytes"]
