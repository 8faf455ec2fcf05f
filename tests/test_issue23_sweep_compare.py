"""Issue 23, sweep: the summary of a sweep with failed jobs, the option checks every other command
makes (before any work, exit 2, one line), and compare partners named from either side."""

from __future__ import annotations

import json

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
