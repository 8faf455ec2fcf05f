"""Where a fresh conversion's failure starts, beyond canonical graphs of v1 networks: pre-activation
(v2) ResNets, native graphs, the ONNX model zoo's files, MXNet export pairs; and the one line a
parity failure carries where the framework gives no per-layer outputs (a PaddleClas inference
model).

The failures are made on purpose by test-only sources whose exporter writes one initializer
scaled by 1.5 (``wrong_initializer_converter``): MXNet names the weight of resnet18_v2's
``layer3.0.conv2`` ``..._stage3_conv1_weight`` (a BasicBlockV2 builds conv1, conv2, then its
projection: stage 3's convolutions 0, 1, 2), so that layer is where the file starts to be wrong."""

from __future__ import annotations

import json

import pytest

from zoocheck.converters.base import FrameworkUnavailable
from zoocheck.converters.mxnet_compat import import_mxnet
from zoocheck.sources import Framework, Source

try:
    import_mxnet()
except FrameworkUnavailable as exc:  # pragma: no cover - the project environment has mxnet
    pytest.skip(str(exc), allow_module_level=True)

from zoocheck.cli import main  # noqa: E402
from zoocheck.reports.lines import parity_line  # noqa: E402
from zoocheck.store import ResultsStore  # noqa: E402

_MXNET = Framework("mxnet", extra="mxnet", importer="zoocheck.converters.mxnet_compat:import_mxnet")
WRONG_GLUON = Source(
    name="wrong-gluon",
    registry="wrong_gluon_entries",
    converter="wrong_initializer_converter:WrongGluonConverter",
    frameworks=(_MXNET,),
    runtime="mxnet",
    title="a test-only Gluon source whose export is wrong in one initializer",
    order=52,
)
WRONG_ONNX_ZOO = Source(
    name="wrong-onnx-zoo",
    registry="wrong_onnx_zoo_entries",
    converter="wrong_initializer_converter:WrongOnnxZooConverter",
    frameworks=(
        Framework("onnx"),
        Framework("onnxruntime"),
        Framework("mxnet", extra="mxnet", needed="random-weights", importer=_MXNET.importer),
    ),
    runtime="onnxruntime",
    title="a test-only ONNX-zoo source whose export is wrong in one initializer",
    order=53,
)
#: the exporter's name (MXNet's) of resnet18_v2's layer3.0.conv2 weight, prefix aside
WRONG_WEIGHT = "_stage3_conv1_weight"
#: the layers before layer3.0.conv2 in the canonical v2 graph: stem.bn0, stem.conv1, then per block
#: bn1 + conv1 + conv2 (+ downsample.conv in the first blocks of stages 2 and 3) ... layer3.0.conv1
AGREEING = 17


@pytest.fixture
def wrong_sources(registered_source, monkeypatch):
    import wrong_initializer_converter

    registered_source(WRONG_GLUON)
    registered_source(WRONG_ONNX_ZOO)
    monkeypatch.setenv(wrong_initializer_converter.INITIALIZER, WRONG_WEIGHT)


def _parity(argv, capsys, tmp_path) -> dict:
    results = tmp_path / "results"
    code = main(["parity", *argv, "--results", str(results), "--output", str(tmp_path / "out.onnx"), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 1 and result["status"] == "failed", result
    [stored] = ResultsStore(results).results("parity")
    assert stored.first_divergence is not None and stored.first_divergence.node == result["first_divergence"]["node"]
    assert stored.first_divergence.layer == result["first_divergence"]["layer"]
    return result


def _export_pair(tmp_path):
    """resnet18_v2 with seeded random weights as MXNet's ``export`` pair (symbol + params)."""
    from zoocheck.converters.gluon import write_gluon_params
    from zoocheck.converters.weights import random_weights
    from zoocheck.zoo_registry import get_entry

    entry = get_entry("wrong-gluon", "resnet18_v2")
    return write_gluon_params(entry, random_weights(entry.arch, 5, entry.input_size), tmp_path / "pair")


CASES = [
    # the v2 network in MXNet: its batch norms' and convolutions' hooks
    pytest.param("wrong-gluon", "resnet18_v2", "random", "canonical", id="gluon-v2-canonical"),
    # the zoo file's own tensors, run as published, against a native file's
    pytest.param("wrong-onnx-zoo", "resnet18-v2-7", "random", "native", id="onnx-zoo-native"),
    pytest.param("wrong-onnx-zoo", "resnet18-v2-7", "random", "canonical", id="onnx-zoo-canonical", marks=pytest.mark.slow),
    # a SymbolBlock: the symbol's internal outputs
    pytest.param("wrong-gluon", "resnet18_v2", "pair", "canonical", id="export-pair-canonical"),
    pytest.param("wrong-gluon", "resnet18_v2", "pair", "native", id="export-pair-native", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("source,model,weights,graph", CASES)
def test_a_fresh_conversion_wrong_in_one_weight_names_that_layer(wrong_sources, tmp_path, capsys, source, model, weights, graph):
    given = ["--random-weights"] if weights == "random" else ["--weights", str(_export_pair(tmp_path))]
    result = _parity(["--src", source, "--model", model, *given, "--graph", graph], capsys, tmp_path)
    divergence = result["first_divergence"]
    assert divergence["nodes_compared"] == AGREEING and divergence["max_rel_err"] > 10 * result["tolerance"]["max_rel_err"]
    assert divergence["op_type"] == "Conv"
    if graph == "canonical":
        assert (divergence["node"], divergence["layer"]) == ("layer3.0.conv2", None)
        assert "layer3.0.conv2.weight" in divergence["initializers"]
    else:  # the native file's own node, which reads the scaled weight, and the layer it is
        assert divergence["layer"] == "layer3.0.conv2"
        assert [w for w in divergence["initializers"] if w.endswith(WRONG_WEIGHT)], divergence["initializers"]
        import onnx

        nodes = {n.name: n for n in onnx.load(str(tmp_path / "out.onnx")).graph.node}
        assert divergence["output"] in nodes[divergence["node"]].output
    assert result["divergence_note"] is None


def test_the_right_export_of_a_v2_network_passes(wrong_sources, tmp_path, capsys, monkeypatch):
    """The counterpart: without the scaled weight the same conversion passes (the test double
    itself is right)."""
    import wrong_initializer_converter

    monkeypatch.delenv(wrong_initializer_converter.INITIALIZER)
    argv = ["parity", "--src", "wrong-gluon", "--model", "resnet18_v2", "--random-weights", "--results", str(tmp_path / "r"), "--json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["first_divergence"] is None


def test_a_paddle_inference_model_says_in_one_line_why_no_divergence_is_located(tmp_path, capsys):
    """Paddle's predictor hands out no intermediate tensors: a failed parity (here by a tolerance
    below fp32's rounding, which the inference model has no fp64 forward to tell apart) names no
    node and says why in one line, in the JSON, the stored record and the summary."""
    pytest.importorskip("paddle")
    from conftest import at_size, random_checkpoint

    from zoocheck.zoo_registry import get_entry

    folder = random_checkpoint(at_size(get_entry("ppcls", "ResNet18_vd"), 64), tmp_path / "ResNet18_vd_infer", 5, fmt="paddle-inference")
    results = tmp_path / "results"
    argv = ["parity", "--src", "ppcls", "--model", "ResNet18_vd", "--weights", str(folder), "--max-rel-err", "1e-12"]
    assert main([*argv, "--results", str(results), "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    note = result["divergence_note"]
    assert result["status"] == "failed" and result["first_divergence"] is None
    assert "\n" not in note and "Traceback" not in note and "paddle.inference's predictor" in note
    [stored] = ResultsStore(results).results("parity")
    assert stored.divergence_note == note
    assert parity_line(stored).endswith(f"first divergence not located: {note}")
    # the report's architecture page says it beside the parity table
    import html

    site = tmp_path / "site"
    assert main(["report", "--results", str(results), "--output", str(site)]) == 0
    pages = [html.unescape(p.read_text(encoding="utf-8")) for p in site.rglob("*.html")]
    assert any(f"first divergence not located: {note}" in page for page in pages)
