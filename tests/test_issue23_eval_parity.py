"""An ONNX file given to ``eval``/``parity`` is held to what it is (issue 23): weights that
contradict the file, a graph of another architecture and a file of another input size are bad
input (exit 2, one line); weights the file records are taken from it; a library's own message
reaches the one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import onnx
import pytest
from conftest import at_size, random_checkpoint
from imagenet_sets import build_layouts, synthetic_items

from zoocheck.cli import main
from zoocheck.digests import file_digest
from zoocheck.errors import BadInput
from zoocheck.records import LIBRARY_LINE_CHARS, Failure
from zoocheck.store import ResultsStore
from zoocheck.zoo_registry import get_entry

pytest.importorskip("torchvision")


@pytest.fixture(scope="module")
def files(tmp_path_factory, torchvision_resnet18_onnx):
    """torchvision resnet18 converted with random weights (seed 0; conftest's, shared); mobilenet_v3_small
    converted the same way and stripped of its zoocheck metadata; a small ImageNet val set."""
    from zoocheck.converters import converter_for
    from zoocheck.converters.pipeline import convert

    base = tmp_path_factory.mktemp("issue23")
    mobilenet = convert(converter_for("torchvision").resolve("mobilenet_v3_small"), output=base / "mobilenet.onnx", random_seed=0)
    assert mobilenet.ok, mobilenet.failure
    bare = onnx.load(str(mobilenet.onnx_path))
    del bare.metadata_props[:]
    onnx.save(bare, str(base / "mobilenet-bare.onnx"))
    data = build_layouts(base / "data", synthetic_items(2))["list"]
    return dict(resnet18=torchvision_resnet18_onnx, mobilenet=base / "mobilenet-bare.onnx", data=data, base=base)


@pytest.fixture(autouse=True)
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOOCHECK_CACHE", str(tmp_path / "cache"))  # no fetched weights to fall back on


def _error_line(capfd) -> str:
    lines = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def _with_metadata(source: Path, target: Path, **changes) -> Path:
    """A copy of the zoocheck file ``source`` whose metadata says ``changes``."""
    model = onnx.load(str(source))
    [prop] = [p for p in model.metadata_props if p.key == "zoocheck"]
    prop.value = json.dumps({**json.loads(prop.value), **changes})
    onnx.save(model, str(target))
    return target


def _input_size_file(path: Path, size: int) -> Path:
    """An ONNX classifier without zoocheck metadata declaring [N, 3, size, size] inputs."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"]),
            helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], transB=1),
        ],
        "small",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000])],
        initializer=[
            numpy_helper.from_array(np.ones((1000, 3), np.float32), "fc.weight"),
            numpy_helper.from_array(np.zeros(1000, np.float32), "fc.bias"),
        ],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


# --- eval --onnx with weights that contradict the file (item 4) --------------------------------


def test_eval_refuses_weights_the_file_was_not_made_with(files, tmp_path, capfd):
    other = random_checkpoint(at_size(get_entry("torchvision", "resnet18"), 64), tmp_path / "other.pth", seed=1)
    common = [
        "eval",
        "--onnx",
        str(files["resnet18"]),
        "--data",
        str(files["data"]),
        "--results",
        str(tmp_path / "r"),
        "--no-cache",
        "--no-progress",
    ]
    assert main([*common, "--random-weights", "--seed", "3"]) == 2
    line = _error_line(capfd)
    assert str(files["resnet18"]) in line and "seed 0" in line and "seed 3" in line
    assert main([*common, "--weights", str(other)]) == 2
    assert "other.pth" in _error_line(capfd)
    assert ResultsStore(tmp_path / "r").results("eval") == []
    assert main([*common, "--random-weights", "--seed", "0", "--limit", "1"]) == 0  # the weights it holds


# --- an input size the preprocessing does not make (item 13) ----------------------------------


def test_a_file_of_another_input_size_is_refused_before_any_work(files, tmp_path, capfd):
    small = _input_size_file(tmp_path / "small.onnx", 160)
    named = ["--unverified-onnx", "--src", "torchvision", "--model", "resnet18", "--results", str(tmp_path / "r")]
    assert main(["eval", "--onnx", str(small), *named, "--data", str(files["data"]), "--no-cache", "--no-progress"]) == 2
    line = _error_line(capfd)
    assert str(small) in line and "160x160" in line and "224x224" in line and "--src/--model" in line
    assert main(["parity", "--onnx", str(small), *named, "--random-weights"]) == 2
    assert "160x160" in _error_line(capfd)
    assert not (tmp_path / "r" / "results.jsonl").exists() or ResultsStore(tmp_path / "r").results() == []


# --- a graph of another architecture (item 10) ------------------------------------------------


def test_parity_of_a_file_of_another_architecture_says_so(files, tmp_path, capfd):
    results = tmp_path / "r"
    argv = [
        "parity",
        "--onnx",
        str(files["mobilenet"]),
        "--unverified-onnx",
        "--src",
        "torchvision",
        "--model",
        "resnet18",
        "--random-weights",
        "--results",
        str(results),
    ]
    assert main(argv) == 2
    err = capfd.readouterr().err
    [line] = [line for line in err.splitlines() if "error:" in line]
    assert str(files["mobilenet"]) in line and "not the architecture of torchvision/resnet18" in line and "first divergence" not in line
    assert ResultsStore(results).results("parity") == []  # a wrong file says nothing about the model
    [failure] = ResultsStore(results).failures()
    assert failure.bad_input


# --- weights taken from the file (rough edge a) -----------------------------------------------


def test_parity_takes_the_weights_the_file_records(files, tmp_path, capsys):
    argv = [
        "parity",
        "--onnx",
        str(files["resnet18"]),
        "--src",
        "torchvision",
        "--model",
        "resnet18",
        "--results",
        str(tmp_path / "r"),
        "--json",
    ]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "ok" and out["random_weights"] is True and out["random_seed"] == 0


def test_a_recorded_weights_file_is_found_by_its_checksum_or_asked_for(files, tmp_path, capfd):
    from zoocheck.identity import weights_recorded_in

    entry = get_entry("torchvision", "resnet18")
    weights = tmp_path / "r18.pth"
    weights.write_bytes(b"the weights")
    made = _with_metadata(
        files["resnet18"],
        tmp_path / "made.onnx",
        random_weights=False,
        random_seed=None,
        weights={"file": str(weights), "sha256": file_digest(weights)},
    )
    assert weights_recorded_in(made, entry) == (weights, None)
    moved = tmp_path / "elsewhere.pth"
    shutil.move(weights, moved)
    with pytest.raises(BadInput, match="not at"):
        weights_recorded_in(made, entry)
    assert main(["parity", "--onnx", str(made), "--src", "torchvision", "--model", "resnet18", "--results", str(tmp_path / "r")]) == 2
    line = _error_line(capfd)
    assert str(made) in line and "r18.pth" in line and "--weights" in line


# --- a library's own message on the one line (rough edge b) -----------------------------------


def test_a_library_message_is_on_the_one_line_shortened():
    import importlib

    import numpy as np

    with pytest.raises(ValueError) as raised:
        np.random.default_rng(-1)
    failure = Failure.from_exception("torchvision", "resnet18", "load", raised.value)
    assert "expected non-negative integer" in failure.one_line() and "raised inside" in failure.message
    with pytest.raises(ImportError) as raised:
        importlib.import_module("x" * 400)
    long = Failure.from_exception("torchvision", "resnet18", "load", raised.value)
    said = long.message.split("library: ", 1)[1]
    assert said.startswith("No module named 'xxx") and len(said.split("... ")[0]) == LIBRARY_LINE_CHARS - 3
    assert long.detail.endswith("x'")  # the whole message stays in the failure log


def test_a_library_traceback_gives_its_error_line():
    from zoocheck.records import _library_line

    mxnet = 'Traceback (most recent call last):\n  File "src/io/image_io.cc", line 146\nMXNetError: Check failed: shape mismatch\n'
    assert _library_line(mxnet) == "MXNetError: Check failed: shape mismatch"
    assert _library_line("Traceback (most recent call last):\n  [bt] (0) libmxnet.so\n") == ""
