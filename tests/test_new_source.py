"""A new source through the public descriptor alone: two test-only modules (``tiny_zoo_entries``,
``tiny_zoo_converter``) and one ``register_source`` call, then list, convert, parity and table
through ``main([...])``, the converter running in the pipeline's child process like any other."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import tiny_zoo_converter

from zoocheck.cli import main
from zoocheck.converters.normalize import read_metadata
from zoocheck.converters.onnx_runtime import run_first_output, session
from zoocheck.sources import Framework, Source

TINY = Source(
    name="tiny-zoo",
    registry="tiny_zoo_entries",
    converter="tiny_zoo_converter:TinyConverter",
    frameworks=(Framework("onnx"),),
    runtime="numpy",
    aliases=("tiny",),
    title="a test-only zoo",
    order=50,
    colour="#123456",
)


@pytest.fixture
def tiny(registered_source, tmp_path):
    registered_source(TINY)
    return tmp_path / "results"


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def test_list_and_help_know_the_new_source(tiny, capsys):
    assert main(["list", "--src", "tiny", "--json"]) == 0
    [entry] = _json(capsys)
    assert (entry["source"], entry["name"], entry["arch"]) == ("tiny-zoo", "tiny-linear", "tiny_linear")
    # the unfiltered list too (its table: the JSON computes every entry's fingerprint, seconds)
    assert main(["list"]) == 0
    assert re.search(r"│ tiny-zoo +│ tiny-linear +│", capsys.readouterr().out)
    assert main(["convert", "--help"]) == 0
    assert "tiny-zoo" in capsys.readouterr().out


def test_convert_parity_and_table_end_to_end(tiny, tmp_path, capsys):
    assert (
        main(
            ["convert", "--src", "tiny-zoo", "--model", "tiny-linear", "--random-weights", "--seed", "3", "--results", str(tiny), "--json"]
        )
        == 0
    )
    record = _json(capsys)
    assert (record["status"], record["random_weights"], record["arch"]) == ("ok", True, "tiny_linear")
    onnx_file = tiny / "onnx" / "tiny-zoo" / "tiny-linear.random-seed3.onnx"  # random weights never take the real name
    meta = read_metadata(onnx_file)
    assert (meta["source"], meta["model"], meta["random_seed"], meta["input_size"]) == ("tiny-zoo", "tiny-linear", 3, 56)
    # the file follows the conventions: input/logits renamed, dynamic batch, and computes the model
    batch = np.random.default_rng(0).standard_normal((3, 3, 56, 56)).astype(np.float32)
    rng = np.random.default_rng(3)
    weight, bias = rng.standard_normal((1000, 3)).astype(np.float32), rng.standard_normal(1000).astype(np.float32)
    np.testing.assert_allclose(run_first_output(session(onnx_file), batch), batch.mean(axis=(2, 3)) @ weight.T + bias, rtol=1e-4, atol=1e-4)

    weights = tiny_zoo_converter.write_checkpoint(tmp_path / "tiny.npz", seed=1)
    assert main(["parity", "--src", "tiny", "--model", "TinyLinear", "--weights", str(weights), "--results", str(tiny), "--json"]) == 0
    parity = _json(capsys)
    assert (parity["status"], parity["reference"], parity["test"], parity["random_weights"]) == ("ok", "numpy", "onnxruntime", False)
    assert len(parity["comparisons"]) >= 2 and all(c["max_rel_err"] < 1e-5 for c in parity["comparisons"])

    assert main(["table", "--src", "tiny-zoo", "--results", str(tiny), "--json"]) == 0
    [row] = _json(capsys)
    assert (row["arch"], row["model"], row["published_top1"], row["conversion"], row["parity"]) == (
        "tiny_linear",
        "tiny-linear",
        1.5,
        "ok",
        "ok",
    )


def test_bad_weights_for_the_new_source_are_refused_naming_the_file(tiny, tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    np.savez(bad, weight=np.zeros((10, 3), np.float32))
    assert (
        main(["convert", "--src", "tiny-zoo", "--model", "tiny-linear", "--weights", str(bad), "--results", str(tiny)]) == 2
    )  # unusable input: exit 2
    err = capsys.readouterr().err
    assert "bad.npz" in err and "missing keys: bias" in err and "shape mismatches" in err
