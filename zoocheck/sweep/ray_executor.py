"""The Ray executor: the same entry work as Ray tasks on a cluster, results back to the driver.

Each entry's work is one task requesting ``cpus_per_job`` CPUs and ``memory_bytes`` of memory (Ray
places it on a node with room, and its memory monitor kills a task that goes over). Ray keeps its
worker processes alive between tasks, so a framework imported by one task is already loaded for
the next on that worker. Tasks are never retried (``max_retries=0``): a crash is the model's
finding, recorded like the local executor's (crash / timeout / out of memory). The driver, not the
tasks, writes the results store. Without ``address`` a local cluster is started on 127.0.0.1
(no dashboard) and shut down at the end.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from pathlib import Path

from zoocheck.extensions import Extensions, register_extensions, registered_extensions
from zoocheck.records import exception_line
from zoocheck.sweep.local import Item, died
from zoocheck.sweep.work import JobOutcome

_POLL_S = 0.25


class RayUnavailable(RuntimeError):
    """Ray cannot be imported or the cluster cannot be reached; the message says how to fix it."""


def _run_item(work, extensions: Extensions = Extensions()) -> list[JobOutcome]:
    """One entry's work in a Ray worker, with the sources and families the driver registered
    beyond the built-in ones registered there too."""
    from zoocheck.sweep.work import run_entry_captured

    register_extensions(extensions)
    return run_entry_captured(work)


def _eval_shard(job, onnx_path, data, limit, start, end, predictions):
    """(one shard's evaluation, the peak resident memory it took)."""
    from zoocheck.sweep.evalshards import evaluate_onnx
    from zoocheck.sweep.memory import PeakMemory

    with PeakMemory() as peak:
        result = evaluate_onnx(job, onnx_path, data, predictions=predictions, limit=limit, start=start, end=end, threads=1)
    return result, peak.bytes


class RayExecutor:
    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        cpus_per_job: float = 1.0,
        memory_bytes: int | None = None,
        timeout_s: float | None = None,
        eval_shards: int = 1,
        num_cpus: int | None = None,
    ):
        if address is None:
            # Ray's own switch for a single-machine cluster: the node's address becomes 127.0.0.1
            # instead of this machine's network address (read when ray is imported)
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        try:
            import ray
        except Exception as exc:
            raise RayUnavailable(f"Ray cannot be imported ({exc}); install it with pip install 'zoocheck[ray]'") from exc
        self.ray = ray
        self.cpus_per_job = cpus_per_job
        self.memory_bytes = memory_bytes
        self.timeout_s = timeout_s
        self.eval_shards = eval_shards
        self.started_here = False
        if not ray.is_initialized():
            try:
                if address is None:
                    # the workers of a cluster started here import this very zoocheck
                    package_root = str(Path(__file__).resolve().parents[2])
                    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
                    ray.init(
                        num_cpus=num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False, logging_level="ERROR"
                    )
                else:
                    ray.init(address=address, log_to_driver=False, logging_level="ERROR")
            except Exception as exc:  # a cluster that cannot be reached or started
                raise RayUnavailable(
                    f"cannot {'start a local Ray cluster' if address is None else f'join the Ray cluster at {address}'}: {exc}"
                ) from exc
            self.started_here = True
        self._remote = ray.remote(_run_item)
        self._shard = ray.remote(_eval_shard)

    def capacity(self) -> int:
        """Tasks that fit on the cluster at once (so a submitted task is a running one)."""
        cpus = self.ray.cluster_resources().get("CPU", 1)
        return max(1, int(cpus // self.cpus_per_job))

    def run(
        self, items: list[Item], on_done: Callable[[list[JobOutcome]], None], on_start: Callable[[Item], None] = lambda item: None
    ) -> None:
        """Each item as one task; with ``eval_shards`` > 1 an item's eval job runs afterwards as
        that many shard tasks, merged here (``evalshards.merge_shards``)."""
        first, sharded = [], []
        for item in items:
            rest = tuple(j for j in item.work.jobs if j.step != "eval")
            if self.eval_shards > 1 and len(rest) < len(item.work.jobs):
                sharded.append(item)
                if rest:
                    first.append(Item(item.framework, item.source, dataclasses.replace(item.work, jobs=rest)))
            else:
                first.append(item)
        extensions = registered_extensions()
        tasks = [(item, self._remote, (item.work, extensions), on_done, lambda outcomes, item=item: on_done(outcomes)) for item in first]
        self._run_tasks(tasks, on_start)
        for item in sharded:
            self._sharded_eval(item, on_done, on_start)

    def _options(self) -> dict:
        options = {"num_cpus": self.cpus_per_job, "max_retries": 0}
        if self.memory_bytes:
            options["memory"] = self.memory_bytes
        return options

    def _run_tasks(self, tasks: list, on_start) -> None:
        """Run (item, remote function, args, on_failed_outcomes, on_result) tuples, as many at
        once as fit on the cluster; a task that fails or times out gives ``died`` outcomes."""
        ray = self.ray
        pending, running = list(tasks), {}
        limit = self.capacity()
        try:
            while pending or running:
                while pending and len(running) < limit:
                    task = pending.pop(0)
                    item, function, args = task[:3]
                    running[function.options(**self._options()).remote(*args)] = (task, time.perf_counter())
                    on_start(item)
                ready, _ = ray.wait(list(running), num_returns=1, timeout=_POLL_S)
                now = time.perf_counter()
                for ref in ready:
                    (item, _f, _a, failed, succeeded), began = running.pop(ref)
                    try:
                        value = ray.get(ref)
                    except ray.exceptions.RayError as exc:
                        failed(self._death(exc, item, now - began))
                    else:
                        succeeded(value)
                if self.timeout_s is not None:
                    for ref, ((item, _f, _a, failed, _s), began) in list(running.items()):
                        if now - began > self.timeout_s:
                            ray.cancel(ref, force=True)
                            running.pop(ref)
                            step = "+".join(j.step for j in item.work.jobs)
                            failed(
                                died(
                                    item,
                                    f"{step} ran past the per-job timeout of {self.timeout_s:g} s; the Ray task was cancelled",
                                    "timeout",
                                    now - began,
                                )
                            )
        finally:
            for ref in running:
                ray.cancel(ref, force=True)

    def _death(self, exc, item: Item, seconds: float) -> list[JobOutcome]:
        """``died`` outcomes for a task that did not return: killed for memory, its worker dead,
        or an exception it raised (the cause's own type decides the category)."""
        from zoocheck.records import Failure
        from zoocheck.sweep.jobs import categorize

        ray = self.ray
        step = "+".join(j.step for j in item.work.jobs)
        if isinstance(exc, ray.exceptions.OutOfMemoryError):
            return died(item, f"{step}: Ray's memory monitor killed the task ({exception_line(exc)})", "out of memory", seconds)
        if isinstance(exc, ray.exceptions.WorkerCrashedError):
            return died(
                item,
                f"the Ray worker died during {step} (a crash inside the framework, or the kernel's OOM killer): {exception_line(exc)}",
                "build",
                seconds,
            )
        cause = getattr(exc, "cause", None) or exc
        job = item.work.jobs[0]
        category = categorize(Failure(job.entry.source, job.entry.name, job.step, type(cause).__name__, exception_line(cause)))
        return died(item, f"{step} failed in its Ray task: {type(cause).__name__}: {exception_line(cause)}", category, seconds)

    def _sharded_eval(self, item: Item, on_done, on_start) -> None:
        from zoocheck.sweep.evalshards import merge_shards, shard_ranges
        from zoocheck.sweep.work import run_entry

        work = item.work
        job = next(j for j in work.jobs if j.step == "eval")
        alone = Item(item.framework, item.source, dataclasses.replace(work, jobs=(job,)))
        if not work.onnx_path.is_file() or work.data is None:  # the failure run_entry reports
            on_done(run_entry(alone.work))
            return
        began = time.perf_counter()
        limit = work.options.get("eval", {}).get("limit")
        from zoocheck.checks.imagenet import read_dataset

        total = len(read_dataset(work.data).samples[:limit] if limit else read_dataset(work.data).samples)
        ranges = shard_ranges(total, self.eval_shards)
        files = [work.predictions.with_name(f"{work.predictions.stem}.shard-{i}.npy") for i in range(len(ranges))]
        parts: dict[int, object] = {}
        failures: list[list[JobOutcome]] = []
        tasks = [
            (
                alone,
                self._shard,
                (job, work.onnx_path, work.data, limit, start, end, files[i]),
                failures.append,
                lambda result, i=i: parts.__setitem__(i, result),
            )
            for i, (start, end) in enumerate(ranges)
        ]
        try:
            self._run_tasks(tasks, on_start)
            if failures:
                on_done(failures[0])
                return
            merged = merge_shards(job, work.data, limit, [parts[i][0] for i in range(len(ranges))], files, work.predictions)
        finally:
            for f in files:
                f.unlink(missing_ok=True)
        on_done(
            [
                JobOutcome(
                    job.key,
                    job.entry.source,
                    job.entry.name,
                    "eval",
                    "ok",
                    time.perf_counter() - began,
                    records=(merged,),
                    onnx_path=str(work.onnx_path),
                    random_weights=job.weights is None,
                    peak_rss_bytes=max(peak for _, peak in parts.values()),  # the largest shard's: shards run apart
                )
            ]
        )

    def close(self) -> None:
        if self.started_here:
            self.ray.shutdown()
            self.started_here = False


__all__ = ["RayExecutor", "RayUnavailable"]
