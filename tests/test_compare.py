"""compare: weights tensor by tensor, function on the same inputs, preprocessing, and the verdict."""

from __future__ import annotations

import onnx
import pytest
from onnx import numpy_helper

from zoocheck.checks.compare import ArchitectureMismatch, Side, compare_files, compare_weights
from zoocheck.checks.images import bundled_photos
from zoocheck.zoo_registry import get_entry

TV18 = "resnet18.IMAGENET1K_V1"


@pytest.fixture(scope="module")
def tv18(tmp_path_factory):
    pytest.importorskip("torch")
    from zoocheck.converters.pipeline import convert

    conversion = convert(get_entry("torchvision", TV18), output=tmp_path_factory.mktemp("cmp") / "resnet18.onnx", random_seed=5)
    assert conversion.ok, conversion.failure
    return conversion.onnx_path


def _side(entry, path):
    return Side(entry.source, entry.name, entry.arch.id, str(path), None, random_seed=5)


def _scaled_copy(path, out, tensor_index: int, factor: float):
    model = onnx.load(str(path))
    init = model.graph.initializer[tensor_index]
    model.graph.initializer[tensor_index].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * factor, init.name))
    onnx.save(model, str(out))
    return init.name


def test_a_file_against_itself_is_identical(tv18):
    entry = get_entry("torchvision", TV18)
    result = compare_files(entry, _side(entry, tv18), entry, _side(entry, tv18), images=bundled_photos())
    assert result.verdict == "identical" and result.weights.tensors > 20
    assert result.function.max_rel_err == 0 and result.function.top1_agreement[0] == result.function.top1_agreement[1]
    assert result.preprocessing is not None and result.preprocessing.max_pixel_diff == 0
    assert result.summary_lines()[0].startswith("COMPARE IDENTICAL torchvision/resnet18.IMAGENET1K_V1 vs torchvision/resnet18.IMAGENET1K_V1")
    assert result.to_dict()["verdict"] == "identical"


def test_a_perturbed_tensor_is_named_and_found_where_it_diverges(tv18, tmp_path):
    entry = get_entry("torchvision", TV18)
    model = onnx.load(str(tv18))
    consumers = {i: n for n in model.graph.node for i in n.input}
    index = next(i for i, t in enumerate(model.graph.initializer) if t.name in consumers and consumers[t.name].op_type == "Conv" and len(t.dims) == 4)
    altered = tmp_path / "altered.onnx"
    name = _scaled_copy(tv18, altered, index, 3.0)
    result = compare_files(entry, _side(entry, tv18), entry, _side(entry, altered), images=bundled_photos())
    assert result.verdict == "different"
    assert [d.name for d in result.weights.differing] == [name]
    assert result.first_divergence is not None and name in result.first_divergence.initializers
    assert result.first_divergence.node == consumers[name].name
    assert any(name in line for line in result.summary_lines())


def test_a_tiny_rounding_difference_is_equivalent_not_identical(tv18, tmp_path):
    entry = get_entry("torchvision", TV18)
    model = onnx.load(str(tv18))
    index = max(range(len(model.graph.initializer)), key=lambda i: len(model.graph.initializer[i].raw_data))
    altered = tmp_path / "rounded.onnx"
    _scaled_copy(tv18, altered, index, 1.0 + 1e-5)
    weights = compare_weights(tv18, altered)
    assert len(weights.differing) == 1 and weights.differing[0].rel_diff == pytest.approx(1e-5, rel=0.05)
    result = compare_files(entry, _side(entry, tv18), entry, _side(entry, altered), images=[])
    assert result.verdict == "equivalent" and result.first_divergence is None


def test_different_architectures_are_refused_naming_both():
    a, b = get_entry("torchvision", TV18), get_entry("torchvision", "resnet50.IMAGENET1K_V1")
    with pytest.raises(ArchitectureMismatch, match="resnet18.*resnet50"):
        compare_files(a, _side(a, "a.onnx"), b, _side(b, "b.onnx"), images=[])
