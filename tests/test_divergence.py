"""The first diverging node between two ONNX files of one model, found by tensor name."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from zoocheck.checks.divergence import DivergenceUnavailable, first_divergence
from zoocheck.checks.images import random_inputs
from zoocheck.reports.lines import divergence_line, parity_line
from zoocheck.sources import Framework, Source
from zoocheck.zoo_registry import get_entry


@pytest.fixture
def resnet18(torchvision_resnet18_onnx):
    return torchvision_resnet18_onnx  # conftest's, shared: the tests alter copies only


#: the inputs' side: the canonical file takes any (its H and W are symbolic), and where a node
#: diverges does not depend on it
SIDE = 64


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
    batch = random_inputs(2, SIDE, seed=1)
    divergence = first_divergence(resnet18, altered, batch, tolerance=1e-4)
    assert divergence is not None
    assert divergence.node == node_name and divergence.op_type == "Conv"
    assert weight_name in divergence.initializers
    assert divergence.max_rel_err > 1e-2
    assert divergence.nodes_compared >= pick  # every node before it agreed
    assert node_name in divergence_line(divergence)
    # each node compared, the agreeing ones within the tolerance, the diverging one last
    *agreed, last = divergence.node_errors
    assert len(agreed) == divergence.nodes_compared and all(e.max_rel_err <= 1e-4 for e in agreed)
    assert (last.node, last.output, last.max_rel_err) == (node_name, divergence.output, divergence.max_rel_err)


def test_identical_files_have_no_divergence(resnet18):
    assert first_divergence(resnet18, resnet18, random_inputs(1, SIDE), tolerance=1e-6) is None


def test_files_without_common_names_cannot_be_compared(resnet18, tmp_path):
    model = onnx.load(str(resnet18))
    for node in model.graph.node:
        node.output[:] = [f"renamed_{o}" for o in node.output]
    other = tmp_path / "renamed.onnx"
    onnx.save(model, str(other))
    with pytest.raises(DivergenceUnavailable, match="share no tensor names"):
        first_divergence(resnet18, other, random_inputs(1, SIDE), tolerance=1e-4)


def test_relative_error_is_judged_on_each_tensors_own_range():
    from zoocheck.checks.divergence import _relative_error

    ref = np.array([0.0, 1000.0])
    assert _relative_error(ref, ref + 0.5)[0] == pytest.approx(5e-4)
    assert _relative_error(np.array([1.0, 2.0]), np.array([1.0, np.nan]))[0] == float("inf")


def test_parity_onnx_of_an_altered_canonical_file_names_the_consuming_node(resnet18, tmp_path, capsys):
    """A deliberately altered initializer in a canonical file: parity --onnx fails and says where."""
    import json

    from zoocheck.cli import main

    model = onnx.load(str(resnet18))
    for i, init in enumerate(model.graph.initializer):
        if init.name == "layer2.0.conv1.weight":
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * 1.5, init.name))
    altered = tmp_path / "canonical.onnx"
    onnx.save(model, str(altered))
    capsys.readouterr()
    code = main(
        [
            "parity",
            "--src",
            "torchvision",
            "--model",
            "resnet18.IMAGENET1K_V1",
            "--random-weights",
            "--seed",
            "0",
            "--onnx",
            str(altered),
            "--results",
            str(tmp_path / "results"),
            "--json",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1, out
    result = json.loads(out)
    result = result[0] if isinstance(result, list) else result
    divergence = result["first_divergence"]
    assert divergence["node"] == "layer2.0.conv1" and divergence["op_type"] == "Conv"
    assert "layer2.0.conv1.weight" in divergence["initializers"]


# --- a fresh conversion: the framework's own per-layer outputs against the file's -----------------

WRONG_EXPORT = Source(
    name="wrong-export",
    registry="wrong_export_entries",
    converter="wrong_export_converter:WrongExportConverter",
    frameworks=(Framework("torch", extra="torch"), Framework("torchvision", extra="torch")),
    runtime="torch",
    title="a test-only zoo whose export is wrong in one layer",
    order=51,
    colour="#654321",
)


@pytest.fixture
def wrong_export(registered_source, tmp_path, monkeypatch):
    """The test-only source registered; the file its layer_outputs calls are logged to."""
    pytest.importorskip("torchvision")
    import wrong_export_converter

    registered_source(WRONG_EXPORT)
    log = tmp_path / "layer-outputs.log"
    monkeypatch.setenv(wrong_export_converter.LAYER_LOG, str(log))
    return log


def test_a_fresh_conversion_wrong_in_one_layer_fails_parity_naming_that_layer(wrong_export, tmp_path, capsys):
    import json

    from zoocheck.cli import main
    from zoocheck.store import ResultsStore

    results = tmp_path / "results"
    argv = [
        "parity",
        "--src",
        "wrong-export",
        "--model",
        "resnet18-wrong-layer2.1.conv1",
        "--random-weights",
        "--results",
        str(results),
        "--json",
    ]
    assert main(argv) == 1
    result = json.loads(capsys.readouterr().out)
    divergence = result["first_divergence"]
    # the layer whose export is wrong, not an earlier one: every node before it agreed
    assert (divergence["node"], divergence["op_type"], divergence["output"]) == ("layer2.1.conv1", "Conv", "layer2.1.conv1")
    # stem.conv1, layer1.{0,1}.conv{1,2}, layer2.0.conv1, .conv2, .downsample.conv agreed
    assert divergence["nodes_compared"] == 8 and divergence["max_rel_err"] > 10 * result["tolerance"]["max_rel_err"]
    assert "layer2.1.conv1.weight" in divergence["initializers"]
    assert wrong_export.read_text().count("layer_outputs") == 1  # one second forward, on failure
    [stored] = [r for r in ResultsStore(results).results("parity") if r.model.startswith("resnet18-wrong")]
    assert stored.status == "failed" and stored.first_divergence.node == "layer2.1.conv1"
    # the terminal says where it starts (the report of the stored record, as `parity` prints it)
    from rich.console import Console

    from zoocheck.reports.parity_report import print_parity

    terminal = Console(record=True, width=400)
    print_parity(terminal, stored)
    assert "first divergence at node layer2.1.conv1 (Conv) (weights layer2.1.conv1.weight, layer2.1.conv1.bias)" in terminal.export_text()


def test_a_native_graph_wrong_in_one_layer_names_its_node_and_the_canonical_layer(wrong_export, tmp_path, capsys):
    """--graph native: the exporter's own names; the framework's layers are found in the file
    through its canonical form computed in memory, and the file itself is run."""
    import json

    from zoocheck.cli import main
    from zoocheck.store import ResultsStore

    output = tmp_path / "native.onnx"
    argv = ["parity", "--src", "wrong-export", "--model", "resnet18-wrong-layer2.1.conv1", "--random-weights", "--graph", "native"]
    assert main([*argv, "--output", str(output), "--results", str(tmp_path / "results"), "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    divergence = result["first_divergence"]
    assert divergence["layer"] == "layer2.1.conv1" and divergence["nodes_compared"] == 8
    # torch.onnx's node for that convolution, reading the weights the export scaled
    native = onnx.load(str(output)).graph
    [node] = [n for n in native.node if n.name == divergence["node"]]
    assert node.op_type == divergence["op_type"] == "Conv" and node.output[0] == divergence["output"]
    assert node.input[1] in divergence["initializers"] and "layer2.1.conv1" not in {n.name for n in native.node}
    [stored] = ResultsStore(tmp_path / "results").results("parity")
    assert f"first divergence at node {node.name} (Conv) = canonical layer layer2.1.conv1" in parity_line(stored)


def test_a_passing_fresh_parity_computes_no_intermediates(wrong_export, tmp_path, capsys):
    import json

    from zoocheck.cli import main

    argv = [
        "parity",
        "--src",
        "wrong-export",
        "--model",
        "resnet18-right",
        "--random-weights",
        "--results",
        str(tmp_path / "results"),
        "--json",
    ]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "ok" and result["first_divergence"] is None
    assert not wrong_export.exists()  # layer_outputs never ran


# torchvision's mapping is the default suite's through the wrong-export source above
LAYER_SOURCES = [
    pytest.param("torchvision", "resnet18.IMAGENET1K_V1", marks=pytest.mark.slow),  # 7x7 stem, basic blocks
    pytest.param("timm", "resnet18d.ra2_in1k", marks=pytest.mark.slow),  # deep stem, avg-pool shortcut
    pytest.param("mmpretrain", "resnetv1d50_8xb32_in1k", marks=pytest.mark.slow),  # its own names (backbone.stem.k.bn, head.fc)
    pytest.param("gluoncv", "resnet18_v1b", marks=pytest.mark.slow),  # GluonCV's names, run in timm
    ("ppcls", "ResNet18_vd"),  # Paddle, PaddleClas's names
    pytest.param("gluon", "resnet18_v1", marks=pytest.mark.slow),  # MXNet, the model zoo's blocks
    pytest.param("gluon", "resnet50_v1", marks=pytest.mark.slow),  # its bottleneck (conv biases)
    # pre-activation: batch norms as Mul + Add, convolutions their own layers; its layers, found in the
    # canonical file and agreeing up to the altered layer3.0.conv2: test_divergence_sources' gluon-v2-canonical
    pytest.param("gluon", "resnet18_v2", marks=pytest.mark.slow),
    pytest.param("gluoncv", "resnet50_v2", marks=pytest.mark.slow),  # GluonCV's v2, its bottleneck
]


@pytest.mark.parametrize("source,model", LAYER_SOURCES)
def test_the_frameworks_layer_outputs_are_the_canonical_graphs_intermediates(source, model, tmp_path):
    """Every conv-BN unit of the framework's network is found in the canonical file by name and
    agrees with it; with one initializer of the file altered, that layer is the first divergence."""
    import dataclasses

    from zoocheck.checks.divergence import first_divergence_from_layers
    from zoocheck.converters.pipeline import convert, native_layer_outputs
    from zoocheck.families.resnet.canonical import layer_outputs

    entry = dataclasses.replace(get_entry(source, model), input_size=64)
    # in this process: the framework's outputs, not the child that computes them, are the subject
    conversion = convert(entry, output=tmp_path / "canonical.onnx", random_seed=3, graph="canonical", isolate=False)
    assert conversion.ok, conversion.failure
    batch = random_inputs(2, 64, seed=1)
    layers = native_layer_outputs(entry, None, 3, batch, isolate=False).layers
    assert layers is not None and list(layers) == [*layer_outputs(entry.arch), "logits"]
    graph_outputs = {n.output[0] for n in onnx.load(str(conversion.onnx_path)).graph.node}
    assert set(layers) <= graph_outputs
    assert first_divergence_from_layers(layers, conversion.onnx_path, batch, tolerance=1e-4) is None

    model_proto = onnx.load(str(conversion.onnx_path))
    for i, init in enumerate(model_proto.graph.initializer):
        if init.name == "layer3.0.conv2.weight":
            model_proto.graph.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * 1.5, init.name))
    altered = tmp_path / "altered.onnx"
    onnx.save(model_proto, str(altered))
    divergence = first_divergence_from_layers(layers, altered, batch, tolerance=1e-4)
    assert divergence is not None and divergence.node == "layer3.0.conv2" and divergence.nodes_compared > 10


def test_a_file_without_the_canonical_names_cannot_be_compared_with_the_layers(resnet18):
    from zoocheck.checks.divergence import first_divergence_from_layers

    with pytest.raises(DivergenceUnavailable, match="none of the framework's layers"):
        first_divergence_from_layers({"no.such.layer": np.zeros(1)}, resnet18, random_inputs(1, SIDE), tolerance=1e-4)
