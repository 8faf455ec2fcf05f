"""The ONNX model zoo's files with seeded random weights: each written as the zoo's file was made
(``converters/onnx_zoo.write_onnx_zoo_file``: the network it was exported from, that framework's
exporter, the file's opset and interface), or refused at build where zoocheck has no such writer
(Caffe2, TensorFlow, Intel Neural Compressor's quantisations)."""

from __future__ import annotations

import onnx
import pytest
from conftest import assert_compare_identical, at_size, inputs_for, max_rel

from zoocheck.cli import main
from zoocheck.converters.weights import random_weights, write_weights
from zoocheck.families.registry import family_of
from zoocheck.zoo_registry import get_entry

#: entry -> (opset, IR version, input name and shape, output name) of the zoo's file
INTERFACES = {
    "mobilenetv2-7": (7, 3, ("data", [1, 3, 224, 224])),
    "mobilenetv2-10": (10, 5, ("input", ["batch_size", 3, 224, 224])),
    "mobilenetv2-12": (12, 7, ("input", ["batch_size", 3, 224, 224])),
}


def _written(name: str, tmp_path, seed: int = 0, size: int | None = None):
    entry = get_entry("onnx-zoo", name)
    entry = at_size(entry, size) if size else entry
    params = random_weights(entry.arch, seed, entry.input_size)
    return entry, params, write_weights(entry, params, tmp_path / f"{name}.onnx")


def _error_to_reference(entry, params, path) -> float:
    """How far the file's logits (run as the converter runs a published file: batch by batch where
    its batch is fixed) are from the numpy reference forward of the entry's architecture holding
    ``params`` (float64), on photographs and random inputs."""
    from zoocheck.converters.onnx_zoo import OnnxZooNative

    batch = inputs_for(entry)
    reference = family_of(entry.arch).part("forward")(entry.arch, params, batch)
    return max_rel(reference, OnnxZooNative(path, entry.arch).forward(batch))


@pytest.mark.parametrize("name", list(INTERFACES))
def test_a_written_file_has_the_zoo_files_interface_and_computes_the_canonical_network(tmp_path, name):
    entry, params, path = _written(name, tmp_path)
    opset, ir_version, (input_name, shape) = INTERFACES[name]
    model = onnx.load(str(path))
    initializers = {t.name for t in model.graph.initializer}
    [image] = [i for i in model.graph.input if i.name not in initializers]
    assert [(o.domain, o.version) for o in model.opset_import] == [("", opset)] and model.ir_version == ir_version
    assert (image.name, [d.dim_value or d.dim_param for d in image.type.tensor_type.shape.dim]) == (input_name, shape)
    if ir_version == 3:  # IR 3 requires every initializer to be a graph input too
        assert initializers <= {i.name for i in model.graph.input}
    assert _error_to_reference(entry, params, path) < 1e-4


@pytest.mark.parametrize(("name", "layouts", "swapped"), [
    ("mobilenetv2-7", "gluoncv", ("stage3.1.project_bn.weight", "stage3.2.project_bn.weight")),
    ("mobilenetv2-12", "torchvision", ("stage3.1.project_bn.weight", "stage3.2.project_bn.weight")),
])  # fmt: skip
def test_a_writer_that_misplaces_weights_is_caught(tmp_path, monkeypatch, name, layouts, swapped):
    """The check above fails for a writer that puts two same-shaped tensors in each other's place
    (at 64 pixels: MobileNetV2 pools globally, the weights are calibrated at that size)."""
    from zoocheck.families.mobilenet_v2 import layouts as module

    right = getattr(module, f"to_{layouts}")

    def misplacing(params, arch, naming=""):
        a, b = swapped
        return right({**params, a: params[b], b: params[a]}, arch, naming)

    monkeypatch.setattr(module, f"to_{layouts}", misplacing)
    entry, params, path = _written(name, tmp_path, size=64)
    assert _error_to_reference(entry, params, path) > 1e-2


@pytest.mark.parametrize("name", ["mobilenetv2-7", "mobilenetv2-12"])
def test_parity_passes_on_a_written_file(tmp_path, name):
    """The parity check (``zoocheck parity``'s) on the file written with random weights, at 64
    pixels (MobileNetV2 pools globally; its weights calibrated at that size)."""
    from zoocheck.checks.parity import check_parity
    from zoocheck.reports.lines import parity_line

    result, _ = check_parity(
        at_size(get_entry("onnx-zoo", name), 64), weights=None, random_seed=0, output=tmp_path / "model.onnx", isolate=False
    )
    assert result.status == "ok" and result.random_weights, parity_line(result)


def test_the_pytorch_file_is_torchvisions_network(tmp_path, capsys):
    assert_compare_identical("onnx-zoo:mobilenetv2-12", "torchvision:mobilenet_v2.IMAGENET1K_V1", tmp_path, capsys)


@pytest.mark.slow
def test_the_mxnet_vgg_file_is_gluons_network_and_passes_parity(tmp_path, capsys):
    """VGG-16 (half a gigabyte a file): MXNet's export at opset 7, GluonCV's VGG (MXNet's model zoo's)."""
    assert main(["parity", "--src", "onnx-zoo", "--model", "vgg16-7", "--random-weights", "--results", str(tmp_path)]) == 0
    capsys.readouterr()
    assert_compare_identical("onnx-zoo:vgg16-7", "gluoncv:vgg16", tmp_path, capsys)


def test_random_weights_need_the_framework_that_wrote_the_file():
    from zoocheck.converters.onnx_zoo import OnnxZooConverter

    converter = OnnxZooConverter()

    def needed(name, random_weights=True):
        return {f.module for f in converter.frameworks_needed(get_entry("onnx-zoo", name), random_weights=random_weights)}

    assert needed("mobilenetv2-7") == {"onnx", "onnxruntime", "mxnet"}
    assert needed("mobilenetv2-12") == {"onnx", "onnxruntime", "torch", "torchvision"}
    assert needed("densenet-12") == needed("mobilenetv2-12", random_weights=False) == {"onnx", "onnxruntime"}


def test_the_file_opset_is_read_from_the_zoos_stem():
    from zoocheck.zoo_registry.names import UnknownName, onnx_zoo_suffix

    assert onnx_zoo_suffix("vgg16-12-int8") == (12, "int8")
    assert onnx_zoo_suffix("efficientnet-lite4-11") == (11, "")
    with pytest.raises(UnknownName):
        onnx_zoo_suffix("vgg16")


def test_the_mxnet_networks_hold_canonical_weights_under_the_gluoncv_layout():
    """The MobileNetV2 of mobilenetv2-7 in MXNet (GluonCV's network with the first block's
    expansion conv) holding canonical weights computes the numpy reference forward."""
    from zoocheck.converters.gluoncv_mxnet import canonical_network
    from zoocheck.converters.mxnet_compat import import_mxnet

    mx = import_mxnet()
    entry = get_entry("onnx-zoo", "mobilenetv2-7")
    family = family_of(entry.arch)
    params = random_weights(entry.arch, 1, entry.input_size)
    net = canonical_network(entry, params, family.network("gluoncv"))
    batch = inputs_for(entry)
    assert max_rel(family.part("forward")(entry.arch, params, batch), net(mx.nd.array(batch)).asnumpy()) < 1e-4
