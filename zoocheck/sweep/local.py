"""The local executor: long-lived worker processes, one framework each, on this machine.

A worker imports its framework once, at start, and then runs entry after entry, so the framework's
start-up (torch + timm ~2.5 s, paddle ~0.8 s, mxnet ~0.6 s here) is paid once per worker, not once
per model. A worker that crashes, runs past the per-job timeout or over the memory limit is killed
and its entry's jobs become failure records (timeout / out of memory / the stage it died in); the
next entry gets a fresh worker. A job's clock starts once its worker has imported its framework
(the start-up is measured apart, ``framework_start_s``); a worker whose start-up alone runs past the
timeout is killed as its first job's timeout. Workers only compute: their outcomes come back to the driver, which
is the results store's one writer.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

from zoocheck.converters.base import allowed_cpus
from zoocheck.converters.child import detach_from_parent_signals, start_detached
from zoocheck.extensions import Extensions, register_extensions, registered_extensions
from zoocheck.sweep.memory import rss_bytes
from zoocheck.sweep.work import EntryWork, JobOutcome

_POLL_S = 0.25


def cpu_slice(slot: int, workers: int, allowed: list[int]) -> list[int]:
    """The CPUs worker ``slot`` of ``workers`` runs on: an equal share of ``allowed``, so the
    workers' thread pools (torch, onnxruntime, Paddle) do not oversubscribe the machine."""
    n = len(allowed)
    if workers >= n:
        return [allowed[slot % n]]
    return allowed[slot * n // workers : (slot + 1) * n // workers]


def _serve(conn, framework_source: str, cpus: list[int], extensions: Extensions) -> None:
    """A worker's main loop: register the sources and families registered in the driver beyond
    the built-in ones, import the framework, then run EntryWork items until told to stop."""
    from zoocheck.sweep.work import run_entry_captured

    detach_from_parent_signals()
    os.sched_setaffinity(0, cpus)
    os.environ.setdefault("OMP_NUM_THREADS", str(len(cpus)))  # before any framework is imported
    register_extensions(extensions)
    began = time.perf_counter()
    try:
        warm_up(framework_source)
        conn.send(("ready", time.perf_counter() - began))
        while True:
            work = conn.recv()
            if work is None:
                return
            conn.send(("done", run_entry_captured(work, on_stage=lambda stage: conn.send(("stage", stage)))))
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return


def warm_up(source: str) -> None:
    """Import ``source``'s framework now, its output captured, so every later job finds it loaded.
    A framework that cannot be imported is left to fail each job as that job's 'load' failure."""
    import contextlib
    import tempfile

    from zoocheck.capture import captured_output
    from zoocheck.converters import converter_for

    with (
        tempfile.NamedTemporaryFile(prefix="sweep-warm-up-", suffix=".log") as log,
        captured_output(Path(log.name)),
        contextlib.suppress(Exception),
    ):
        converter_for(source).check_available()


@dataclass
class _Worker:
    framework: str
    slot: int
    proc: multiprocessing.Process
    conn: object
    started: float = field(default_factory=time.perf_counter)
    ready_s: float | None = None
    work: EntryWork | None = None
    item: Item | None = None
    work_started: float = 0.0
    stage: str = "load"  # the stage its current job reported last: where a death happened
    killed_for: str | None = None  # 'timeout' or 'out of memory' when the driver killed it
    killed_rss: int | None = None  # its resident memory when killed for going over the limit

    def stop(self) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            self.conn.send(None)
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


@dataclass(frozen=True)
class Item:
    """One entry's work for an executor: which framework runs it, from which source it is imported."""

    framework: str
    source: str
    work: EntryWork


def died(item: Item, reason: str, category: str, seconds: float, peak_rss_bytes: int | None = None) -> list[JobOutcome]:
    """Failure outcomes for every job of ``item`` when its worker died or was killed
    (``peak_rss_bytes``: the worker's resident memory measured when it was killed, if it was)."""
    from zoocheck.records import Failure

    outcomes = []
    for job in item.work.jobs:
        exception_type = {"timeout": "JobTimeout", "out of memory": "ProcessKilled"}.get(category, "ProcessCrash")
        failure = Failure(job.entry.source, job.entry.name, job.step, exception_type, reason, category=category, job=job.key, step=job.step)
        outcomes.append(
            JobOutcome(
                job.key,
                job.entry.source,
                job.entry.name,
                job.step,
                "failed",
                seconds,
                failure=failure,
                message=reason,
                random_weights=job.weights is None,
                peak_rss_bytes=peak_rss_bytes,
            )
        )
    return outcomes


class LocalExecutor:
    """Runs items on ``workers`` long-lived processes; see the module docstring."""

    name = "local"

    def __init__(self, workers: int = 1, timeout_s: float | None = None, memory_limit_bytes: int | None = None):
        self.workers = max(1, workers)
        self.timeout_s = timeout_s
        self.memory_limit_bytes = memory_limit_bytes
        self.framework_start_s: list[float] = []  # measured start-up of each worker

    def _start(self, item: Item, slot: int) -> _Worker:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        cpus = cpu_slice(slot, self.workers, allowed_cpus())
        proc = ctx.Process(
            target=_serve, args=(child, item.source, cpus, registered_extensions()), daemon=True, name=f"zoocheck-sweep-{item.framework}"
        )
        start_detached(proc)
        child.close()
        return _Worker(item.framework, slot, proc, parent)

    def run(
        self, items: list[Item], on_done: Callable[[list[JobOutcome]], None], on_start: Callable[[Item], None] = lambda item: None
    ) -> None:
        pending = list(items)
        idle: list[_Worker] = []
        busy: list[_Worker] = []
        try:
            while pending or busy:
                self._assign(pending, idle, busy, on_start)
                self._collect(busy, idle, on_done)
        finally:
            for worker in idle + busy:
                worker.stop() if worker.work is None else self._kill(worker)

    def _assign(self, pending: list[Item], idle: list[_Worker], busy: list[_Worker], on_start) -> None:
        while pending and len(busy) < self.workers:
            # an idle worker of a framework still pending keeps its framework; others make room
            index, worker = 0, None
            for w in idle:
                match = next((i for i, it in enumerate(pending) if it.framework == w.framework), None)
                if match is not None:
                    index, worker = match, w
                    break
            if worker is None:
                if idle and len(idle) + len(busy) >= self.workers:
                    idle.pop(0).stop()
                taken = {w.slot for w in idle + busy}
                worker = self._start(pending[0], next(k for k in range(self.workers) if k not in taken))
            else:
                idle.remove(worker)
            item = pending.pop(index)
            worker.work, worker.item, worker.work_started, worker.killed_for, worker.killed_rss, worker.stage = (
                item.work,
                item,
                time.perf_counter(),
                None,
                None,
                "load",
            )
            worker.conn.send(item.work)
            busy.append(worker)
            on_start(item)

    def _collect(self, busy: list[_Worker], idle: list[_Worker], on_done) -> None:
        ready = wait([w.conn for w in busy] + [w.proc.sentinel for w in busy], timeout=_POLL_S)
        now = time.perf_counter()
        for worker in list(busy):
            finished = False
            if worker.conn in ready or worker.proc.sentinel in ready:
                try:
                    while worker.conn.poll():
                        kind, payload = worker.conn.recv()
                        if kind == "ready":  # the job's clock starts now: the start-up is not the job's
                            worker.ready_s, worker.work_started = payload, time.perf_counter()
                            self.framework_start_s.append(payload)
                        elif kind == "stage":
                            worker.stage = payload
                        elif kind == "done":
                            on_done(payload)
                            finished = True
                except (EOFError, OSError):
                    pass
            if finished:
                worker.work = None
                busy.remove(worker)
                idle.append(worker)
                continue
            if not worker.proc.is_alive():
                busy.remove(worker)
                on_done(
                    died(
                        worker.item, self._death_reason(worker), self._death_category(worker), now - worker.work_started, worker.killed_rss
                    )
                )
                worker.conn.close()
                continue
            if self.timeout_s is not None and now - worker.work_started > self.timeout_s:
                worker.killed_for = "timeout"
                self._kill(worker)
            elif self.memory_limit_bytes is not None and (rss := rss_bytes(worker.proc.pid)) > self.memory_limit_bytes:
                worker.killed_for, worker.killed_rss = "out of memory", rss
                self._kill(worker)

    @staticmethod
    def _kill(worker: _Worker) -> None:
        worker.proc.kill()
        worker.proc.join()

    def _death_category(self, worker: _Worker) -> str:
        if worker.killed_for:
            return worker.killed_for
        if worker.proc.exitcode == -signal.SIGKILL:
            return "out of memory"  # nobody here killed it: the kernel's OOM killer did
        from zoocheck.records import Failure
        from zoocheck.sweep.jobs import categorize

        return categorize(Failure(worker.item.source, "", worker.stage, "ProcessCrash", ""))

    def _death_reason(self, worker: _Worker) -> str:
        step = f"{'+'.join(j.step for j in worker.work.jobs)} (stage {worker.stage})"
        if worker.killed_for == "timeout":
            return f"{step} ran past the per-job timeout of {self.timeout_s:g} s; the worker was killed"
        if worker.killed_for == "out of memory":
            return (
                f"{step} went over the memory limit of {self.memory_limit_bytes / 2**30:.1f} GiB "
                f"(resident {worker.killed_rss / 2**30:.2f} GiB when measured); the worker was killed"
            )
        from zoocheck.converters.child import explain_exit

        return explain_exit(worker.proc.exitcode, "the worker", step)[1]


__all__ = ["Item", "LocalExecutor", "cpu_slice", "died"]
