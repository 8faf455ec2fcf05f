"""The first diverging node between two ONNX files of one model, found by tensor name."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from zoocheck.checks.divergence import DivergenceUnavailable, first_divergence
from zoocheck.checks.images import random_inputs
from zoocheck.zoo_registry import get_entry


@pytest.fixture(scope="module")
def resnet18(tmp_path_factory):
    pytest.importorskip("torch")
    from zoocheck.converters.pipeline import convert

    conversion = convert(get_entry("torchvision", "resnet18.IMAGENET1K_V1"), output=tmp_path_factory.mktemp("div") / "resnet18.onnx", random_seed=3)
    assert conversion.ok, conversion.failure
    return conversion.onnx_path


def _altered(path, tmp_path, pick):
    """A copy of ``path`` with one initializer (the ``pick``-th conv weight) scaled by 1.5."""
    model = onnx.load(str(path))
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    target = convs[pick]
    weight_name = target.input[1]
    for i, init in enumerate(model.graph.initializer):
        if init.name == weight_name:
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * 1.5, weight_name))
    out = tmp_path / "altered.onnx"
    onnx.save(model, str(out))
    return out, target.name, weight_name


@pytest.mark.parametrize("pick", [0, 7])
def test_an_altered_initializer_is_found_at_the_node_that_consumes_it(resnet18, tmp_path, pick):
    altered, node_name, weight_name = _altered(resnet18, tmp_path, pick)
    batch = random_inputs(2, 224, seed=1)
    divergence = first_divergence(resnet18, altered, batch, tolerance=1e-4)
    assert divergence is not None
    assert divergence.node == node_name and divergence.op_type == "Conv"
    assert weight_name in divergence.initializers
    assert divergence.max_rel_err > 1e-2
    assert divergence.nodes_compared >= pick  # every node before it agreed
    assert node_name in divergence.summary()


def test_identical_files_have_no_divergence(resnet18):
    assert first_divergence(resnet18, resnet18, random_inputs(1, 224), tolerance=1e-6) is None


def test_files_without_common_names_cannot_be_compared(resnet18, tmp_path):
    model = onnx.load(str(resnet18))
    for node in model.graph.node:
        node.output[:] = [f"renamed_{o}" for o in node.output]
    other = tmp_path / "renamed.onnx"
    onnx.save(model, str(other))
    with pytest.raises(DivergenceUnavailable, match="share no tensor names"):
        first_divergence(resnet18, other, random_inputs(1, 224), tolerance=1e-4)


def test_relative_error_is_judged_on_each_tensors_own_range():
    from zoocheck.checks.divergence import _relative_error

    ref = np.array([0.0, 1000.0])
    assert _relative_error(ref, ref + 0.5)[0] == pytest.approx(5e-4)
    assert _relative_error(np.array([1.0, 2.0]), np.array([1.0, np.nan]))[0] == float("inf")


def test_parity_onnx_of_an_altered_canonical_file_names_the_consuming_node(tmp_path, capsys):
    """A deliberately altered initializer in a canonical file: parity --onnx fails and says where."""
    import json

    pytest.importorskip("torch")
    from zoocheck.cli import main
    from zoocheck.converters.pipeline import convert

    entry = get_entry("torchvision", "resnet18.IMAGENET1K_V1")
    good = convert(entry, output=tmp_path / "canonical.onnx", random_seed=3, graph="canonical")
    assert good.ok, good.failure
    model = onnx.load(str(good.onnx_path))
    for i, init in enumerate(model.graph.initializer):
        if init.name == "layer2.0.conv1.weight":
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * 1.5, init.name))
    onnx.save(model, str(good.onnx_path))
    capsys.readouterr()
    code = main(["parity", "--src", "torchvision", "--model", entry.name, "--random-weights", "--seed", "3",
                 "--onnx", str(good.onnx_path), "--results", str(tmp_path / "results"), "--json"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1, out
    result = json.loads(out)
    result = result[0] if isinstance(result, list) else result
    divergence = result["first_divergence"]
    assert divergence["node"] == "layer2.0.conv1" and divergence["op_type"] == "Conv"
    assert "layer2.0.conv1.weight" in divergence["initializers"]
