"""The VGG and DenseNet families' canonical form: torchvision's and timm's networks of one id give
one canonical graph (one structure fingerprint, the same initializers from one common set of
random weights), the canonical file computes what the framework computes, and the graph rewrites
they need (timm's convolutional VGG classifier, torchvision's identity pool) are exact.

One DenseNet conversion at 32 pixels in the default suite, both sources at 64 slow; VGG reads a
7x7 map (224 pixels): slow."""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from conftest import assert_compare_identical, checked_layer_outputs, max_rel, run_model
from onnx import helper, numpy_helper

from zoocheck.checks.images import random_inputs
from zoocheck.converters.graph import canonical_fingerprint
from zoocheck.converters.graph.fingerprint import fingerprint
from zoocheck.converters.graph.rewrites import heads, shapes
from zoocheck.converters.normalize import read_metadata
from zoocheck.converters.pipeline import convert
from zoocheck.converters.weights import forward, random_weights
from zoocheck.zoo_registry import get_entry

SEED = 5
PARITY_TOL = 1e-5  # canonical file vs the framework's float64 forward, of the logit range
PAIRS = {
    "densenet121": (("torchvision", "densenet121"), ("timm", "densenet121.tv_in1k")),
    "vgg11": (("torchvision", "vgg11"), ("timm", "vgg11.tv_in1k")),
}


def _canonical_files(tmp_path, arch_id: str, size: int):
    """Both sources' canonical files of ``arch_id`` at ``size`` pixels, seed SEED: (entry, file,
    framework fp64 outputs) each, and the inputs."""
    batch = random_inputs(2, size, seed=1)
    out = []
    for source, name in PAIRS[arch_id]:
        entry = dataclasses.replace(get_entry(source, name), input_size=size)
        conversion = convert(entry, output=tmp_path / f"{source}.onnx", random_seed=SEED, inputs=batch, isolate=False)
        assert conversion.ok, conversion.failure
        out.append((entry, conversion.onnx_path, conversion.native_outputs_fp64))
    return out, batch


def _assert_one_canonical_graph(files, batch) -> None:
    (entry_a, path_a, _), (entry_b, path_b, _) = files
    assert entry_a.arch == entry_b.arch
    expected = canonical_fingerprint(entry_a.arch, 17)
    for entry, path, reference in files:
        assert read_metadata(path)["structure_fingerprint"] == fingerprint(onnx.load(str(path))) == expected
        outputs = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": batch})[0]
        assert max_rel(reference, outputs) <= PARITY_TOL, f"{entry.key}: canonical file vs its framework's fp64 forward"
    a = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path_a)).graph.initializer}
    b = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path_b)).graph.initializer}
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=0, atol=1e-6 * max(float(np.abs(a[name]).max()), 1e-12), err_msg=name)


def test_timm_densenet121_canonical_file_holds_parity_and_its_fingerprint(tmp_path):
    batch = random_inputs(2, 32, seed=1)
    entry = dataclasses.replace(get_entry("timm", "densenet121.tv_in1k"), input_size=32)
    conversion = convert(entry, output=tmp_path / "timm.onnx", random_seed=SEED, inputs=batch, isolate=False)
    assert conversion.ok, conversion.failure
    model = onnx.load(str(conversion.onnx_path))
    assert fingerprint(model) == canonical_fingerprint(entry.arch, 17)
    outputs = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"input": batch})[0]
    assert max_rel(conversion.native_outputs_fp64, outputs) <= PARITY_TOL


@pytest.mark.slow
def test_densenet121_from_torchvision_and_timm_is_one_canonical_graph(tmp_path):
    files, batch = _canonical_files(tmp_path, "densenet121", 64)
    _assert_one_canonical_graph(files, batch)
    ops = {n.op_type for n in onnx.load(str(files[0][1])).graph.node}
    assert "BatchNormalization" not in ops and "Concat" in ops


def test_densenet_numpy_forward_is_torchvisions():
    """The forward the random weights are calibrated by computes torchvision's DenseNet."""
    import torch
    import torchvision

    from zoocheck.converters.weights import to_layout

    arch = get_entry("torchvision", "densenet121").arch
    params = random_weights(arch, SEED, 32)
    network = torchvision.models.densenet121(weights=None).eval().double()
    missing, unexpected = network.load_state_dict(
        {k: torch.from_numpy(v) for k, v in to_layout(params, arch, "torchvision").items()}, strict=False
    )
    assert not unexpected and all(key.endswith("num_batches_tracked") for key in missing)
    x = random_inputs(2, 32, seed=2)
    with torch.no_grad():
        expected = network(torch.from_numpy(x).double()).numpy()
    assert max_rel(expected, forward(arch, params, x)) <= 1e-9
    # calibrated: the logits spread, and they differ from image to image
    assert np.ptp(expected, axis=1).min() > 1 and max_rel(expected[:1], expected[1:]) > 0.1


@pytest.mark.slow
def test_vgg11_from_torchvision_and_timm_is_one_canonical_graph(tmp_path):
    files, batch = _canonical_files(tmp_path, "vgg11", 224)
    _assert_one_canonical_graph(files, batch)


@pytest.mark.slow
@pytest.mark.parametrize("arch_id", sorted(PAIRS))
def test_compare_random_weights_says_identical(tmp_path, capsys, arch_id):
    assert_compare_identical(*(f"{source}:{name}" for source, name in PAIRS[arch_id]), tmp_path, capsys)


def test_vgg_at_another_input_size_is_refused_in_one_line(tmp_path, capsys):
    entry = dataclasses.replace(get_entry("torchvision", "vgg11"), input_size=64)
    conversion = convert(entry, output=tmp_path / "vgg.onnx", random_seed=SEED, isolate=False)
    assert not conversion.ok and "7x7 feature map" in conversion.failure.message


def _graph(nodes, weights: dict[str, np.ndarray], side: int):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["N", 4, side, side])],
        [helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_classifier_of_convolutions_over_the_whole_map_becomes_flatten_and_gemm():
    """timm's VGG head (a 7x7 conv on the 7x7 map, a 1x1 conv, a global pool of the one pixel)
    as torchvision's (Flatten, Linear layers): the same numbers; torchvision's identity pool goes."""
    rng = np.random.default_rng(0)
    weights = {"w1": rng.standard_normal((6, 4, 5, 5)), "b1": rng.standard_normal(6), "w2": rng.standard_normal((5, 6, 1, 1)),
               "w3": rng.standard_normal((3, 5)), "b3": rng.standard_normal(3)}  # fmt: skip
    nodes = [
        helper.make_node("AveragePool", ["input"], ["p"], kernel_shape=[1, 1], strides=[1, 1]),
        helper.make_node("Conv", ["p", "w1", "b1"], ["c1"], kernel_shape=[5, 5], pads=[0, 0, 0, 0]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], kernel_shape=[1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["logits"], transB=1),
    ]
    model = _graph(nodes, weights, 5)
    x = rng.standard_normal((2, 4, 5, 5)).astype(np.float32)
    expected = run_model(model, x)
    lifted = {"w1": weights["w1"].astype(np.float32)}  # as canonical.lift_weights leaves it
    heads.drop_identity_pools(model)
    heads.dense_convs_as_gemm(model, lifted)
    assert [n.op_type for n in model.graph.node] == ["Flatten", "Gemm", "Relu", "Gemm", "Relu", "Gemm"]
    assert lifted["w1"].shape == (6, 100)
    for tensor in model.graph.initializer:
        if tensor.name == "w1":
            tensor.CopyFrom(numpy_helper.from_array(lifted["w1"], "w1"))
    np.testing.assert_allclose(run_model(model, x), expected, rtol=1e-5, atol=1e-4)


def test_a_convolution_on_a_larger_map_is_left_alone():
    """A convolution that does not cover its whole input (MobileNet's 1x1 head on a 7x7 map) stays."""
    rng = np.random.default_rng(1)
    weights = {"w1": rng.standard_normal((6, 4, 1, 1)), "w3": rng.standard_normal((3, 6)), "b3": rng.standard_normal(3)}
    nodes = [
        helper.make_node("Conv", ["input", "w1"], ["c1"], kernel_shape=[1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("GlobalAveragePool", ["r1"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["logits"], transB=1),
    ]
    model = _graph(nodes, weights, 7)
    before = model.SerializeToString()
    heads.dense_convs_as_gemm(model, {})
    assert model.SerializeToString() == before


@pytest.mark.parametrize("source, name", [pair for pairs in PAIRS.values() for pair in pairs])
def test_every_layer_output_is_a_module_of_the_librarys_network(source, name):
    """``first_divergence``'s per-layer outputs name modules the library's network has (built on
    torch's meta device: the names without initialising a VGG's 133M weights)."""
    import torch

    with torch.device("meta"):
        checked_layer_outputs(source, name)


def test_chained_concatenations_and_a_whole_map_head_pool_take_torchvisions_form():
    """GluonCV's DenseNet (each layer's features appended to its input, ``AvgPool2D(7)`` on the 7x7
    map before the Flatten) as torchvision's: one Concat of every piece per layer, a global pool."""
    rng = np.random.default_rng(2)
    weights = {
        "w": rng.standard_normal((2, 4, 1, 1)),
        "v": rng.standard_normal((2, 6, 1, 1)),
        "fc": rng.standard_normal((3, 8)),
        "b": rng.standard_normal(3),
    }
    nodes = [
        helper.make_node("Conv", ["input", "w"], ["n0"], kernel_shape=[1, 1]),
        helper.make_node("Concat", ["input", "n0"], ["x1"], axis=1),
        helper.make_node("Conv", ["x1", "v"], ["n1"], kernel_shape=[1, 1]),
        helper.make_node("Concat", ["x1", "n1"], ["x2"], axis=1),
        helper.make_node("AveragePool", ["x2"], ["p"], kernel_shape=[5, 5]),
        helper.make_node("Flatten", ["p"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "fc", "b"], ["logits"], transB=1),
    ]
    model = _graph(nodes, weights, 5)
    x = rng.standard_normal((2, 4, 5, 5)).astype(np.float32)
    expected = run_model(model, x)
    shapes.flatten_concats(model)
    heads.head_pool_as_global(model)
    concats = [list(n.input) for n in model.graph.node if n.op_type == "Concat"]
    assert concats == [["input", "n0"], ["input", "n0", "n1"]]
    assert "GlobalAveragePool" in [n.op_type for n in model.graph.node]
    np.testing.assert_allclose(run_model(model, x), expected, rtol=1e-5, atol=1e-5)


def test_a_variant_the_family_does_not_draw_yet_stays_native():
    """timm's blur-pool DenseNet: no canonical graph (native by default, the reason where canonical
    is asked for), and the library's own random weights (``torch_random.randomize``)."""
    from zoocheck.converters.graph import NoCanonicalForm, has_canonical_form, resolve_form
    from zoocheck.converters.weights import has_canonical_weights

    arch = get_entry("timm", "densenetblur121d.ra_in1k").arch
    assert not has_canonical_form(arch) and not has_canonical_weights(arch)
    assert resolve_form(arch, None) == "native" and canonical_fingerprint(arch, 17) is None
    with pytest.raises(NoCanonicalForm, match="blur pool"):
        resolve_form(arch, "canonical")


def test_a_flatten_of_a_dense_layers_output_goes():
    """GluonCV's VGG head as MXNet exports it (a Flatten before every Dense): torchvision's form,
    one Flatten then Gemm, Relu, Gemm, the same numbers."""
    rng = np.random.default_rng(2)
    weights = {
        "w1": rng.standard_normal((6, 4 * 5 * 5)),
        "b1": rng.standard_normal(6),
        "w2": rng.standard_normal((3, 6)),
        "b2": rng.standard_normal(3),
    }
    nodes = [
        helper.make_node("Flatten", ["input"], ["f1"]),
        helper.make_node("Gemm", ["f1", "w1", "b1"], ["d1"], transB=1),
        helper.make_node("Relu", ["d1"], ["r1"]),
        helper.make_node("Flatten", ["r1"], ["f2"]),
        helper.make_node("Gemm", ["f2", "w2", "b2"], ["logits"], transB=1),
    ]
    model = _graph(nodes, weights, 5)
    x = rng.standard_normal((2, 4, 5, 5)).astype(np.float32)
    expected = run_model(model, x)
    heads.drop_flattens_of_matrices(model)
    assert [n.op_type for n in model.graph.node] == ["Flatten", "Gemm", "Relu", "Gemm"]
    np.testing.assert_allclose(run_model(model, x), expected, rtol=1e-5, atol=1e-5)
