"""The graph layer without any framework: the exact rewrites compute what they replace, the
fingerprint sees structure and nothing else, the template follows the naming scheme, and a graph
whose structure differs from the template is refused naming the layer."""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from zoocheck.converters.graph import resolve_form, template_for
from zoocheck.converters.graph.canonical import GraphMismatch, match, simplify
from zoocheck.converters.graph.fingerprint import fingerprint
from zoocheck.converters.graph.rewrites import batch_norm, conformance, heads, onnx_graph, pads
from zoocheck.converters.graph.template import NoCanonicalForm
from zoocheck.families.resnet.spec import resnet
from zoocheck.families.resnet.template import build_template
from zoocheck.zoo_registry.types import Architecture, LibraryNetwork


def run(model, x: np.ndarray, level=ort.GraphOptimizationLevel.ORT_DISABLE_ALL) -> np.ndarray:
    options = ort.SessionOptions()
    options.graph_optimization_level = level
    sess = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def one_node_model(op: str, size: int, initializers=(), inputs=None, opset=17, **attrs):
    nodes = [helper.make_node(op, ["x", *(inputs or [])], ["y"], name="n", **attrs)]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        list(initializers),
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize("size", [8, 7])
@pytest.mark.parametrize("opset", [17, 9])
def test_paddle_same_upper_average_pool_becomes_ceil_mode_with_the_same_values(size, opset):
    # opset 9's AveragePool has no ceil_mode (paddle2onnx writes none there): one excluded end pad
    ceil = {"ceil_mode": 1} if opset >= onnx_graph.CEIL_MODE_OPSET else {}
    model = one_node_model("AveragePool", size, opset=opset, auto_pad="SAME_UPPER", **ceil, kernel_shape=[2, 2], strides=[2, 2])
    x = np.random.default_rng(0).standard_normal((2, 3, size, size), dtype=np.float32)
    before = run(model, x)
    pads.explicit_pads(model)
    attrs = {a.name: helper.get_attribute_value(a) for a in model.graph.node[0].attribute}
    assert "auto_pad" not in attrs
    if opset >= onnx_graph.CEIL_MODE_OPSET:
        assert attrs["pads"] == [0, 0, 0, 0] and attrs["ceil_mode"] == 1
    else:
        assert attrs["pads"] == [0, 0, 1, 1] and "ceil_mode" not in attrs
    half = (size + 1) // 2
    model.graph.output[0].CopyFrom(helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, half, half]))
    onnx.checker.check_model(model, full_check=True)  # the attributes exist at this opset, the shape is ceil(n / 2)
    np.testing.assert_array_equal(run(model, x), before)
    # and the reference evaluator, which refused the original, computes the same
    from onnx.reference import ReferenceEvaluator

    np.testing.assert_allclose(ReferenceEvaluator(model).run(None, {"x": x})[0], before, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("mode", ["SAME_UPPER", "SAME_LOWER"])
def test_other_auto_pads_become_pads_from_the_static_size(mode):
    model = one_node_model("MaxPool", 9, auto_pad=mode, kernel_shape=[4, 4], strides=[2, 2])
    x = np.random.default_rng(1).standard_normal((2, 3, 9, 9), dtype=np.float32)
    before = run(model, x)
    pads.explicit_pads(model)
    attrs = {a.name: helper.get_attribute_value(a) for a in model.graph.node[0].attribute}
    assert "auto_pad" not in attrs
    assert attrs["pads"] == ([1, 1, 2, 2] if mode == "SAME_UPPER" else [2, 2, 1, 1])
    np.testing.assert_array_equal(run(model, x), before)


def test_batch_norm_becomes_scale_and_shift_with_the_same_values():
    rng = np.random.default_rng(2)
    params = [
        numpy_helper.from_array(v.astype(np.float32), n)
        for n, v in (("g", rng.uniform(0.5, 1.5, 3)), ("b", rng.normal(0, 1, 3)), ("m", rng.normal(0, 1, 3)), ("v", rng.uniform(0.5, 2, 3)))
    ]
    model = one_node_model("BatchNormalization", 5, params, ["g", "b", "m", "v"], epsilon=1e-3)
    x = rng.standard_normal((2, 3, 5, 5), dtype=np.float32)
    before = run(model, x)
    batch_norm.batch_norm_to_affine(model)
    assert [n.op_type for n in model.graph.node] == ["Mul", "Add"]
    assert sorted(t.name for t in model.graph.initializer) == ["n.scale", "n.shift"]
    np.testing.assert_allclose(run(model, x), before, rtol=1e-6, atol=1e-6)


def paddle_like_head(size: int = 4, channels: int = 6, classes: int = 5):
    """GlobalAveragePool -> Reshape(0, -1) -> MatMul(W[in, out]) -> Add(b): PaddleClas's head after onnxslim."""
    rng = np.random.default_rng(3)
    w = numpy_helper.from_array(rng.standard_normal((channels, classes)).astype(np.float32), "linear_0.w_0")
    b = numpy_helper.from_array(rng.standard_normal(classes).astype(np.float32), "linear_0.b_0")
    shape = numpy_helper.from_array(np.array([0, -1], np.int64), "shape")
    nodes = [
        helper.make_node("GlobalAveragePool", ["input"], ["pooled"], name="pool"),
        helper.make_node("Reshape", ["pooled", "shape"], ["flat"], name="reshape"),
        helper.make_node("MatMul", ["flat", "linear_0.w_0"], ["mm"], name="matmul"),
        helper.make_node("Add", ["mm", "linear_0.b_0"], ["logits"], name="add"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [2, channels, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [2, classes])],
        [w, b, shape],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def conv_bn_model(*, conv_bias: bool, second_reader: bool):
    """x -> Conv (3 -> 4, 3x3) -> BatchNormalization -> y; with ``second_reader`` the Conv's output
    is also a graph output (so the batch norm cannot be folded)."""
    rng = np.random.default_rng(3)
    arrays = {
        "w": rng.normal(0, 0.5, (4, 3, 3, 3)),
        "g": rng.uniform(0.5, 1.5, 4),
        "b": rng.normal(0, 1, 4),
        "m": rng.normal(0, 1, 4),
        "v": rng.uniform(0.1, 2, 4),
    }
    if conv_bias:
        arrays["cb"] = rng.normal(0, 1, 4)
    inits = [numpy_helper.from_array(v.astype(np.float32), n) for n, v in arrays.items()]
    nodes = [
        helper.make_node("Conv", ["x", "w", *(["cb"] if conv_bias else [])], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "g", "b", "m", "v"], ["y"], name="bn", epsilon=1e-3),
    ]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)] + (
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, None)] if second_reader else []
    )
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 6, 6])], outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("conv_bias", [False, True])
def test_batch_norm_folds_into_the_lifted_conv_weight_with_the_same_values(conv_bias):
    from zoocheck.converters.graph.canonical import lift_weights
    from zoocheck.converters.graph.rewrites.onnx_graph import LIFTED_LOCATION

    model = conv_bn_model(conv_bias=conv_bias, second_reader=False)
    x = np.random.default_rng(4).standard_normal((2, 3, 6, 6), dtype=np.float32)
    before = run(model, x)
    skeleton, lifted = lift_weights(model)
    stand_in = next(t for t in skeleton.graph.initializer if t.name == "w")
    assert list(lifted) == ["w"] and lifted["w"].shape == (4, 3, 3, 3)
    assert list(stand_in.dims) == [4, 3, 3, 3] and not stand_in.raw_data and stand_in.external_data[0].value == f"{LIFTED_LOCATION}/w"
    batch_norm.fold_batch_norms(skeleton, lifted)
    assert [n.op_type for n in skeleton.graph.node] == ["Conv"] and skeleton.graph.node[0].output[0] == "y"
    assert {t.name for t in skeleton.graph.initializer} == {"w", "y.folded_bias"}  # the batch norm's tensors are gone
    # put the folded values back into the graph to run it: the function is the same
    index = next(i for i, t in enumerate(skeleton.graph.initializer) if t.name == "w")
    skeleton.graph.initializer[index].CopyFrom(numpy_helper.from_array(lifted["w"], "w"))
    after = run(skeleton, x)
    assert np.abs(after - before).max() <= 1e-5 * np.ptp(before)


def linear_matrices_model():
    """x [N, 4, 8] -> two Linear layers reading x (MatMul by [8, 8] + Add), added; and a constant
    table [3, 8] times its own [8, 8] (a position-bias MLP: foldable) added to both."""
    rng = np.random.default_rng(5)
    arrays = {"w1": (8, 8), "w2": (8, 8), "b1": (8,), "b2": (8,), "table": (3, 8), "w_table": (8, 8)}
    inits = [numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name) for name, shape in arrays.items()]
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["m1"], name="linear1.matmul"),
        helper.make_node("Add", ["m1", "b1"], ["y1"], name="linear1"),
        helper.make_node("MatMul", ["x", "w2"], ["m2"], name="linear2.matmul"),
        helper.make_node("Add", ["m2", "b2"], ["y2"], name="linear2"),
        helper.make_node("MatMul", ["table", "w_table"], ["bias"], name="table.matmul"),
        helper.make_node("ReduceSum", ["bias"], ["bias_sum"], name="bias_sum", keepdims=0),
        helper.make_node("Add", ["y1", "y2"], ["sum"], name="sum"),
        helper.make_node("Add", ["sum", "bias_sum"], ["y"], name="y"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 8])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_linear_matrices_are_lifted_and_stay_two_layers_through_onnxslim():
    """The matrices the input reaches are lifted, the constant table's is not (onnxslim folds it:
    it needs the values); two stand-ins of one shape read by one tensor stay two layers (onnxslim's
    common-subexpression pass compares constants by their fields: stand-ins alike but for their
    name would be merged), and the graph computes what it did with the lifted values put back."""
    from zoocheck.converters.graph.canonical import _slim, lift_weights

    model = linear_matrices_model()
    x = np.random.default_rng(6).standard_normal((2, 4, 8), dtype=np.float32)
    before = run(model, x)
    skeleton, lifted = lift_weights(model)
    assert sorted(lifted) == ["w1", "w2"]
    slim = _slim(skeleton)
    assert sorted(n.input[1] for n in slim.graph.node if n.op_type == "MatMul") == ["w1", "w2"]
    for tensor in slim.graph.initializer:
        if tensor.name in lifted:
            tensor.CopyFrom(numpy_helper.from_array(lifted[tensor.name], tensor.name))
    np.testing.assert_allclose(run(slim, x), before, rtol=1e-5, atol=1e-5)


def test_a_lifted_head_matrix_becomes_the_gemm_head_with_the_same_values():
    from zoocheck.converters.graph.canonical import lift_weights

    model = paddle_like_head()
    x = np.random.default_rng(4).standard_normal((2, 6, 4, 4), dtype=np.float32)
    before = run(model, x)
    model, lifted = lift_weights(model)
    assert list(lifted) == ["linear_0.w_0"]
    heads.flatten_head(model)
    heads.gemm_head(model, lifted)
    assert [n.op_type for n in model.graph.node] == ["GlobalAveragePool", "Flatten", "Gemm"] and not lifted
    np.testing.assert_allclose(run(model, x), before, rtol=1e-6, atol=1e-6)


def test_a_batch_norm_whose_conv_output_is_read_elsewhere_is_not_folded():
    model = conv_bn_model(conv_bias=True, second_reader=True)
    batch_norm.fold_batch_norms(model, {})
    assert [n.op_type for n in model.graph.node] == ["Conv", "BatchNormalization"]


def test_paddle_head_becomes_flatten_and_gemm_with_the_same_values():
    model = paddle_like_head()
    x = np.random.default_rng(4).standard_normal((2, 6, 4, 4), dtype=np.float32)
    before = run(model, x)
    heads.flatten_head(model)
    heads.gemm_head(model, {})
    assert [n.op_type for n in model.graph.node] == ["GlobalAveragePool", "Flatten", "Gemm"]
    gemm = model.graph.node[2]
    assert {a.name: helper.get_attribute_value(a) for a in gemm.attribute}["transB"] == 1
    assert [t.dims for t in model.graph.initializer if t.name == gemm.input[1]] == [[5, 6]]
    np.testing.assert_allclose(run(model, x), before, rtol=1e-6, atol=1e-6)


def test_name_nodes_fills_empty_and_duplicate_names():
    model = paddle_like_head()
    model.graph.node[0].name = ""
    model.graph.node[2].name = "reshape"
    conformance.name_nodes(model)
    names = [n.name for n in model.graph.node]
    assert all(names) and len(set(names)) == len(names)


def resnet18_template(variant: str = "b"):
    return build_template(resnet(18, variant), 1000, opset=17, graph_name="t")


def test_template_follows_the_naming_scheme_and_conventions():
    model = resnet18_template()
    names = [n.name for n in model.graph.node]
    assert names[:3] == ["stem.conv1", "stem.conv1.relu", "stem.pool"]
    # block: branch first, then the shortcut, then the sum and its ReLU
    assert names[names.index("layer2.0.conv1") : names.index("layer2.0.relu") + 1] == [
        "layer2.0.conv1",
        "layer2.0.conv1.relu",
        "layer2.0.conv2",
        "layer2.0.downsample.conv",
        "layer2.0.add",
        "layer2.0.relu",
    ]
    assert names[-3:] == ["head.pool", "head.flatten", "fc"]
    add = next(n for n in model.graph.node if n.name == "layer2.0.add")
    assert list(add.input) == ["layer2.0.conv2", "layer2.0.downsample.conv"]
    assert {t.name for t in model.graph.initializer} >= {
        "stem.conv1.weight",
        "stem.conv1.bias",
        "layer4.1.conv2.weight",
        "fc.weight",
        "fc.bias",
    }
    assert "layer1.0.downsample.conv.weight" not in {t.name for t in model.graph.initializer}
    assert model.ir_version == 8 and model.opset_import[0].version == 17
    dims = [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in (model.graph.input[0], model.graph.output[0])]
    assert dims == [["N", 3, "H", "W"], ["N", 1000]]
    assert model.graph.output[0].name == "logits"
    v2 = resnet18_template(variant="v2")
    v2_names = [n.name for n in v2.graph.node]
    assert v2_names[:2] == ["stem.bn0.mul", "stem.bn0.add"] and "layer1.0.bn1.mul" in v2_names and "head.bn.add" in v2_names


def test_fingerprint_sees_structure_not_values_or_metadata():
    a, b = resnet18_template(), resnet18_template()
    b.graph.initializer[0].CopyFrom(
        numpy_helper.from_array(np.ones(tuple(b.graph.initializer[0].dims), np.float32), b.graph.initializer[0].name)
    )
    helper.set_model_props(b, {"zoocheck": '{"source": "elsewhere"}'})
    b.producer_name = "someone else"
    assert fingerprint(a) == fingerprint(b)
    b.graph.node[1].name = "renamed"
    assert fingerprint(a) != fingerprint(b)
    variants = {v: fingerprint(resnet18_template(variant=v)) for v in ("b", "c", "d", "v2")}
    assert len(set(variants.values())) == 4
    # a basic block strides on its first 3x3 either way: MXNet's v1 IS torchvision's resnet18
    assert fingerprint(resnet18_template(variant="v1")) == variants["b"]


def accepted_opsets() -> list[int]:
    """Every opset some source's ``--opset`` accepts (validate.opset_range)."""
    from zoocheck.sources import source_names
    from zoocheck.validate import opset_range

    ranges = [opset_range(source) for source in source_names()]
    return list(range(min(low for low, _ in ranges), max(high for _, high in ranges) + 1))


def filled(template, seed: int = 0):
    """``template`` with seeded values of a sensible scale in every initializer."""
    rng = np.random.default_rng(seed)
    for t in template.graph.initializer:
        fan_in = int(np.prod(t.dims[1:])) if len(t.dims) > 1 else 1
        value = (
            rng.standard_normal(tuple(t.dims)) / np.sqrt(fan_in)
            if len(t.dims) > 1 and t.dims[1:] != [1, 1]
            else rng.uniform(0.5, 1.5, tuple(t.dims))
        )
        t.CopyFrom(numpy_helper.from_array(value.astype(np.float32), t.name))
    return template


@pytest.mark.parametrize("opset", accepted_opsets())
def test_template_at_every_accepted_opset_passes_the_checker_and_computes_alike_everywhere(opset):
    """What the template writes must exist at that opset (no ceil_mode before 10; initializers as
    inputs at IR 3), and onnxruntime and the reference evaluator compute the same on it, the vd
    shortcut's pools included at odd sizes (38 -> 19 -> 10, pools on 10, 5 and 3)."""
    from onnx.reference import ReferenceEvaluator

    x = np.random.default_rng(1).standard_normal((1, 3, 38, 38), dtype=np.float32)
    for variant in ("d", "v2"):
        # one block a stage (ResNet-10): stage 1's has the identity shortcut the second blocks repeat
        model = filled(build_template(dataclasses.replace(resnet(18, variant), layers=(1, 1, 1, 1)), 10, opset=opset, graph_name="t"))
        assert model.ir_version == helper.find_min_ir_version_for(list(model.opset_import))
        onnx.checker.check_model(model, full_check=True)
        if model.ir_version < onnx_graph.INITIALIZERS_NOT_INPUTS_IR:
            assert {t.name for t in model.graph.initializer} <= {i.name for i in model.graph.input}
        expected = run(model, x)
        assert expected.std() > 0.01
        np.testing.assert_allclose(
            ReferenceEvaluator(model).run(None, {"input": x})[0], expected, rtol=1e-4, atol=1e-5 * float(np.ptp(expected))
        )


def test_opset_8_constants_become_initializers_and_ir_3_lists_them_as_inputs():
    """paddle2onnx writes int64 Constant nodes at opset 7, whose Constant holds floats only."""
    model = paddle_like_head()
    model.opset_import[0].version = 8
    model.ir_version = helper.find_min_ir_version_for(list(model.opset_import))
    shape = next(t for t in model.graph.initializer if t.name == "shape")
    model.graph.node.insert(0, helper.make_node("Constant", [], ["shape"], name="c", value=shape))
    model.graph.initializer.remove(shape)
    x = np.random.default_rng(5).standard_normal((2, 6, 4, 4), dtype=np.float32)
    before = run(model, x)
    with pytest.raises(onnx.checker.ValidationError):
        onnx.checker.check_model(model, full_check=True)
    conformance.constants_as_initializers(model)
    conformance.declare_initializers_as_inputs(model)
    assert "Constant" not in {n.op_type for n in model.graph.node}
    assert [i.name for i in model.graph.input] == ["input", "linear_0.w_0", "linear_0.b_0", "shape"]
    onnx.checker.check_model(model, full_check=True)
    np.testing.assert_array_equal(run(model, x), before)


def test_no_canonical_form_outside_a_family_with_a_template():
    arch = Architecture(LibraryNetwork("timm", "vit_base_patch16_224"))
    assert resolve_form(arch, None) == "native"
    with pytest.raises(NoCanonicalForm, match="vit_base_patch16_224.*families resnet"):
        resolve_form(arch, "canonical")
    with pytest.raises(NoCanonicalForm):
        template_for(arch, 17)


def exported_like(template):
    """The template with values, as an exporter might write it (no Conv biases, BN unfolded)."""
    model = onnx.ModelProto()
    model.CopyFrom(template)
    rng = np.random.default_rng(0)
    for i, t in enumerate(model.graph.initializer):
        model.graph.initializer[i].CopyFrom(numpy_helper.from_array(rng.standard_normal(tuple(t.dims)).astype(np.float32) * 0.1, t.name))
    return model


def test_a_missing_relu_is_refused_naming_the_layer():
    template = resnet18_template()
    broken = exported_like(template)
    nodes = list(broken.graph.node)
    relu = next(n for n in nodes if n.name == "layer3.1.conv1.relu")
    consumer = next(n for n in nodes if relu.output[0] in n.input)
    consumer.input[0] = relu.input[0]
    broken.graph.node.remove(relu)
    with pytest.raises(GraphMismatch, match="layer3.1"):
        match(template, simplify(broken))


def test_matching_survives_swapped_residual_inputs_and_reordered_nodes():
    template = resnet18_template()
    exported = exported_like(template)
    for node in exported.graph.node:
        if node.name.endswith(".add"):
            node.input[:] = list(reversed(node.input))
        node.name, node.output[:] = "", [f"t_{o}" if o != "logits" else o for o in node.output]
        node.input[:] = [f"t_{i}" if not i.endswith((".weight", ".bias")) and i != "input" else i for i in node.input]
    reordered = list(exported.graph.node)
    del exported.graph.node[:]
    exported.graph.node.extend(reordered[:3] + reordered[3:][::-1])  # not topological any more
    pairs = match(template, simplify(exported))
    assert len(pairs) == len(template.graph.node)
