"""ONNX normalisation: names, dynamic batch, metadata, checker, external data, atomic writes."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from zoocheck.converters import normalize


def tiny_classifier(input_name="data", output_name="scores", batch=1, initializer_as_input=False):
    """A fixed-batch opset-13 graph: global average pool then a 3x5 matmul (a zoo-like export)."""
    w = numpy_helper.from_array(np.arange(15, dtype=np.float32).reshape(3, 5) / 10, "fc_w")
    nodes = [
        helper.make_node("GlobalAveragePool", [input_name], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("MatMul", ["flat", "fc_w"], [output_name]),
    ]
    inputs = [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [batch, 3, 8, 8])]
    if initializer_as_input:
        inputs.append(helper.make_tensor_value_info("fc_w", TensorProto.FLOAT, [3, 5]))
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, [batch, 5])], [w])
    graph.value_info.append(helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [batch, 3, 1, 1]))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


@pytest.mark.parametrize("initializer_as_input", [False, True])
def test_normalised_file_follows_the_conventions(tmp_path, initializer_as_input):
    model = normalize.normalize_model(
        tiny_classifier(initializer_as_input=initializer_as_input), {"source": "test", "random_weights": True}
    )
    out = tmp_path / "m.onnx"
    written = normalize.save_atomic(model, out, {"source": "test", "random_weights": True})
    assert set(written) == {out, tmp_path / "m.onnx.json"}
    loaded = onnx.load(str(out))
    assert [i.name for i in loaded.graph.input] == ["input"]
    assert loaded.graph.output[0].name == "logits"
    assert loaded.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    assert normalize.read_metadata(out) == {"source": "test", "random_weights": True}
    assert json.loads((tmp_path / "m.onnx.json").read_text())["random_weights"] is True
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((3, 3, 8, 8), dtype=np.float32)
    (y,) = sess.run(None, {"input": x})
    expected = x.mean(axis=(2, 3)) @ (np.arange(15, dtype=np.float32).reshape(3, 5) / 10)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    assert not list(tmp_path.glob(".m.onnx.*")), "staging folder left behind"


def test_large_initializers_go_to_one_external_data_file(tmp_path, monkeypatch):
    monkeypatch.setattr(normalize, "PROTOBUF_LIMIT", 16)  # treat this tiny model as "over 2 GB"
    monkeypatch.setattr(normalize, "EXTERNAL_SIZE_THRESHOLD", 0)
    model = normalize.normalize_model(tiny_classifier(), {"k": 1})
    out = tmp_path / "big.onnx"
    normalize.save_atomic(model, out, {"k": 1})
    assert (tmp_path / "big.onnx.data").is_file()
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert sess.run(None, {"input": np.ones((2, 3, 8, 8), np.float32)})[0].shape == (2, 5)


def test_external_data_holds_the_large_tensors_in_one_file_named_after_the_model(tmp_path, monkeypatch):
    # onnx compares sys.getsizeof(raw_data) (33 bytes of object header + the data) with the
    # threshold: fc_w (60 bytes of data) goes out at 64, a one-float tensor stays inline
    model = tiny_classifier()
    model.graph.initializer.append(numpy_helper.from_array(np.zeros(1, np.float32), "small"))
    path = tmp_path / "m.onnx"
    monkeypatch.setattr(normalize, "EXTERNAL_SIZE_THRESHOLD", 64)
    normalize.save_with_external_data(model, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.onnx.data"]
    header = onnx.load(str(path), load_external_data=False)
    locations = {t.name: {e.key: e.value for e in t.external_data}.get("location") for t in header.graph.initializer}
    assert locations == {"fc_w": "m.onnx.data", "small": None}
    assert (tmp_path / "m.onnx.data").stat().st_size == 60
    np.testing.assert_array_equal(
        numpy_helper.to_array(onnx.load(str(path)).graph.initializer[0]), np.arange(15, dtype=np.float32).reshape(3, 5) / 10
    )


def test_failed_check_leaves_nothing_under_the_final_name(tmp_path, monkeypatch):
    model = normalize.normalize_model(tiny_classifier(), {})
    model.graph.node[2].op_type = "NoSuchOp"  # the checker rejects it
    with pytest.raises(onnx.checker.ValidationError):
        normalize.save_atomic(model, tmp_path / "bad.onnx", {})
    assert list(tmp_path.iterdir()) == []


def test_two_image_inputs_are_rejected():
    model = tiny_classifier()
    model.graph.input.append(helper.make_tensor_value_info("extra", TensorProto.FLOAT, [1]))
    with pytest.raises(ValueError, match="one image input"):
        normalize.normalize_model(model, {})


def test_the_class_count_is_declared_and_a_wrong_one_refused():
    model = tiny_classifier()
    model.graph.output[0].type.tensor_type.shape.dim[1].Clear()  # [N, ?], as MXNet's exporter writes
    normalize.normalize_model(model, {}, num_classes=5)
    assert normalize.onnx_facts(model)["output_shape"] == ["N", 5]
    with pytest.raises(ValueError, match="declares 5 classes, the model has 1000"):
        normalize.normalize_model(tiny_classifier(), {}, num_classes=1000)
