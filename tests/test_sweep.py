"""zoocheck sweep (issue 12): jobs, cache keys, resume, isolation (crash / hang / memory), the store
under a killed driver, the failure taxonomy, and the CLI end to end on a real torchvision model.

Most tests use the framework-free test converter (tests/crash_converter.py), whose workers start
in about a second, so the default suite stays fast."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import crash_converter
import pytest

from zoocheck.records import Failure, SweepJobRecord
from zoocheck.reports.lines import parity_line
from zoocheck.reports.sweep_report import job_message, summary_rows
from zoocheck.store import ResultsStore
from zoocheck.sweep.driver import run_sweep, write_outcome
from zoocheck.sweep.jobs import categorize, plan
from zoocheck.sweep.local import LocalExecutor
from zoocheck.sweep.memory import PeakMemory, rss_bytes
from zoocheck.zoo_registry.types import Architecture, Entry, LibraryNetwork, Preprocess

TESTS = Path(__file__).parent


def toy(builder: str, name: str | None = None) -> Entry:
    return Entry(
        crash_converter.SOURCE.name,
        name or f"toy-{builder}",
        Architecture(LibraryNetwork("test", builder)),
        builder,
        Preprocess(resize=32, crop=32),
        input_size=32,
    )


@pytest.fixture(autouse=True)
def _registered(registered_source):
    registered_source(crash_converter.SOURCE)


def toy_jobs(entries, steps=("convert", "parity"), max_rel_err=None):
    tolerance = {"max_rel_err": max_rel_err} if max_rel_err else {}
    return plan(entries, steps, framework_of=lambda e: "test", weights_of=lambda e: (None, 0), options={"parity": {"tolerance": tolerance}})


def test_sweep_runs_resumes_and_redoes_only_what_changed(tmp_path):
    store = ResultsStore(tmp_path)
    entries = [toy("linear", "toy-a"), toy("linear", "toy-b")]
    first = run_sweep(toy_jobs(entries), LocalExecutor(workers=2), store)
    assert [o.status for o in first.outcomes] == ["ok"] * 4 and not first.failed
    kinds = [r.KIND for r in store.results()]
    assert kinds.count("conversion") == 2 and kinds.count("parity") == 2 and kinds.count("sweep-job") == 4
    onnx_files = {o.onnx_path for o in first.outcomes if o.step == "convert"}
    assert len(onnx_files) == 2 and all(Path(p).is_file() for p in onnx_files)
    assert all(r.status == "ok" for r in store.results("parity"))

    again = run_sweep(toy_jobs(entries), LocalExecutor(workers=2), store)
    assert again.outcomes == () and len(again.cached) == 4

    # a parity option changed: parity runs again on the cached conversions, convert does not
    changed = run_sweep(toy_jobs(entries, max_rel_err=1e-2), LocalExecutor(), store)
    assert sorted(o.step for o in changed.outcomes) == ["parity", "parity"] and len(changed.cached) == 2
    assert {o.onnx_path for o in changed.outcomes} == onnx_files

    # a deleted conversion is redone (its parity, of the same identity, stays); --force redoes all
    Path(sorted(onnx_files)[0]).unlink()
    redone = run_sweep(toy_jobs(entries), LocalExecutor(), store)
    assert [o.step for o in redone.outcomes] == ["convert"] and Path(redone.outcomes[0].onnx_path).is_file()
    assert len(run_sweep(toy_jobs(entries), LocalExecutor(), store, force=True).outcomes) == 4


_KEYS = """
import sys
sys.path.insert(0, sys.argv[1])
import crash_converter, zoocheck
from zoocheck.sources import register_source
from zoocheck.sweep.jobs import plan
from zoocheck.zoo_registry.types import Architecture, Entry, LibraryNetwork, Preprocess
register_source(crash_converter.SOURCE)
entry = Entry("crash-test", "toy-a", Architecture(LibraryNetwork("test", "linear")), "linear", Preprocess(resize=32, crop=32), input_size=32)
jobs = plan([entry], ("convert", "parity"), framework_of=lambda e: "test", weights_of=lambda e: (None, 0), options={"parity": {"tolerance": {}}})
print(zoocheck.__file__, *[job.key for job in jobs])
"""


def test_an_edit_of_zoocheck_code_changes_every_job_key(tmp_path):
    import shutil

    import zoocheck

    def keys(package_parent: Path) -> list[str]:
        out = subprocess.run(
            [sys.executable, "-c", _KEYS, str(TESTS)],
            env={**os.environ, "PYTHONPATH": str(package_parent)},
            cwd=package_parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert Path(out[0]).is_relative_to(package_parent)  # that copy's code ran
        return out[1:]

    copy = tmp_path / "zoocheck"
    shutil.copytree(Path(zoocheck.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    original = keys(tmp_path)
    assert original == [job.key for job in toy_jobs([toy("linear", "toy-a")])]  # the same code anywhere: the same keys
    module = copy / "checks" / "parity.py"
    module.write_text(module.read_text() + "\n# an edit that changes no version number\n")
    edited = keys(tmp_path)
    assert len(edited) == 2 and not set(edited) & set(original)


def test_parity_fail_is_a_numerical_failure_record(tmp_path):
    store = ResultsStore(tmp_path)
    result = run_sweep(toy_jobs([toy("off")]), LocalExecutor(), store, describe=job_message)
    assert [(o.step, o.status) for o in result.outcomes] == [("convert", "ok"), ("parity", "failed")]
    parity = result.outcomes[1]
    assert parity.failure.category == "numerical" and parity.failure.fp32_noise is False
    assert parity.message == parity_line(parity.records[0]) and parity.message.startswith("PARITY FAIL")
    stored = store.failures()[-1]
    assert (
        stored.category == "numerical"
        and stored.message.startswith("test vs onnxruntime: ")
        and "inputs outside the fp32 tolerance" in stored.message
    )
    assert [r.message for r in store.results("sweep-job")][-1] == parity.message


def test_crash_hang_and_memory_become_failure_records_and_spare_the_rest(tmp_path):
    store = ResultsStore(tmp_path)
    entries = [toy("segfault"), toy("hang"), toy("balloon"), toy("export-abort"), toy("linear")]
    # the hang holds one worker for the timeout while the other four start in turn on the other; a
    # job's clock starts after its worker's start-up, and each of the others takes under 2 s loaded
    executor = LocalExecutor(workers=2, timeout_s=5, memory_limit_bytes=600 * 2**20)
    result = run_sweep(toy_jobs(entries, steps=("convert",)), executor, store)
    by_model = {o.model: o for o in result.outcomes}
    assert by_model["toy-linear"].status == "ok"
    # a death is filed under the stage the worker last reported, not one fixed guess
    assert by_model["toy-segfault"].failure.category == "build"
    assert by_model["toy-export-abort"].failure.category == "export"
    assert "SIGABRT" in by_model["toy-export-abort"].message and "stage export" in by_model["toy-export-abort"].message
    assert by_model["toy-hang"].failure.category == "timeout"
    assert by_model["toy-balloon"].failure.category == "out of memory"
    # the kill states the resident memory the poll loop measured, in its message and its record
    balloon = by_model["toy-balloon"]
    assert balloon.peak_rss_bytes > 600 * 2**20
    assert f"(resident {balloon.peak_rss_bytes / 2**30:.2f} GiB when measured)" in balloon.message
    assert "SIGSEGV" in by_model["toy-segfault"].message
    assert result.failed
    failures = {f.model: f for f in store.failures()}
    assert {failures[m].category for m in ("toy-hang", "toy-balloon")} == {"timeout", "out of memory"}
    assert all(f.job and f.step == "convert" for f in failures.values())
    # a failed job is not cached: the next run tries it again
    retry = run_sweep(toy_jobs([toy("segfault"), toy("linear")], steps=("convert",)), LocalExecutor(), store)
    assert [o.model for o in retry.outcomes] == ["toy-segfault"]


def test_each_job_records_the_peak_memory_of_its_own_work(tmp_path):
    store = ResultsStore(tmp_path)
    # one worker runs both in turn: the small job after the large must not inherit its peak
    result = run_sweep(toy_jobs([toy("hoard"), toy("linear")], steps=("convert",)), LocalExecutor(workers=1), store)
    peaks = {o.model: o.peak_rss_bytes for o in result.outcomes}
    assert peaks["toy-hoard"] >= crash_converter.HOARD_BYTES
    assert peaks["toy-linear"] < peaks["toy-hoard"] - 200 * 2**20
    stored = {r.model: r.peak_rss_bytes for r in store.results("sweep-job")}
    assert stored == peaks
    rows = {row[0]: row for row in summary_rows(result)}
    assert rows["crash-test/toy-hoard"][5] == f"{peaks['toy-hoard'] / 2**30:.2f}"


def test_peak_memory_counts_a_child_process():
    held = 300 * 2**20
    child = f"import numpy, time; a = numpy.ones({held // 8}); time.sleep(0.5)"
    with PeakMemory() as peak:
        subprocess.run([sys.executable, "-c", child], check=True)
    assert peak.bytes >= rss_bytes(os.getpid()) + held  # this process and its child together


def test_the_report_shows_a_failed_jobs_peak_memory(tmp_path):
    from zoocheck.reports.site import write_report

    store, entry = ResultsStore(tmp_path / "results"), toy("balloon")
    store.add(Failure(entry.source, entry.name, "build", "ProcessKilled", "went over", category="out of memory", job="k", step="convert"))
    store.add(SweepJobRecord("k", entry.source, entry.name, "convert", "failed", 2.0, category="out of memory", peak_rss_bytes=3 * 2**29))
    write_report(store.directory, tmp_path / "site", entries=[entry])
    section = (tmp_path / "site" / "failures.html").read_text().split('id="category-out-of-memory"')[1]
    assert f"{entry.key}" in section and "peak memory 1.50 GiB" in section


def test_a_sweep_job_record_written_before_peak_memory_still_loads():
    old = {"kind": "sweep-job", "key": "k", "source": "s", "model": "m", "step": "convert", "status": "ok", "seconds": 1.0}
    assert SweepJobRecord.from_json(old).peak_rss_bytes is None
    measured = dataclasses.replace(SweepJobRecord.from_json(old), peak_rss_bytes=3 * 2**30)
    assert SweepJobRecord.from_json(measured.to_json()).peak_rss_bytes == 3 * 2**30


_DRIVER = """
import sys
sys.path[:0] = [{tests!r}, {root!r}]
import crash_converter
from test_sweep import toy, toy_jobs
from zoocheck.records import Failure, SweepJobRecord
from zoocheck.reports.lines import parity_line
from zoocheck.reports.sweep_report import job_message
from zoocheck.store import ResultsStore
from zoocheck.sweep.driver import run_sweep, write_outcome
from zoocheck.sweep.local import LocalExecutor
if __name__ == "__main__":  # the workers are spawned: they import this file
    from zoocheck.sources import register_source

    register_source(crash_converter.SOURCE)
    entries = [toy("linear", "toy-a"), toy("linear", "toy-b"), toy("hang")]
    run_sweep(toy_jobs(entries), LocalExecutor(workers=1, timeout_s={timeout}), ResultsStore({results!r}))
"""


def test_sigkill_of_the_driver_loses_no_finished_result(tmp_path):
    root = str(Path(__file__).parent.parent)
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(_DRIVER.format(tests=str(TESTS), root=root, timeout=None, results=str(tmp_path / "r"))))
    driver = subprocess.Popen([sys.executable, str(script)], cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = ResultsStore(tmp_path / "r")
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and len([r for r in store.results("sweep-job") if r.status == "ok"]) < 4:
            time.sleep(0.2)
    finally:
        os.kill(driver.pid, signal.SIGKILL)  # mid-sweep: the hang job is running
        driver.wait()
    lines = store.results_path.read_text().splitlines()
    assert all(json.loads(line) for line in lines) and not store.skipped_lines
    assert len([r for r in store.results("sweep-job") if r.status == "ok"]) == 4
    # the rerun runs the hang alone (toy-a and toy-b are done): a short timeout only ends it sooner
    script.write_text(textwrap.dedent(_DRIVER.format(tests=str(TESTS), root=root, timeout=1, results=str(tmp_path / "r"))))
    subprocess.run([sys.executable, str(script)], cwd=root, check=True, timeout=240, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    latest = {(r.model, r.step): r for r in store.results("sweep-job")}
    assert latest[("toy-hang", "convert")].category == "timeout"
    assert len(store.results("sweep-job")) == 6  # toy-a and toy-b were not run again


@pytest.mark.parametrize(
    "failure,category",
    [
        ({"stage": "load", "exception_type": "WeightsError", "message": "model.pth: weights do not fit"}, "weights"),
        ({"stage": "load", "exception_type": "FrameworkUnavailable", "message": "PyTorch cannot be imported"}, "load"),
        ({"stage": "build", "exception_type": "KeyError", "message": "'resnet9'"}, "build"),
        (
            {
                "stage": "export",
                "exception_type": "UnsupportedOperatorError",
                "message": "Exporting the operator 'aten::foo' to ONNX opset 17 is not supported",
            },
            "unsupported op",
        ),
        ({"stage": "export", "exception_type": "RuntimeError", "message": "tracing failed"}, "export"),
        ({"stage": "parity", "exception_type": "ImageDecodeError", "message": "cannot decode x.png"}, "preprocessing"),
        ({"stage": "parity", "exception_type": "ParityFail", "message": "PARITY FAIL"}, "numerical"),
        (
            {
                "stage": "parity",
                "exception_type": "NoBuilder",
                "message": "zoocheck has no mmpretrain checkpoint writer for the densenet family yet",
            },
            "build",
        ),
        (
            {
                "stage": "eval",
                "exception_type": "ValueError",
                "message": "the model outputs shape (8, 1001); ImageNet-1k evaluation needs [N, 1000]",
            },
            "labels",
        ),
        ({"stage": "convert", "exception_type": "JobTimeout", "message": "ran past"}, "timeout"),
        ({"stage": "build", "exception_type": "ProcessKilled", "message": "killed by SIGKILL"}, "out of memory"),
    ],
)
def test_failure_taxonomy(failure, category):
    assert categorize(Failure("s", "m", failure["stage"], failure["exception_type"], failure["message"])) == category


def test_sweep_cli_end_to_end_on_torchvision_and_table(tmp_path, capsys):
    pytest.importorskip("torchvision")
    from zoocheck.cli import main

    argv = ["sweep", "--src", "torchvision", "--model", "resnet18.IMAGENET1K_V1", "--random-weights", "--results", str(tmp_path), "--json"]
    assert main(argv) == 0
    jobs = json.loads(capsys.readouterr().out)
    assert [(j["step"], j["status"]) for j in jobs] == [("convert", "ok"), ("parity", "ok")]
    parity = ResultsStore(tmp_path).results("parity")[-1]
    assert parity.random_weights and parity.status == "ok"
    assert max(parity.reference_fp64_rel_err) < 1e-5  # fp64 yardstick measured in the worker
    assert main(argv) == 0
    assert all(j["status"] == "ok" and j.get("seconds") is not None for j in json.loads(capsys.readouterr().out))
    # the summary table of a run where every job is cached (the second sweep of the issue)
    assert main(argv[:-1]) == 0
    summary = capsys.readouterr().out
    assert "ok (cached)" in summary and "2 cached from earlier runs" in summary
    assert main(["table", "--src", "torchvision", "--results", str(tmp_path), "--json"]) == 0
    rows = {r["model"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["resnet18.IMAGENET1K_V1"]["sweep"] == "ok (random weights)" and rows["resnet34.IMAGENET1K_V1"]["sweep"] == ""


@pytest.mark.slow  # two conversions and a compare; the compare jobs' planning and a partner without weights are tested below without a conversion
def test_sweep_compare_step_compares_same_weights_pairs_once_and_table_shows_them(tmp_path, capsys):
    """torchvision's resnet18 and timm's resnet18.tv_in1k are one weights file (relations.csv):
    selected together, the pair is compared once, on one common random set, and both rows of the
    table say so; an entry whose partner is compared by the partner's job is skipped."""
    pytest.importorskip("timm")
    from zoocheck.checks.images import bundled_photos
    from zoocheck.cli import main
    from zoocheck.records import Comparison

    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "one.png").write_bytes(bundled_photos()[0].read_bytes())  # one photograph keeps the default suite short
    argv = ["sweep", "--model", "torchvision/resnet18.IMAGENET1K_V1", "timm/resnet18.tv_in1k", "--steps", "compare", "--random-weights",
            "--images", str(photos), "--results", str(tmp_path / "results"), "--json"]  # fmt: skip
    assert main(argv) == 0
    jobs = {j["source"]: j for j in json.loads(capsys.readouterr().out)}
    assert (jobs["timm"]["status"], jobs["timm"]["message"]) == ("ok", "identical with torchvision/resnet18.IMAGENET1K_V1")
    assert jobs["torchvision"]["status"] == "skipped"  # 'timm/...' sorts first: the pair is timm's job
    [comparison] = ResultsStore(tmp_path / "results").results("compare")
    assert isinstance(comparison, Comparison) and comparison.verdict == "identical" and comparison.random_weights
    assert (comparison.a.key, comparison.b.key) == ("timm/resnet18.tv_in1k", "torchvision/resnet18.IMAGENET1K_V1")
    assert comparison.weights.tensors > 40 and comparison.function.max_rel_err < 1e-5
    assert main(["table", "--arch", "resnet18", "--results", str(tmp_path / "results"), "--json"]) == 0
    rows = {(r["source"], r["model"]): r for r in json.loads(capsys.readouterr().out)}
    assert rows[("torchvision", "resnet18.IMAGENET1K_V1")]["compared"] == ["identical timm/resnet18.tv_in1k (random weights)"]
    assert rows[("timm", "resnet18.tv_in1k")]["compared"] == ["identical torchvision/resnet18.IMAGENET1K_V1 (random weights)"]
    assert main(argv) == 0  # resumed: nothing runs again
    assert len(ResultsStore(tmp_path / "results").results("compare")) == 1


def test_a_compare_job_depends_on_its_partner_and_covers_each_pair_once():
    from zoocheck.sweep.jobs import compare_partners
    from zoocheck.zoo_registry import get_entry

    tv, timm_tv = get_entry("torchvision", "resnet18.IMAGENET1K_V1"), get_entry("timm", "resnet18.tv_in1k")
    assert compare_partners(tv, {tv.key}) == (timm_tv.key,)  # a partner outside the selection is still compared
    assert compare_partners(tv, {tv.key, timm_tv.key}) == () and compare_partners(timm_tv, {tv.key, timm_tv.key}) == (tv.key,)

    def compare_job(seed_of_partner):
        weights_of = lambda e: (None, seed_of_partner if e.key == timm_tv.key else 0)  # noqa: E731
        [job] = plan([tv], ("compare",), framework_of=lambda e: "torch", weights_of=weights_of, options={})
        return job

    assert compare_job(0).options["partners"] == [{"key": timm_tv.key, "weights": None, "missing_weights": None}]
    assert compare_job(0).key != compare_job(1).key  # the partner's weights identity is part of the key


def test_a_partner_without_weights_is_a_weights_failure_of_the_compare_job(tmp_path):
    from zoocheck.converters.weights_resolution import MissingWeightsError
    from zoocheck.sweep.work import EntryWork, run_entry
    from zoocheck.zoo_registry import get_entry

    tv, timm_tv = get_entry("torchvision", "resnet18.IMAGENET1K_V1"), get_entry("timm", "resnet18.tv_in1k")
    here = tmp_path / "resnet18.pth"
    here.write_bytes(b"not read: the partner's weights are missing first")

    def weights_of(entry):
        if entry.key == timm_tv.key:
            raise MissingWeightsError(f"no weights for {entry.key}")
        return here, None

    [job] = plan([tv], ("compare",), framework_of=lambda e: "torch", weights_of=weights_of, options={})
    [outcome] = run_entry(EntryWork((job,), tmp_path / "unused.onnx"))
    # the pair's record is the job's failure, written once
    assert outcome.status == "failed" and outcome.failure.category == "weights" and outcome.records == (outcome.failure,)
    assert f"compare with {timm_tv.key}: no weights for {timm_tv.key}" in outcome.failure.message
    assert job_message(job, outcome) == f"not compared with {timm_tv.key}: {outcome.failure.one_line()}"
    store = ResultsStore(tmp_path / "results")
    write_outcome(store, outcome)
    assert store.failures() == [outcome.failure]


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--steps", "convert,bogus"], "unknown step bogus"),
        (["--steps", "eval"], "needs a validation set"),
        (["--steps", "eval", "--data", "/nonexistent/val"], "/nonexistent/val"),
        (["--workers", "0"], "--workers 0: must be at least 1"),
        (["--model", "no-such-model*"], "no model matches 'no-such-model*' for source 'torchvision'"),
        (["--arch", "no-such-arch*"], "no registry entry matches"),
    ],
)
def test_sweep_usage_errors(tmp_path, capsys, extra, message):
    from zoocheck.cli import main

    assert main(["sweep", "--src", "torchvision", "--random-weights", "--results", str(tmp_path), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "results.jsonl").exists()


def test_table_shows_each_entrys_latest_sweep_status_and_failure_category():
    from zoocheck.reports.table import build_rows, render

    entries = [toy("linear", "toy-a"), toy("linear", "toy-b"), toy("linear", "toy-c")]

    def job(model, step, status, category=None, time="2026-12-01T10:00:00+00:00"):
        return SweepJobRecord(
            key=f"{model}-{step}",
            source=crash_converter.SOURCE.name,
            model=model,
            step=step,
            status=status,
            seconds=1.0,
            category=category,
            time=time,
        )

    records = [
        job("toy-a", "convert", "ok"), job("toy-a", "parity", "ok"), job("toy-a", "compare", "skipped"),
        job("toy-b", "convert", "failed", "out of memory"), job("toy-b", "convert", "ok", time="2026-12-01T11:00:00+00:00"),
        job("toy-b", "parity", "failed", "numerical"),
    ]  # fmt: skip
    rows = {r.model: r for r in build_rows(entries, records)}
    assert (rows["toy-a"].sweep, rows["toy-b"].sweep, rows["toy-c"].sweep) == ("ok", "numerical (parity)", "")
    from zoocheck.reports.site import render_table_page

    assert "<td>numerical (parity)</td>" in render_table_page(list(rows.values()))
    assert "sweep" in render(list(rows.values()), "csv").splitlines()[0]
    random = [dataclasses.replace(r, random_weights=True) for r in records]
    assert {r.model: r.sweep for r in build_rows(entries, random)}["toy-a"] == "ok (random weights)"


def test_workers_share_the_cpus_instead_of_oversubscribing():
    from zoocheck.sweep.local import cpu_slice

    assert [cpu_slice(k, 2, [0, 1]) for k in range(2)] == [[0], [1]]
    assert [cpu_slice(k, 2, [0, 1, 2, 3, 4]) for k in range(2)] == [[0, 1], [2, 3, 4]]
    assert [cpu_slice(k, 3, [4, 5]) for k in range(3)] == [[4], [5], [4]]
    assert cpu_slice(0, 1, [0, 1]) == [0, 1]
