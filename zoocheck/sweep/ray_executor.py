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

import os
import time
from collections.abc import Callable
from pathlib import Path

from zoocheck.sweep.local import Item, died
from zoocheck.sweep.work import JobOutcome

_POLL_S = 0.25


class RayUnavailable(RuntimeError):
    """Ray cannot be imported or the cluster cannot be reached; the message says how to fix it."""


def _run_item(work) -> list[JobOutcome]:
    from zoocheck.sweep.work import run_entry_captured

    return run_entry_captured(work)


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None = None, *, cpus_per_job: float = 1.0, memory_bytes: int | None = None, timeout_s: float | None = None, eval_shards: int = 1, num_cpus: int | None = None):
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
                    ray.init(num_cpus=num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False, logging_level="ERROR")
                else:
                    ray.init(address=address, log_to_driver=False, logging_level="ERROR")
            except Exception as exc:  # a cluster that cannot be reached or started
                raise RayUnavailable(f"cannot {'start a local Ray cluster' if address is None else f'join the Ray cluster at {address}'}: {exc}") from exc
            self.started_here = True
        self._remote = ray.remote(_run_item)

    def capacity(self) -> int:
        """Tasks that fit on the cluster at once (so a submitted task is a running one)."""
        cpus = self.ray.cluster_resources().get("CPU", 1)
        return max(1, int(cpus // self.cpus_per_job))

    def run(self, items: list[Item], on_done: Callable[[list[JobOutcome]], None], on_start: Callable[[Item], None] = lambda item: None) -> None:
        ray = self.ray
        options = {"num_cpus": self.cpus_per_job, "max_retries": 0}
        if self.memory_bytes:
            options["memory"] = self.memory_bytes
        pending, running = list(items), {}
        limit = self.capacity()
        try:
            while pending or running:
                while pending and len(running) < limit:
                    item = pending.pop(0)
                    running[self._remote.options(**options).remote(item.work)] = (item, time.perf_counter())
                    on_start(item)
                ready, _ = ray.wait(list(running), num_returns=1, timeout=_POLL_S)
                for ref in ready:
                    item, began = running.pop(ref)
                    on_done(self._outcomes(ref, item, time.perf_counter() - began))
                if self.timeout_s is not None:
                    now = time.perf_counter()
                    for ref, (item, began) in list(running.items()):
                        if now - began > self.timeout_s:
                            ray.cancel(ref, force=True)
                            running.pop(ref)
                            step = "+".join(j.step for j in item.work.jobs)
                            on_done(died(item, f"{step} ran past the per-job timeout of {self.timeout_s:g} s; the Ray task was cancelled", "timeout", now - began))
        finally:
            for ref in running:
                ray.cancel(ref, force=True)

    def _outcomes(self, ref, item: Item, seconds: float) -> list[JobOutcome]:
        ray = self.ray
        step = "+".join(j.step for j in item.work.jobs)
        try:
            return ray.get(ref)
        except ray.exceptions.OutOfMemoryError as exc:
            return died(item, f"{step}: Ray's memory monitor killed the task ({str(exc).strip().splitlines()[0]})", "out of memory", seconds)
        except ray.exceptions.WorkerCrashedError as exc:
            return died(item, f"the Ray worker died during {step} (a crash inside the framework, or the kernel's OOM killer): {str(exc).strip().splitlines()[0]}", "build", seconds)
        except ray.exceptions.RayError as exc:
            return died(item, f"the Ray task for {step} failed: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}", "build", seconds)

    def close(self) -> None:
        if self.started_here:
            self.ray.shutdown()
            self.started_here = False


__all__ = ["RayExecutor", "RayUnavailable"]
