"""SIGINT and SIGTERM in the middle of a real ppcls conversion (a real subprocess): exit 130 / 143 with
one line, nothing under the output name, the temp dir exactly as it was; killed runs swept next time."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zoocheck import rundir

pytest.importorskip("paddle")
pytest.importorskip("paddle2onnx")

ROOT = Path(__file__).resolve().parents[1]


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _start_conversion(tmp_path: Path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    (tmp / "someone-elses-file").write_text("kept")
    out = tmp_path / "out" / "ResNet18.onnx"
    env = {**os.environ, "TMPDIR": str(tmp)}
    argv = [
        sys.executable,
        "-m",
        "zoocheck",
        "convert",
        "--src",
        "ppcls",
        "--model",
        "ResNet18",
        "--random-weights",
        "--output",
        str(out),
        "--results",
        str(tmp_path / "results"),
    ]
    before = _listing(tmp)
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, tmp, out, before


def _wait_for_export(tmp: Path, proc, timeout: float = 120.0) -> None:
    """Until the exporter's temporary folder exists inside the run directory (mid-conversion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if list(tmp.glob(f"{rundir.RUN_PREFIX}*/zoocheck-paddle-export-*")) or list(tmp.glob(f"{rundir.RUN_PREFIX}*/zoocheck-export-*")):
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.kill()
    pytest.fail("the conversion never reached its export step")


@pytest.mark.parametrize(
    ("signum", "code", "word"),
    [
        (signal.SIGINT, 130, "interrupted"),
        # the same cleanup; SIGTERM's own exception and exit code: the in-process tests below
        pytest.param(signal.SIGTERM, 143, "terminated", marks=pytest.mark.slow),
    ],
)
def test_signal_mid_ppcls_conversion_leaves_nothing(tmp_path, signum, code, word):
    proc, tmp, out, before = _start_conversion(tmp_path)
    _wait_for_export(tmp, proc)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and word in lines[0], stderr
    assert "Traceback" not in stderr + stdout and "FatalError" not in stderr + stdout
    assert _listing(tmp) == before
    assert not out.exists() and (not out.parent.exists() or _listing(out.parent) == [])


def test_a_killed_run_is_swept_by_the_next_one(tmp_path):
    proc, tmp, out, before = _start_conversion(tmp_path)
    _wait_for_export(tmp, proc)
    proc.kill()  # SIGKILL: no cleanup can run; the converter child dies with its parent
    proc.communicate(timeout=60)
    assert _listing(tmp) != before
    time.sleep(0.5)  # the child's death (PR_SET_PDEATHSIG) releases the run's owner lock
    swept = rundir.sweep_stale(tmp)
    assert len(swept) == 1
    assert _listing(tmp) == before
    assert not out.exists() and (not out.parent.exists() or _listing(out.parent) == [])


def test_a_second_writer_of_the_same_output_is_refused(tmp_path):
    out = tmp_path / "model.onnx"
    with rundir.run_directory():
        with (
            rundir.output_lock(out),
            pytest.raises(rundir.OutputBusyError, match="another zoocheck run is writing"),
            rundir.output_lock(out),
        ):
            pass
        with rundir.output_lock(out):  # free again once the first writer is done
            pass
    assert list(tmp_path.iterdir()) == []


def test_a_ppcls_conversion_is_quiet_leaks_nothing_and_records_what_it_wrote(tmp_path):
    """paddle2onnx, glog and Polygraphy print into the debug log, not the terminal; Paddle's
    ``.ses`` file lands in the run directory and goes with it; the opset recorded is the file's."""
    import json

    import onnx

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out, results = tmp_path / "out" / "r18.onnx", tmp_path / "results"
    argv = [
        sys.executable,
        "-m",
        "zoocheck",
        "convert",
        "--src",
        "ppcls",
        "--model",
        "ResNet18",
        "--random-weights",
        "--opset",
        "10",
        "--output",
        str(out),
        "--results",
        str(results),
    ]
    done = subprocess.run(argv, cwd=ROOT, env={**os.environ, "TMPDIR": str(tmp)}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    terminal = done.stdout + done.stderr
    for noise in ("Paddle2ONNX", "Polygraphy", "Folding Constants", "eager_utils", "[INFO]"):
        assert noise not in terminal
    assert "RANDOM WEIGHTS" in terminal and "wrote" in terminal
    assert _listing(tmp) == []
    assert "Paddle2ONNX" in (results / "debug.log").read_text()
    written = onnx.load(str(out), load_external_data=False)
    opset = next(o.version for o in written.opset_import if o.domain in ("", "ai.onnx"))
    [record] = [json.loads(line) for line in (results / "results.jsonl").read_text().splitlines()]
    described = json.loads(out.with_name(out.name + ".json").read_text())
    assert record["opset"] == described["opset"] == opset and record["opset_requested"] == 10
    dims = [d.dim_param or d.dim_value for d in written.graph.input[0].type.tensor_type.shape.dim]
    assert record["ir_version"] == written.ir_version and record["input_shape"] == dims and dims[:2] == ["N", 3]
    from zoocheck.digests import file_digest

    assert record["onnx_sha256"] == described["onnx_file"]["sha256"] == file_digest(out)


def test_a_command_whose_output_another_run_holds_is_refused_in_one_line(tmp_path, capsys):
    from zoocheck.cli import main

    out = tmp_path / "out" / "ResNet18.onnx"
    argv = ["convert", "--src", "ppcls", "--model", "ResNet18", "--random-weights", "--output", str(out)]
    with rundir.run_directory(), rundir.output_lock(out):
        assert main([*argv, "--results", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err
    assert "another zoocheck run is writing" in err and err.strip().count("\n") == 0
    assert not out.exists()


@pytest.mark.slow  # the same refusal: test_a_command_whose_output_another_run_holds_is_refused_in_one_line, and the lock's own test above
def test_a_second_process_writing_the_same_output_is_refused_while_the_first_converts(tmp_path):
    proc, tmp, out, before = _start_conversion(tmp_path)
    _wait_for_export(tmp, proc)
    argv = [
        sys.executable,
        "-m",
        "zoocheck",
        "convert",
        "--src",
        "ppcls",
        "--model",
        "ResNet18",
        "--random-weights",
        "--output",
        str(out),
        "--results",
        str(tmp_path / "results2"),
    ]
    second = subprocess.run(argv, cwd=ROOT, env={**os.environ, "TMPDIR": str(tmp)}, capture_output=True, text=True, timeout=120)
    assert second.returncode == 2, second.stderr
    assert "another zoocheck run is writing" in second.stderr and second.stderr.strip().count("\n") == 0
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr  # the first writer finishes undisturbed
    assert out.exists() and _listing(tmp) == before
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name, out.name + ".json"]


def _parity_argv(results: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "zoocheck",
        "parity",
        "--src",
        "ppcls",
        "--model",
        "ResNet18",
        "--random-weights",
        "--results",
        str(results),
    ]


def test_a_parity_run_with_its_child_started_ahead_is_quiet_and_leaks_nothing(tmp_path):
    """A user's run (no warm children): the framework's process starts importing before the options
    are checked and the photographs decoded; what the imports print reaches no terminal."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "ZOOCHECK_PRELOAD": ""}
    done = subprocess.run(_parity_argv(tmp_path / "results"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    terminal = done.stdout + done.stderr
    for noise in ("Paddle2ONNX", "Polygraphy", "ccache", "UserWarning", "[INFO]"):
        assert noise not in terminal
    assert "PARITY PASS" in terminal and _listing(tmp) == []


def test_an_interrupt_while_the_child_started_ahead_imports_leaves_nothing(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "ZOOCHECK_PRELOAD": ""}
    proc = subprocess.Popen(
        _parity_argv(tmp_path / "results"), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while not list(tmp.glob(f"{rundir.RUN_PREFIX}*")) and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "interrupted" in lines[0], stderr
    assert "Traceback" not in stderr + stdout and _listing(tmp) == []


@pytest.mark.parametrize("signum, exception", [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, rundir.Terminated)])
def test_a_signal_right_after_the_run_directory_appears_still_removes_it(tmp_path, monkeypatch, signum, exception):
    """The moment a run's directory exists, before its owner lock is taken: the cleanup is armed."""
    opened = []

    def open_then_signal(path, *args, **kwargs):
        if str(path).endswith("owner.lock") and not opened:
            opened.append(Path(path).parent)
            os.kill(os.getpid(), signum)
        return os_open(path, *args, **kwargs)

    os_open = os.open
    monkeypatch.setattr(rundir.os, "open", open_then_signal)
    monkeypatch.setattr(rundir.tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv(rundir.RUN_DIR_ENV, raising=False)
    with pytest.raises(exception), rundir.signals_as_exceptions(), rundir.run_directory():
        pass
    assert opened and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("signum", "code", "word"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_a_signal_during_a_command_is_its_exit_code_and_one_line(tmp_path, monkeypatch, capsys, signum, code, word):
    from zoocheck.cli import main

    def signalled(_args):
        os.kill(os.getpid(), signum)
        time.sleep(5)  # the handler raises here
        return 0

    monkeypatch.setattr("zoocheck.cli.table.run", signalled)
    monkeypatch.setattr(rundir.tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv(rundir.RUN_DIR_ENV, raising=False)
    assert main(["table", "--results", str(tmp_path / "results")]) == code
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"zoocheck: error: {word} ("), lines
    assert [p for p in tmp_path.iterdir() if p.name != "results"] == []  # the run directory went with it
