"""Warm children (``ZOOCHECK_PRELOAD``): a child forked from a zygote that imported a group of
frameworks behaves as a fresh interpreter does: same results, the caller's environment, working
directory and output, crashes and kills reported the same way, isolation intact."""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass

import crash_converter
import numpy as np
import pytest
from conftest import make_entry

from zoocheck.converters import child
from zoocheck.converters.jobs import ConvertJob
from zoocheck.converters.pipeline import convert

GROUP = "numpy,onnx"  # the crash-test source needs no framework: any group holds it


@pytest.fixture(params=["fresh", "warm"])
def mode(request, monkeypatch, registered_source):
    registered_source(crash_converter.SOURCE)
    monkeypatch.setenv(child.PRELOAD_ENV, GROUP if request.param == "warm" else "")
    return request.param


def _entry(builder: str):
    return make_entry(crash_converter.SOURCE.name, f"crash-{builder}", builder=builder)


@dataclass(frozen=True)
class WhereAmI:
    """Reports the child's parent, environment variable, working directory; prints a line."""

    variable: str

    def run(self, channel) -> None:
        print("hello from the child", flush=True)
        channel.send((os.getppid(), os.environ.get(self.variable), os.getcwd(), sys.modules.get("onnx") is not None))


def _run(job, frameworks=()):
    with child.ChildProcess(job, frameworks) as proc:
        replies = list(proc.replies())
    return replies, proc.wait()


def test_a_warm_child_is_forked_from_the_zygote_with_the_callers_environment_cwd_and_output(mode, monkeypatch, tmp_path, capfd):
    monkeypatch.setenv("ZOOCHECK_TEST_VARIABLE", "set after the zygote started")
    monkeypatch.chdir(tmp_path)
    [(parent, variable, cwd, onnx_imported)], status = _run(WhereAmI("ZOOCHECK_TEST_VARIABLE"))
    assert status == 0 and variable == "set after the zygote started" and cwd == str(tmp_path)
    assert "hello from the child" in capfd.readouterr().out
    if mode == "warm":
        zygote = child._zygotes[tuple(GROUP.split(","))]
        assert parent == zygote._proc.pid and onnx_imported  # imported once, before the fork
    else:
        assert parent == os.getpid()


def test_a_job_needing_a_framework_outside_every_group_gets_a_fresh_child(mode):
    [(parent, *_)], status = _run(WhereAmI("HOME"), frameworks=("paddle",))
    assert status == 0 and parent == os.getpid()


@pytest.mark.parametrize("kind, signal_name", [("abort", "SIGABRT"), ("segfault", "SIGSEGV"), ("kill", "SIGKILL")])
def test_a_crash_is_the_same_failure_warm_or_fresh(mode, kind, signal_name, tmp_path):
    failure = convert(_entry(kind), output=tmp_path / "crash.onnx", random_seed=0).failure
    assert failure is not None and failure.stage == "build" and signal_name in failure.message
    assert failure.exception_type == ("ProcessKilled" if kind == "kill" else "ProcessCrash")
    after = convert(
        _entry("linear"), output=tmp_path / "next.onnx", random_seed=0, inputs=np.ones((2, 3, 8, 8), np.float32), graph="native"
    )
    assert after.ok, after.failure
    assert after.onnx_path.exists() and after.native_outputs.shape == (2, 1000)


def test_leaving_the_block_by_an_exception_kills_a_hanging_child(mode, tmp_path):
    job = ConvertJob(_entry("hang"), None, 0, tmp_path / "log", None, 17, None, None)
    with pytest.raises(KeyboardInterrupt), child.ChildProcess(job, job.frameworks) as proc:
        next(proc.replies())  # the 'load' stage: the child is up
        raise KeyboardInterrupt
    assert proc.wait() == -signal.SIGKILL


def test_a_dead_zygote_takes_its_children_along_and_the_next_child_gets_a_new_one(monkeypatch, registered_source, tmp_path):
    registered_source(crash_converter.SOURCE)
    monkeypatch.setenv(child.PRELOAD_ENV, GROUP)
    job = ConvertJob(_entry("hang"), None, 0, tmp_path / "log", None, 17, None, None)
    with child.ChildProcess(job, job.frameworks) as proc:
        replies = proc.replies()
        while next(replies).name != "build":  # then it hangs
            pass
        zygote = child._zygotes[tuple(GROUP.split(","))]
        os.kill(zygote._proc.pid, signal.SIGKILL)
        assert list(replies) == []  # the hanging child died with it (PR_SET_PDEATHSIG)
    assert proc.wait() == -signal.SIGKILL
    [(parent, *_)], status = _run(WhereAmI("HOME"))
    assert status == 0 and parent != zygote._proc.pid and parent == child._zygotes[tuple(GROUP.split(","))]._proc.pid


@dataclass(frozen=True)
class Imported:
    """Reports the child's parent and whether ``module`` was imported before the job ran."""

    module: str

    def run(self, channel) -> None:
        channel.send((os.getppid(), self.module in sys.modules))


def test_a_child_started_ahead_imports_quietly_and_runs_the_next_job_of_its_frameworks(monkeypatch, capfd):
    monkeypatch.setenv(child.PRELOAD_ENV, "")
    with child.started_ahead(("numpy",), ["this"]):  # `import this` prints the Zen of Python
        assert len(child._ahead) == 1
        [(parent, imported)], status = _run(Imported("this"), frameworks=("numpy",))
        assert child._ahead == []
        [(_, imported_again)], _ = _run(Imported("this"), frameworks=("numpy",))  # the next one starts afresh
    assert status == 0 and parent == os.getpid() and imported and not imported_again
    assert "Zen of Python" not in capfd.readouterr().out


def test_a_child_started_ahead_is_left_to_its_own_frameworks_and_killed_when_none_took_it(monkeypatch):
    monkeypatch.setenv(child.PRELOAD_ENV, "")
    with child.started_ahead(("numpy",), ["numpy"]):
        [(_, ahead, _)] = child._ahead
        [(parent, *_)], status = _run(WhereAmI("HOME"), frameworks=("onnx",))
        assert status == 0 and parent == os.getpid() and len(child._ahead) == 1
    assert child._ahead == [] and ahead.wait() == -signal.SIGKILL


def test_nothing_is_started_ahead_where_a_warm_child_serves_the_frameworks(monkeypatch):
    monkeypatch.setenv(child.PRELOAD_ENV, GROUP)
    with child.started_ahead(("numpy",), ["numpy"]):
        assert child._ahead == []


def test_a_framework_with_an_importer_is_imported_ahead_through_it(monkeypatch):
    """A plain ``import mxnet`` fails on numpy >= 1.24 (``numpy.bool``): ahead of its job, and in a
    zygote, MXNet is imported through the shim its source declares."""
    pytest.importorskip("zoocheck.converters.mxnet_compat").import_mxnet()
    monkeypatch.setenv(child.PRELOAD_ENV, "")
    with child.started_ahead(("mxnet",), ["mxnet"]):
        [(parent, imported)], status = _run(Imported("mxnet"), frameworks=("mxnet",))
    assert status == 0 and parent == os.getpid() and imported
