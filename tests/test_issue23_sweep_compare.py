"""Issue 23, sweep: the summary of a sweep with failed jobs, the option checks every other command
makes (before any work, exit 2, one line), and compare partners named from either side."""

from __future__ import annotations

import pytest

from zoocheck.cli import main
from zoocheck.store import ResultsStore
from zoocheck.sweep.jobs import plan
from zoocheck.sweep.work import EntryWork, run_entry
from zoocheck.zoo_registry import get_entry

TV18, TIMM_TV18 = ("torchvision", "resnet18.IMAGENET1K_V1"), ("timm", "resnet18.tv_in1k")


def test_the_summary_of_a_sweep_with_failed_jobs_lists_them_by_category(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ZOOCHECK_CACHE", str(tmp_path / "empty-cache"))  # no fetched weights: both jobs fail as 'weights'
    code = main(["sweep", "--src", "torchvision", "--model", TV18[1], "--results", str(tmp_path / "results")])
    captured = capsys.readouterr()
    assert code == 1 and "internal error" not in captured.err
    assert "2 jobs: 0 ok, 2 failed (2 weights)" in captured.out
    assert f"failure log: {ResultsStore(tmp_path / 'results').failures_path}" in captured.out


@pytest.mark.parametrize(
    "options,message",
    [
        (["--random-weights", "--seed", "-1"], "--seed -1: seeds run from 0 to 4294967295"),
        (["--src", "ppcls", "--opset", "3"], "--opset 3: the ppcls exporter writes opsets 7 to"),
        (["--src", "torchvision", "--opset", "21"], "--opset 21: the torchvision exporter writes opsets 7 to 20"),
        (["--limit", "0", "--steps", "eval", "--data", "val"], "--limit 0: must be at least 1"),
        (["--eval-shards", "0"], "--eval-shards 0: must be at least 1"),
        (["--max-rel-err", "nan"], "--max-rel-err nan: must be a positive finite number"),
        (["--timeout", "inf"], "--timeout inf: must be a positive finite number"),
        (["--results", "{tmp}/a-file/results"], "the results folder cannot be created because"),
    ],
)
def test_sweep_checks_its_options_like_every_other_command_before_any_work(tmp_path, capsys, monkeypatch, options, message):
    from zoocheck.sweep import driver

    def no_work(*_, **__):
        raise AssertionError("the sweep started work with an option every other command refuses")

    monkeypatch.setattr(driver, "run_sweep", no_work)
    (tmp_path / "a-file").write_text("")
    results = ["--results", str(tmp_path / "results")] if "--results" not in options else []
    argv = ["sweep", "--model", "ResNet18", *results, *(o.format(tmp=tmp_path) for o in options)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "results").exists()


def test_a_compare_job_whose_pair_the_partner_compares_names_the_partner(tmp_path):
    """torchvision's resnet18 has a same_weights_as partner (timm's tv_in1k): with both selected the
    pair is compared once, by timm's job, and torchvision's job says so instead of 'no partner'."""
    tv, timm_tv, a1 = get_entry(*TV18), get_entry(*TIMM_TV18), get_entry("timm", "resnet18.a1_in1k")
    jobs = plan([tv, timm_tv, a1], ("compare",), framework_of=lambda e: "torch", weights_of=lambda e: (None, 0), options={})
    by_entry = {j.entry.key: j for j in jobs}
    assert [p["key"] for p in by_entry[timm_tv.key].options["partners"]] == [tv.key]
    [skipped] = run_entry(EntryWork((by_entry[tv.key],), tmp_path / "unused.onnx"))
    assert skipped.status == "skipped" and timm_tv.key in skipped.message and "no same_weights_as partner" not in skipped.message
    [alone] = run_entry(EntryWork((by_entry[a1.key],), tmp_path / "unused.onnx"))
    assert alone.status == "skipped" and "no same_weights_as partner" in alone.message
