"""The EfficientNet family's canonical form: the numpy forward is torchvision's and timm's network
(TF "same" padding included), every source's export of efficientnet_b0 becomes the one canonical
graph of its id (torchvision, timm and its ``tf_`` port, mmpretrain, PaddleClas), which computes
what the framework computes, and the rewrites it needs (run-time "same" pads, SE's ReduceMean)
are exact.

Conversions at 64 pixels; the default suite converts timm's tf_efficientnet_b0 and torchvision's
efficientnet_b0, the other sources and ``compare --random-weights`` are slow."""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from conftest import assert_compare_identical, checked_layer_outputs, error_beyond_fp32_noise, max_rel, run_model
from onnx import helper, numpy_helper

from zoocheck.converters.graph import NoCanonicalForm, canonical_fingerprint, resolve_form, template_for
from zoocheck.converters.graph.canonical import simplify
from zoocheck.converters.graph.fingerprint import fingerprint
from zoocheck.converters.graph.rewrites.heads import reduce_mean_as_global_pool
from zoocheck.converters.graph.rewrites.pads import static_pads
from zoocheck.converters.normalize import read_metadata
from zoocheck.converters.pipeline import convert
from zoocheck.converters.weights import forward, random_weights, to_layout
from zoocheck.converters.weights.random import calibration_batch
from zoocheck.zoo_registry import get_entry

SEED = 5
SIZE = 64
PARITY_TOL = 1e-5  # canonical file vs the framework's float64 forward beyond fp32 noise, of the logit range
B0 = {"torchvision": "efficientnet_b0", "timm": "efficientnet_b0.ra_in1k"}
B0_SAME = {"timm": "tf_efficientnet_b0.in1k", "mmpretrain": "efficientnet-b0_3rdparty_8xb32_in1k", "ppcls": "EfficientNetB0"}


def _convert(tmp_path, source: str, name: str, size: int = SIZE, tol: float = PARITY_TOL):
    """``source``'s canonical file of ``name`` at ``size`` pixels (seed SEED), checked: its
    fingerprint is the template's at that size and it computes the framework's fp64 forward
    (within ``tol`` of the logit range beyond fp32 noise)."""
    entry = dataclasses.replace(get_entry(source, name), input_size=size)
    batch = calibration_batch(11, size, 2)  # photo-like, as the random weights are calibrated on
    conversion = convert(entry, output=tmp_path / f"{source}.onnx", random_seed=SEED, inputs=batch, isolate=False)
    assert conversion.ok, conversion.failure
    model = onnx.load(str(conversion.onnx_path))
    assert read_metadata(conversion.onnx_path)["graph"] == "canonical"
    assert fingerprint(model) == canonical_fingerprint(entry.arch, 17, size)
    outputs = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"input": batch})[0]
    assert error_beyond_fp32_noise(conversion, outputs) <= tol, f"{entry.key}: canonical file vs its framework's fp64 forward"
    return entry, model


@pytest.mark.parametrize(
    "source, name",
    [("torchvision", "efficientnet_b0"), ("timm", "tf_efficientnet_b0"), ("timm", "efficientnet_lite0"), ("timm", "tf_efficientnet_lite0")],
)
def test_numpy_forward_is_the_librarys_network(source, name):
    """The forward the random weights are calibrated by computes torchvision's / timm's network
    from the canonical weights under the library's names (TF "same" padding at 64 px, ReLU6)."""
    check_numpy_forward(source, name)


def check_numpy_forward(source: str, name: str, size: int = SIZE, fp32_tol: float = 1e-4) -> None:
    """The family's numpy forward of calibrated random weights (seed SEED) at ``size`` pixels is
    the library's float64 network, the fp32 forward within ``fp32_tol`` of it, the logits spread."""
    import timm
    import torch
    import torchvision

    from zoocheck.converters import converter_for

    entry = converter_for(source).resolve(name)
    params = random_weights(entry.arch, SEED, size)
    network = (torchvision.models.get_model(name) if source == "torchvision" else timm.create_model(name)).eval().double()
    missing, unexpected = network.load_state_dict(
        {k: torch.from_numpy(v) for k, v in to_layout(params, entry.arch, source).items()}, strict=False
    )
    assert not unexpected and all(key.endswith("num_batches_tracked") for key in missing)
    x = calibration_batch(2, size, 2)
    with torch.no_grad():
        expected = network(torch.from_numpy(x).double()).numpy()
    assert max_rel(expected, forward(entry.arch, params, x)) <= 1e-9
    # calibrated: fp32 close to fp64, the logits spread, and they differ from image to image
    assert max_rel(expected, forward(entry.arch, params, x, dtype=np.float32)) <= fp32_tol
    assert np.ptp(expected, axis=1).min() > 1 and max_rel(expected[:1], expected[1:]) > 0.1


@pytest.mark.parametrize("source", ["torchvision", pytest.param("timm", marks=pytest.mark.slow)])
def test_efficientnet_b0_canonical_file(tmp_path, source):
    _, model = _convert(tmp_path, source, B0[source])
    ops = {n.op_type for n in model.graph.node}
    assert ops == {"Conv", "Sigmoid", "Mul", "GlobalAveragePool", "Add", "Flatten", "Gemm"}


@pytest.mark.parametrize(
    "source", ["timm", pytest.param("mmpretrain", marks=pytest.mark.slow), pytest.param("ppcls", marks=pytest.mark.slow)]
)
def test_same_padding_b0_canonical_file_has_the_pads_at_its_input_size(tmp_path, source):
    """timm's tf_ port (Pad/Ceil/Cast/Shape chains at opset 17), mmpretrain's Conv2dAdaptivePadding
    and PaddleClas's SAME padding: TF's pads on the strided convolutions themselves, the input
    declared at its size, one fingerprint for the id."""
    entry, model = _convert(tmp_path, source, B0_SAME[source])
    assert entry.arch.id == "efficientnet_b0_bneps1e-3_samepad"
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[2:]] == [SIZE, SIZE]
    pads = {n.name: list(helper.get_attribute_value(a)) for n in model.graph.node for a in n.attribute if a.name == "pads"}
    # 64 -> 32 -> 16 -> 8 -> 4: even sizes everywhere, so the odd pixel of TF's padding is after
    assert pads["stem.conv"] == [0, 0, 1, 1] and pads["stage2.0.dw"] == [0, 0, 1, 1] and pads["stage3.0.dw"] == [1, 1, 2, 2]
    assert {n.op_type for n in model.graph.node} == {"Conv", "Sigmoid", "Mul", "GlobalAveragePool", "Add", "Flatten", "Gemm"}


def test_same_padding_depends_on_the_input_size():
    """At 260 px (B2's size) the third and fourth strided convs see 65 and 33 pixels: TF pads them
    symmetrically; the graph of another size is another structure; without a size there is none."""
    arch = get_entry("timm", "tf_efficientnet_b2.in1k").arch
    pads = {
        n.name: list(helper.get_attribute_value(a)) for n in template_for(arch, 17, 260).graph.node for a in n.attribute if a.name == "pads"
    }
    assert (
        pads["stem.conv"] == pads["stage2.0.dw"] == [0, 0, 1, 1]
        and pads["stage3.0.dw"] == [2, 2, 2, 2]
        and pads["stage4.0.dw"] == [1, 1, 1, 1]
    )
    assert canonical_fingerprint(arch, 17, 260) != canonical_fingerprint(arch, 17, 256)
    assert canonical_fingerprint(arch, 17) is None
    with pytest.raises(NoCanonicalForm, match="depends on the input size"):
        template_for(arch, 17)
    symmetric = get_entry("torchvision", "efficientnet_b0").arch
    assert canonical_fingerprint(symmetric, 17, 224) == canonical_fingerprint(symmetric, 17, 256) == canonical_fingerprint(symmetric, 17)


def test_same_and_symmetric_padding_are_different_ids():
    assert get_entry("timm", "tf_efficientnet_b0.in1k").arch.id != get_entry("torchvision", "efficientnet_b0").arch.id
    assert (
        get_entry("timm", "tf_efficientnet_b0.in1k").arch.id
        == get_entry("mmpretrain", B0_SAME["mmpretrain"]).arch.id
        == get_entry("ppcls", "EfficientNetB0").arch.id
    )


def test_a_variant_the_family_does_not_draw_yet_stays_native():
    from zoocheck.converters.weights import has_canonical_weights

    arch = get_entry("timm", "efficientnet_b1_pruned.in1k").arch
    assert not has_canonical_weights(arch) and resolve_form(arch, None) == "native"
    with pytest.raises(NoCanonicalForm, match="pruned"):
        resolve_form(arch, "canonical")


@pytest.mark.parametrize("source, name", [("torchvision", "efficientnet_b0"), ("timm", "tf_efficientnet_b0.in1k")])
def test_every_layer_output_is_a_module_of_the_librarys_network(source, name):
    """``first_divergence``'s per-layer outputs name modules the library's network has."""
    assert len(checked_layer_outputs(source, name, 224)) == 16


@pytest.mark.slow
def test_compare_random_weights_says_identical(tmp_path, capsys):
    """torchvision's efficientnet_b0 and timm's efficientnet_b0: one id, one function."""
    assert_compare_identical("torchvision:efficientnet_b0", f"timm:{B0['timm']}", tmp_path, capsys)


# --- the rewrites, on small synthetic graphs ----------------------------------------------------


def _model(nodes, weights: dict[str, np.ndarray], side, opset: int = 17, channels: int = 4):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["N", channels, side, side])],
        [helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, k) for k, v in weights.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _same_pad_chain(side) -> tuple[list, dict]:
    """timm's ``pad_same`` as torch.onnx writes it: the pad of each side computed from the input's
    Shape (total = max((ceil(n / s) - 1) * s + k - n, 0), k 3, s 2), then Pad and a strided Conv."""
    i64 = lambda v: np.array(v, dtype=np.int64)  # noqa: E731
    weights = {"two": i64(2), "one": i64(1), "three": i64(3), "zero": i64(0), "axis0": i64([0]), "idx": i64(2),
               "w": np.random.default_rng(0).standard_normal((5, 4, 3, 3)).astype(np.float32)}  # fmt: skip
    nodes = [
        helper.make_node("Shape", ["input"], ["shape"]),
        helper.make_node("Gather", ["shape", "idx"], ["n"], axis=0),
        helper.make_node("Cast", ["n"], ["nf"], to=onnx.TensorProto.FLOAT),
        helper.make_node("Cast", ["two"], ["twof"], to=onnx.TensorProto.FLOAT),
        helper.make_node("Div", ["nf", "twof"], ["half"]),
        helper.make_node("Ceil", ["half"], ["ceil"]),
        helper.make_node("Cast", ["ceil"], ["out"], to=onnx.TensorProto.INT64),
        helper.make_node("Sub", ["out", "one"], ["o1"]),
        helper.make_node("Mul", ["o1", "two"], ["o2"]),
        helper.make_node("Add", ["o2", "three"], ["o3"]),
        helper.make_node("Sub", ["o3", "n"], ["o4"]),
        helper.make_node("Max", ["o4", "zero"], ["total"]),
        helper.make_node("Div", ["total", "two"], ["before"]),
        helper.make_node("Sub", ["total", "before"], ["after"]),
        helper.make_node("Unsqueeze", ["zero", "axis0"], ["z1"]),
        helper.make_node("Unsqueeze", ["before", "axis0"], ["b1"]),
        helper.make_node("Unsqueeze", ["after", "axis0"], ["a1"]),
        helper.make_node("Concat", ["z1", "z1", "b1", "b1", "z1", "z1", "a1", "a1"], ["pads"], axis=0),
        helper.make_node("Pad", ["input", "pads"], ["padded"]),
        helper.make_node("Conv", ["padded", "w"], ["logits"], kernel_shape=[3, 3], strides=[2, 2]),
    ]
    return nodes, weights


@pytest.mark.parametrize("side, pads", [(8, [0, 0, 1, 1]), (9, [1, 1, 1, 1])])
def test_pads_computed_from_shapes_become_constants_at_the_static_size(side, pads):
    nodes, weights = _same_pad_chain(side)
    model = _model(nodes, weights, side)
    x = np.random.default_rng(1).standard_normal((2, 4, side, side)).astype(np.float32)
    expected = run_model(model, x)
    static_pads(model)
    pad = next(n for n in model.graph.node if n.op_type == "Pad")
    values = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    assert values[pad.input[1]].tolist() == [0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]]
    np.testing.assert_allclose(run_model(model, x), expected, rtol=1e-6, atol=1e-6)


def test_pads_of_a_symbolic_size_are_refused():
    nodes, weights = _same_pad_chain("H")
    with pytest.raises(ValueError, match="not static"):
        static_pads(_model(nodes, weights, "H"))


@pytest.mark.parametrize("opset", [13, 18])
def test_a_spatial_mean_keeping_its_axes_becomes_global_average_pool(opset):
    """timm's SE squeeze, ``x.mean((2, 3), keepdim=True)``: axes an attribute, from opset 18 an input."""
    axes = {"axes": np.array([2, 3], dtype=np.int64)} if opset >= 18 else {}
    mean = helper.make_node("ReduceMean", ["input", "axes"] if axes else ["input"], ["m"], keepdims=1, **({} if axes else {"axes": [2, 3]}))
    nodes = [mean, helper.make_node("Mul", ["input", "m"], ["logits"])]
    model = _model(nodes, axes, 5, opset)
    x = np.random.default_rng(2).standard_normal((2, 4, 5, 5)).astype(np.float32)
    expected = run_model(model, x)
    reduce_mean_as_global_pool(model)
    assert [n.op_type for n in model.graph.node] == ["GlobalAveragePool", "Mul"] and not model.graph.initializer
    np.testing.assert_allclose(run_model(model, x), expected, rtol=1e-6, atol=1e-6)


def test_small_convolutions_of_one_shape_keep_their_own_weights():
    """Two SE-sized 1x1 convolutions of one shape, their weights lifted out of the graph: simplify
    leaves each its own weight (onnxslim's weight tying took the stand-ins, alike without data,
    for one tensor)."""
    from zoocheck.converters.graph.canonical import lift_weights

    rng = np.random.default_rng(3)
    weights = {"w1": rng.standard_normal((4, 4, 1, 1)).astype(np.float32), "w2": rng.standard_normal((4, 4, 1, 1)).astype(np.float32)}
    nodes = [
        helper.make_node("Conv", ["input", "w1"], ["c1"], kernel_shape=[1, 1]),
        helper.make_node("Conv", ["c1", "w2"], ["logits"], kernel_shape=[1, 1]),
    ]
    model, lifted = lift_weights(_model(nodes, weights, 3))
    slim = simplify(model, lifted)
    assert [n.input[1] for n in slim.graph.node] == ["w1", "w2"] and set(lifted) == {"w1", "w2"}
