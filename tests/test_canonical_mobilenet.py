"""The MobileNetV2 and MobileNetV3 families' canonical form: the numpy forward the random weights are
calibrated by computes torchvision's and timm's networks, torchvision's and timm's networks of one
id give one canonical graph (one structure fingerprint, the same initializers from one common set
of random weights), the exporters of every other source (mmpretrain, PaddleClas, GluonCV) are
matched onto the same template and parity passes on the canonical file, and the rewrites that bring
the exporters' activation and classifier forms to the canonical ones are exact.

Conversions at 64 pixels by default; every source's smallest entry, the larger pairs and
``compare --random-weights`` slow."""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from conftest import assert_compare_identical, checked_layer_outputs, error_beyond_fp32_noise, max_rel, run_model
from onnx import helper, numpy_helper

from zoocheck.checks.images import random_inputs
from zoocheck.converters.graph import canonical_fingerprint
from zoocheck.converters.graph.canonical import GraphMismatch, lift_weights, match, simplify
from zoocheck.converters.graph.fingerprint import fingerprint
from zoocheck.converters.graph.rewrites import activations, conformance, heads, onnx_graph, shapes
from zoocheck.converters.normalize import read_metadata
from zoocheck.converters.pipeline import convert
from zoocheck.converters.weights import forward, random_weights, to_layout
from zoocheck.zoo_registry import get_entry

SEED = 5
SIZE = 64
PARITY_TOL = 1e-5  # canonical file vs the framework's float64 forward beyond fp32 noise, of the logit range
#: entries of one id from torchvision and timm
PAIRS = {"mobilenet_v2_100": (("torchvision", "mobilenet_v2"), ("timm", "mobilenetv2_100.ra_in1k"))}


def _library_network(source: str, name: str):
    import timm
    import torchvision

    if source == "torchvision":
        return getattr(torchvision.models, name)(weights=None)
    return timm.create_model(name.split(".", 1)[0], pretrained=False)


FORWARD = [("torchvision", "mobilenet_v2"), ("timm", "mobilenetv2_050.lamb_in1k"), ("timm", "mobilenetv2_110d.ra_in1k"), ("torchvision", "mobilenet_v3_small"),
           ("timm", "mobilenetv3_small_050.lamb_in1k"), pytest.param("timm", "mobilenetv3_large_100.ra_in1k", marks=pytest.mark.slow)]  # fmt: skip


@pytest.mark.parametrize("source, name", FORWARD)
def test_numpy_forward_is_the_librarys(source, name):
    """The forward the random weights are calibrated by computes the library's network (loaded
    strictly through the family's layout), and the calibrated logits spread and tell inputs apart."""
    import torch

    arch = get_entry(source, name).arch
    params = random_weights(arch, SEED, 32)
    network = _library_network(source, name).eval().double()
    missing, unexpected = network.load_state_dict(
        {k: torch.from_numpy(v) for k, v in to_layout(params, arch, source).items()}, strict=False
    )
    assert not unexpected and all(key.endswith("num_batches_tracked") for key in missing)
    x = random_inputs(2, 32, seed=2)
    with torch.no_grad():
        expected = network(torch.from_numpy(x).double()).numpy()
    assert max_rel(expected, forward(arch, params, x)) <= 1e-9
    assert np.ptp(expected, axis=1).min() > 1 and max_rel(expected[:1], expected[1:]) > 0.1


def _canonical_file(tmp_path, source: str, name: str, batch: np.ndarray, opset: int = 17):
    entry = dataclasses.replace(get_entry(source, name), input_size=batch.shape[-1])
    conversion = convert(entry, output=tmp_path / f"{source}-{opset}.onnx", random_seed=SEED, inputs=batch, isolate=False, opset=opset)
    assert conversion.ok, conversion.failure
    path = conversion.onnx_path
    assert read_metadata(path)["graph"] == "canonical"
    assert read_metadata(path)["structure_fingerprint"] == fingerprint(onnx.load(str(path))) == canonical_fingerprint(entry.arch, opset)
    outputs = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": batch})[0]
    if conversion.native_outputs_fp64 is None:
        return entry, path, max_rel(conversion.native_outputs, outputs)
    return entry, path, error_beyond_fp32_noise(conversion, outputs)


def _initializers(path) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}


@pytest.mark.parametrize("arch_id", [pytest.param(a, marks=pytest.mark.slow if a != "mobilenet_v2_100" else ()) for a in PAIRS])
def test_torchvision_and_timm_give_one_canonical_graph(tmp_path, arch_id):
    """Both libraries' networks of one id: the template's fingerprint, parity with the framework's
    fp64 forward, and the same initializers from the one common random set."""
    batch = random_inputs(2, SIZE, seed=1)
    files = [_canonical_file(tmp_path, source, name, batch) for source, name in PAIRS[arch_id]]
    assert files[0][0].arch == files[1][0].arch
    for entry, _, error in files:
        assert error <= PARITY_TOL, entry.key
    a, b = (_initializers(path) for _, path, _ in files)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=0, atol=1e-6 * max(float(np.abs(a[name]).max()), 1e-12), err_msg=name)


# (source, model, opset): every exporter's graph of a small entry matched onto the template
EXPORTERS = [
    pytest.param("mmpretrain", "mobilenet-v2_8xb32_in1k", 17, id="mmpretrain-v2"),
    pytest.param("ppcls", "MobileNetV2_x0_25", 11, id="ppcls-v2", marks=pytest.mark.slow),  # at 17: the parity test below
    pytest.param("gluoncv", "mobilenetv2_0.25", 17, id="gluoncv-v2"),
    pytest.param("torchvision", "mobilenet_v2", 9, id="torchvision-v2-opset9", marks=pytest.mark.slow),
    pytest.param("ppcls", "MobileNetV2_x0_5", 7, id="ppcls-v2-opset7", marks=pytest.mark.slow),
    pytest.param("timm", "mobilenetv2_110d.ra_in1k", 13, id="timm-v2-110d", marks=pytest.mark.slow),
    # MobileNetV3: torch.onnx's HardSwish (13: HardSigmoid + Mul), timm's SE mean as ReduceMean
    # (axes an input from 18), paddle2onnx's HardSigmoid + Mul below 14, its 0.2-slope gate and
    # dropout scale, GluonCV's clip(x + 3, 0, 6) / 6
    pytest.param("mmpretrain", "mobilenet-v3-small-050_3rdparty_in1k", 17, id="mmpretrain-v3"),
    pytest.param("ppcls", "MobileNetV3_small_x0_35", 11, id="ppcls-v3-opset11"),
    pytest.param("gluoncv", "mobilenetv3_small", 13, id="gluoncv-v3-opset13"),
    pytest.param("timm", "mobilenetv3_small_075.lamb_in1k", 18, id="timm-v3-opset18"),
    pytest.param("torchvision", "mobilenet_v3_large", 13, id="torchvision-v3-opset13", marks=pytest.mark.slow),
    pytest.param("gluoncv", "mobilenetv3_large", 17, id="gluoncv-v3-large", marks=pytest.mark.slow),
    pytest.param("ppcls", "MobileNetV3_large_x0_5", 9, id="ppcls-v3-opset9", marks=pytest.mark.slow),
    pytest.param("timm", "mobilenetv3_large_100.ra_in1k", 17, id="timm-v3-large", marks=pytest.mark.slow),
]


def test_one_id_from_torchvision_and_mmpretrain_is_one_canonical_graph(tmp_path):
    """torchvision's MobileNetV3-small and mmpretrain's (its network, its own random weights): the
    same canonical structure, each computing what its framework computes."""
    batch = random_inputs(2, SIZE, seed=1)
    files = [
        _canonical_file(tmp_path, source, name, batch)
        for source, name in (("torchvision", "mobilenet_v3_small"), ("mmpretrain", "mobilenet-v3-small_8xb128_in1k"))
    ]
    assert files[0][0].arch == files[1][0].arch
    assert fingerprint(onnx.load(str(files[0][1]))) == fingerprint(onnx.load(str(files[1][1])))
    assert all(error <= PARITY_TOL for _, _, error in files)


def test_variants_not_drawn_yet_stay_native():
    """timm's TF ports ('same' padding), its mobilenetv3_rw and its deeper 150d: no canonical graph
    (native by default, the reason where canonical is asked for) and the library's own random weights."""
    from zoocheck.converters.graph import NoCanonicalForm, has_canonical_form, resolve_form
    from zoocheck.converters.weights import has_canonical_weights

    for name, reason in (
        ("tf_mobilenetv3_small_100.in1k", "same"),
        ("mobilenetv3_rw.rmsp_in1k", "large_rw"),
        ("mobilenetv3_large_150d.ra4_e3600_r256_in1k", "depth"),
    ):
        arch = get_entry("timm", name).arch
        assert not has_canonical_form(arch) and not has_canonical_weights(arch) and resolve_form(arch, None) == "native"
        with pytest.raises(NoCanonicalForm, match=reason):
            resolve_form(arch, "canonical")


def test_paddleclas_scales_expanded_channels_where_timm_multiplies_ratios():
    """At width 0.75 PaddleClas's blocks expand to the table's channels times 0.75, timm's to their
    input times the table's ratio: other networks, other ids; at width 1.0 the same."""
    from zoocheck.families.mobilenet_v3.names import paddleclas, timm

    assert paddleclas("MobileNetV3_small_x0_75").expansion == "scaled" and timm("mobilenetv3_small_075").expansion == "ratio"
    assert paddleclas("MobileNetV3_small_x1_0").expansion == "ratio"
    assert paddleclas("MobileNetV3_small_x0_75").id.endswith("_expandscaled")


@pytest.mark.parametrize("source, name, opset", EXPORTERS)
def test_every_exporters_graph_is_the_canonical_one(tmp_path, source, name, opset):
    """The source's own random weights through its exporter (torch.onnx, paddle2onnx, mxnet.onnx),
    made canonical: the template's fingerprint, and the file computes what the framework does
    (MXNet has no fp64 forward: two fp32 computations, a looser bound)."""
    _, _, error = _canonical_file(tmp_path, source, name, random_inputs(2, SIZE, seed=1), opset)
    assert error <= (1e-4 if source == "gluoncv" else PARITY_TOL)


@pytest.mark.slow
@pytest.mark.parametrize("arch_id", sorted(PAIRS))
def test_compare_random_weights_says_identical(tmp_path, capsys, arch_id):
    assert_compare_identical(*(f"{source}:{name}" for source, name in PAIRS[arch_id]), tmp_path, capsys)


def test_parity_of_the_default_graph_is_canonical(tmp_path):
    """A MobileNetV2 converted with no graph form asked for (``zoocheck parity``'s default: the CLI
    passes its ``--graph``, None, to ``convert``) is the canonical graph, and it computes what
    PaddleClas computes. In process at 64 px: the parity command's own path is test_paddle_families'."""
    _, _, error = _canonical_file(tmp_path, "ppcls", "MobileNetV2_x0_25", random_inputs(2, SIZE, seed=1))
    assert error <= PARITY_TOL


@pytest.mark.parametrize("source, name", [pair for pairs in PAIRS.values() for pair in pairs])
def test_every_layer_output_is_a_module_of_the_librarys_network(source, name):
    """``first_divergence``'s per-layer outputs name modules the library's network has."""
    checked_layer_outputs(source, name)


# --- rewrites and matching on small synthetic graphs -------------------------------------------


def _graph(nodes, weights: dict[str, np.ndarray], side: int, channels: int = 4, opset: int = 17, classes: int = 3):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["N", channels, side, side])],
        [helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["N", classes])],
        [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in weights.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_a_pointwise_classifier_on_the_pooled_map_becomes_flatten_and_gemm():
    """GluonCV's classifier (a 1x1 conv without bias on the pooled map, then Flatten) as the
    canonical head: Flatten, then Gemm with the weight [classes, features] and a zero bias."""
    rng = np.random.default_rng(0)
    weights = {"w": rng.standard_normal((3, 4, 1, 1))}
    nodes = [
        helper.make_node("GlobalAveragePool", ["input"], ["g"]),
        helper.make_node("Conv", ["g", "w"], ["c"], kernel_shape=[1, 1]),
        helper.make_node("Flatten", ["c"], ["logits"], axis=1),
    ]
    model = _graph(nodes, weights, 5)
    x = rng.standard_normal((2, 4, 5, 5)).astype(np.float32)
    expected = run_model(model, x)
    lifted = {"w": weights["w"].astype(np.float32)}
    heads.pointwise_classifier_as_gemm(model, lifted)
    assert [n.op_type for n in model.graph.node] == ["GlobalAveragePool", "Flatten", "Gemm"]
    assert lifted["w"].shape == (3, 4)
    for tensor in model.graph.initializer:
        if tensor.name == "w":
            tensor.CopyFrom(numpy_helper.from_array(lifted["w"], "w"))
    np.testing.assert_allclose(run_model(model, x), expected, rtol=1e-5, atol=1e-6)


def test_a_pointwise_conv_on_a_larger_map_is_left_alone():
    rng = np.random.default_rng(1)
    nodes = [helper.make_node("Conv", ["input", "w"], ["c"], kernel_shape=[1, 1]), helper.make_node("Flatten", ["c"], ["logits"], axis=1)]
    model = _graph(nodes, {"w": rng.standard_normal((3, 4, 1, 1))}, 3, classes=27)
    before = model.SerializeToString()
    heads.pointwise_classifier_as_gemm(model, {})
    assert model.SerializeToString() == before


def test_small_convolutions_of_one_shape_keep_their_own_weights():
    """Lifted weights leave data-less stand-ins; onnxslim's weight tying must not merge two small
    convolutions' stand-ins of one shape (a width-0.25 MobileNet's depthwise convs did)."""
    rng = np.random.default_rng(2)
    weights = {
        "w1": rng.standard_normal((4, 1, 3, 3)),
        "w2": rng.standard_normal((4, 1, 3, 3)),
        "fc": rng.standard_normal((3, 4)),
        "b": np.zeros(3),
    }
    nodes = [
        helper.make_node("Conv", ["input", "w1"], ["c1"], group=4, kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["c1", "w2"], ["c2"], group=4, kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("GlobalAveragePool", ["c2"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "fc", "b"], ["logits"], transB=1),
    ]
    model, lifted = lift_weights(_graph(nodes, weights, 6))
    simplified = simplify(model, lifted)
    assert [n.input[1] for n in simplified.graph.node if n.op_type == "Conv"] == ["w1", "w2"]


def _clip_model(high: float, opset: int):
    """input -> Conv -> Clip(0, high) -> pool -> Flatten -> Gemm, the bounds as the opset writes them."""
    rng = np.random.default_rng(3)
    weights = {"w": rng.standard_normal((4, 4, 1, 1)), "wb": np.zeros(4), "fc": rng.standard_normal((3, 4)), "b": np.zeros(3)}
    if opset >= onnx_graph.CLIP_INPUTS_OPSET:
        weights.update({"lo": np.float32(0.0), "hi": np.float32(high)})
        clip = helper.make_node("Clip", ["c", "lo", "hi"], ["r"])
    else:
        clip = helper.make_node("Clip", ["c"], ["r"], min=0.0, max=high)
    nodes = [helper.make_node("Conv", ["input", "w", "wb"], ["c"], kernel_shape=[1, 1]), clip, helper.make_node("GlobalAveragePool", ["r"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"], axis=1), helper.make_node("Gemm", ["f", "fc", "b"], ["logits"], transB=1)]  # fmt: skip
    model = _graph(nodes, weights, 5, opset=opset)
    conformance.name_nodes(model)
    return model


@pytest.mark.parametrize("opset", [9, 17])
def test_clip_bounds_are_part_of_the_structure(opset):
    """A Clip's bounds are matched by value (inputs from opset 11, attributes before): Clip(0, 5)
    is not the canonical ReLU6."""
    assert match(_clip_model(6.0, opset), _clip_model(6.0, opset))
    with pytest.raises(GraphMismatch):
        match(_clip_model(6.0, opset), _clip_model(5.0, opset))


def _activation_model(nodes, weights, opset: int, channels: int = 4):
    """input [N, C, 3, 3] -> ``nodes`` (reading 'input', writing 'y') -> pool -> Flatten -> Gemm."""
    rng = np.random.default_rng(4)
    weights = {**weights, "fc": rng.standard_normal((3, channels)), "b": np.zeros(3)}
    nodes = [*nodes, helper.make_node("GlobalAveragePool", ["y"], ["g"]), helper.make_node("Flatten", ["g"], ["f"], axis=1),
             helper.make_node("Gemm", ["f", "fc", "b"], ["logits"], transB=1)]  # fmt: skip
    model = _graph(nodes, weights, 3, channels=channels, opset=opset)
    conformance.name_nodes(model)
    return model


def _relu6_plus_3(x: str, out: str, opset: int) -> list:
    bounds = ["zero", "six"] if opset >= onnx_graph.CLIP_INPUTS_OPSET else []
    attrs = {} if bounds else {"min": 0.0, "max": 6.0}
    return [helper.make_node("Add", [x, "three"], [f"{out}.add"]), helper.make_node("Clip", [f"{out}.add", *bounds], [out], **attrs)]


CONSTANTS = {"three": np.float32([3.0]), "six": np.float32(6.0), "zero": np.float32(0.0), "sixth": np.float32([1 / 6])}


@pytest.mark.parametrize("opset", [11, 13, 17])
def test_clip_forms_of_hard_sigmoid_and_hardswish_become_the_canonical_ops(opset):
    """GluonCV's ``x * (clip(x + 3, 0, 6) / 6)`` (Div) and ``clip(x + 3, 0, 6) * (1/6)`` gate, and
    the product form ``x * clip(x + 3, 0, 6) / 6``: HardSigmoid(1/6, 0.5), then Mul(x, HardSigmoid(x)),
    which is ONNX's HardSwish from opset 14; the same numbers."""
    nodes = [*_relu6_plus_3("input", "r1", opset), helper.make_node("Div", ["r1", "six"], ["h1"]), helper.make_node("Mul", ["input", "h1"], ["s1"]),
             *_relu6_plus_3("s1", "r2", opset), helper.make_node("Mul", ["r2", "sixth"], ["h2"]), helper.make_node("Mul", ["s1", "h2"], ["s2"]),
             *_relu6_plus_3("s2", "r3", opset), helper.make_node("Mul", ["s2", "r3"], ["p3"]), helper.make_node("Div", ["p3", "six"], ["y"])]  # fmt: skip
    model = _activation_model(nodes, CONSTANTS, opset)
    x = np.random.default_rng(5).uniform(-5, 5, (2, 4, 3, 3)).astype(np.float32)
    expected = run_model(model, x)
    shapes.scalar_constants(model)
    activations.hard_sigmoid_from_clip(model)
    activations.hardswish_op(model)
    ops = [n.op_type for n in model.graph.node]
    assert "Clip" not in ops and "Div" not in ops and "Add" not in ops
    assert ops.count("HardSwish") == (3 if opset >= onnx_graph.HARDSWISH_OPSET else 0)
    assert ops.count("HardSigmoid") == (0 if opset >= onnx_graph.HARDSWISH_OPSET else 3)
    np.testing.assert_allclose(run_model(model, x), expected, rtol=1e-5, atol=1e-5)


def test_other_constants_are_not_a_hard_sigmoid():
    """Exact patterns only: clip(x + 2, 0, 6) / 6 stays as it is."""
    nodes = [*_relu6_plus_3("input", "r", 17), helper.make_node("Div", ["r", "six"], ["y"])]
    model = _activation_model(nodes, {**CONSTANTS, "three": np.float32([2.0])}, 17)
    before = [n.op_type for n in model.graph.node]
    activations.hard_sigmoid_from_clip(model)
    assert [n.op_type for n in model.graph.node] == before


@pytest.mark.parametrize("opset", [17, 18])
def test_a_spatial_mean_keeping_dims_becomes_a_global_pool(opset):
    """timm's SE squeeze ``x.mean((2, 3), keepdim=True)``: ReduceMean (axes an attribute, an input
    from opset 18) as GlobalAveragePool; a mean over other axes stays."""
    if opset >= 18:
        mean = helper.make_node("ReduceMean", ["input", "axes"], ["m"], keepdims=1)
        weights = {"axes": np.array([2, 3], np.int64)}
    else:
        mean, weights = helper.make_node("ReduceMean", ["input"], ["m"], axes=[2, 3], keepdims=1), {}
    model = _activation_model([mean, helper.make_node("Mul", ["input", "m"], ["y"])], {}, opset)
    for name, value in weights.items():
        model.graph.initializer.append(numpy_helper.from_array(value, name))
    x = np.random.default_rng(6).standard_normal((2, 4, 3, 3)).astype(np.float32)
    expected = run_model(model, x)
    heads.reduce_mean_as_global_pool(model)
    assert [n.op_type for n in model.graph.node][:2] == ["GlobalAveragePool", "Mul"]
    np.testing.assert_allclose(run_model(model, x), expected, rtol=1e-5, atol=1e-6)
    other = _activation_model(
        [helper.make_node("ReduceMean", ["input"], ["m"], axes=[1, 3], keepdims=1), helper.make_node("Mul", ["input", "m"], ["y"])], {}, 17
    )
    heads.reduce_mean_as_global_pool(other)
    assert other.graph.node[0].op_type == "ReduceMean"


def test_paddles_scaled_dropout_and_flatten_reshape_take_the_canonical_form():
    """PaddleClas's head: ``Mul(h, [0.8])`` (a one-element tensor) and a Reshape to [0, -1] of the
    one-pixel map: a scalar Mul and Flatten(axis=1), the same numbers."""
    nodes = [helper.make_node("GlobalAveragePool", ["input"], ["g"]), helper.make_node("Mul", ["g", "scale"], ["s"]),
             helper.make_node("Reshape", ["s", "shape"], ["f"]), helper.make_node("Gemm", ["f", "fc", "b"], ["logits"], transB=1)]  # fmt: skip
    rng = np.random.default_rng(7)
    model = _graph(nodes, {"scale": np.float32([0.8]), "fc": rng.standard_normal((3, 4)), "b": np.zeros(3)}, 3)
    model.graph.initializer.append(numpy_helper.from_array(np.array([0, -1], np.int64), "shape"))
    x = rng.standard_normal((2, 4, 3, 3)).astype(np.float32)
    expected = run_model(model, x)
    shapes.scalar_constants(model)
    heads.flatten_pooled_reshape(model)
    assert [n.op_type for n in model.graph.node] == ["GlobalAveragePool", "Mul", "Flatten", "Gemm"]
    assert [list(t.dims) for t in model.graph.initializer if t.name == model.graph.node[1].input[1]] == [[]]
    np.testing.assert_allclose(run_model(model, x), expected, rtol=1e-6, atol=1e-6)
