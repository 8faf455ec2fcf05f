"""zoocheck sweep --executor ray against a local Ray cluster that this test starts.

The cluster binds 127.0.0.1 only and lives for this module. It runs with RAY_AUTH_MODE=disabled:
Ray 2.60 otherwise enables token authentication and writes a token under ~/.ray, outside the test's
temporary files; nothing but this test's own processes can reach a 127.0.0.1 cluster anyway."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

# not importorskip: the executor must be the first to import ray (it sets the local-only switch)
if importlib.util.find_spec("ray") is None:
    pytest.skip("ray is not installed (pip install 'zoocheck[ray]')", allow_module_level=True)

import crash_converter  # noqa: E402
from test_sweep import toy, toy_jobs  # noqa: E402

from zoocheck.sources import register_source, unregister_source  # noqa: E402
from zoocheck.store import ResultsStore  # noqa: E402
from zoocheck.sweep.driver import run_sweep  # noqa: E402
from zoocheck.sweep.local import LocalExecutor  # noqa: E402

TESTS = Path(__file__).parent


@pytest.fixture(scope="module")
def ray_executor():
    from zoocheck.sweep.ray_executor import RayExecutor

    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "PYTHONPATH")}
    os.environ["RAY_AUTH_MODE"] = "disabled"
    # the Ray workers import the test converter's module: they need tests/ on their path
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), saved["PYTHONPATH"]) if p)
    register_source(crash_converter.SOURCE)
    # the hang waits for the timeout; a toy job runs under a second, its worker's first imports a
    # second or two more (the clock starts at submission), more on a loaded machine
    executor = RayExecutor(num_cpus=2, timeout_s=8)
    try:
        yield executor
    finally:
        executor.close()
        unregister_source(crash_converter.SOURCE.name)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _comparisons(store):
    return {r.model: r.comparisons for r in store.results("parity")}


def test_ray_runs_the_same_jobs_as_local_and_the_driver_writes_the_store(ray_executor, tmp_path):
    # the hang first: it waits out its timeout while the other slot runs the rest
    entries = [toy("hang"), toy("linear", "toy-a"), toy("linear", "toy-b"), toy("segfault")]
    ray_store, local_store = ResultsStore(tmp_path / "ray"), ResultsStore(tmp_path / "local")
    assert ray_executor.ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")
    ray_result = run_sweep(toy_jobs(entries), ray_executor, ray_store)
    by_model = {o.model: o for o in ray_result.outcomes}
    assert by_model["toy-a"].status == by_model["toy-b"].status == "ok"
    assert by_model["toy-a"].peak_rss_bytes > 0  # measured inside the Ray worker too
    assert by_model["toy-hang"].failure.category == "timeout"
    assert by_model["toy-segfault"].status == "failed" and "Ray worker died" in by_model["toy-segfault"].message
    local = run_sweep(toy_jobs([toy("linear", "toy-a"), toy("linear", "toy-b")]), LocalExecutor(), local_store)
    assert all(o.status == "ok" for o in local.outcomes)
    assert _comparisons(ray_store) == _comparisons(local_store)  # same numbers, whichever executor
    # resumable across executors: the finished jobs are not run again, the failed ones are (the hang
    # left out: it would only wait for its timeout again)
    again = run_sweep(toy_jobs(entries[1:]), ray_executor, ray_store)
    assert sorted(o.model for o in again.outcomes) == ["toy-segfault", "toy-segfault"]


@pytest.mark.slow  # 19 s; the default run has Ray run the same jobs as local (above)
def test_sharded_eval_is_identical_to_one_process(ray_executor, tmp_path):
    import numpy as np
    from imagenet_sets import build_layouts, photo_items, synthetic_items

    from zoocheck.reports.lines import eval_line
    from zoocheck.reports.sweep_report import job_message
    from zoocheck.sweep.evalshards import predictions_path

    data = str(build_layouts(tmp_path / "val", photo_items() + synthetic_items(7), corrupt_label=3)["imagefolder"])
    entries = [toy("linear", "toy-eval")]
    jobs = plan_eval(entries, data)
    local_store, ray_store = ResultsStore(tmp_path / "local"), ResultsStore(tmp_path / "ray")
    run_sweep(jobs, LocalExecutor(), local_store, data=data)
    ray_executor.eval_shards = 3
    try:
        result = run_sweep(jobs, ray_executor, ray_store, data=data)
    finally:
        ray_executor.eval_shards = 1
    assert [(o.step, o.status) for o in result.outcomes] == [("convert", "ok"), ("eval", "ok")]
    single, sharded = local_store.results("eval")[-1], ray_store.results("eval")[-1]
    assert sharded.dataset["shards"] == 3 and single.images == sharded.images == 11
    assert result.outcomes[1].peak_rss_bytes > 0  # the largest shard's
    assert (single.top1, single.top5, single.skipped) == (sharded.top1, sharded.top5, sharded.skipped)
    eval_job = next(j for j in jobs if j.step == "eval")
    assert job_message(eval_job, result.outcomes[1]) == eval_line(sharded)  # the merged record speaks for the job
    one, merged = np.load(predictions_path(local_store.directory, eval_job)), np.load(predictions_path(ray_store.directory, eval_job))
    assert one["top5"].shape == (12, 5) and (one["top5"][:, 0] >= 0).sum() == 11
    for key in ("top5", "labels", "images"):
        np.testing.assert_array_equal(one[key], merged[key])


def plan_eval(entries, data):
    from zoocheck.sweep.jobs import plan

    return plan(
        entries, ("convert", "eval"), framework_of=lambda e: "test", weights_of=lambda e: (None, 0), options={"eval": {"data": data}}
    )
