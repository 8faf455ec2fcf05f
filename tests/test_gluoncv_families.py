"""GluonCV's MobileNetV2, MobileNetV3, DenseNet and VGG, built by zoocheck in MXNet
(``zoocheck/families/<family>/gluoncv.py``), against GluonCV's own model code
(tests/gluoncv_family_fixtures.py, copied verbatim from the gluoncv wheel).

A checkpoint is written by GluonCV's own network (``save_parameters``: GluonCV's on-disk format and
parameter names) with random weights and perturbed batch-norm statistics, loaded strictly by the
GluonCV converter, and both forwards must agree; then ``zoocheck parity`` converts such a file with
mxnet.onnx and checks onnxruntime against MXNet.
"""

from __future__ import annotations

import dataclasses
import importlib

import numpy as np
import pytest

from zoocheck.checks.parity import check_parity
from zoocheck.converters.base import FrameworkUnavailable, NoBuilder
from zoocheck.converters.gluoncv import GluonCVConverter
from zoocheck.converters.mxnet_compat import import_mxnet
from zoocheck.reports.lines import parity_line
from zoocheck.zoo_registry import get_entry, list_entries
from zoocheck.zoo_registry.types import Architecture

try:
    import_mxnet()
except FrameworkUnavailable as exc:  # pragma: no cover - the project environment has mxnet
    pytest.skip(str(exc), allow_module_level=True)

import gluoncv_family_fixtures as gcv  # noqa: E402
from conftest import at_size  # noqa: E402

FAMILIES = ("mobilenet_v2", "mobilenet_v3", "densenet", "vgg")
#: the smallest model of each family, and the input size its test runs at (GluonCV's own DenseNet
#: ends in AvgPool2D(7): the global pool at 224, an error below)
SMALLEST = {"mobilenetv2_0.25": 64, "mobilenetv3_small": 64, "densenet121": 224, "vgg11": 32}


def _gluoncv_entries() -> list:
    return [e for e in list_entries(["gluoncv"]) if e.arch.family in FAMILIES]


def _size(name: str) -> int:
    return SMALLEST.get(name, 224 if name.startswith("densenet") else 64)


def write_gluoncv_checkpoint(builder: str, size: int, path, seed: int = 0):
    """GluonCV's own network of ``builder`` with random weights (batch-norm gamma, beta and running
    statistics perturbed, biases nonzero) saved as GluonCV saves it; returns that network."""
    mx = import_mxnet()
    rng = np.random.default_rng(seed)
    net = gcv.gluoncv_net(builder)
    net.initialize(mx.init.Xavier(magnitude=2))
    net(mx.nd.zeros((1, 3, size, size)))
    for name, param in net._collect_params_with_prefix().items():
        value = param.data().asnumpy()
        if name.endswith("running_mean") or name.endswith("beta") or name.endswith("bias"):
            value = rng.normal(0.0, 0.1, value.shape)
        elif name.endswith("running_var") or name.endswith("gamma"):
            value = rng.uniform(0.5, 1.5, value.shape)
        param.set_data(mx.nd.array(value.astype(np.float32)))
    net.save_parameters(str(path))
    return net


def _every_entry():
    return [
        pytest.param(name, marks=() if name in SMALLEST else pytest.mark.slow, id=name)
        for name in sorted({e.name for e in _gluoncv_entries()})
    ]


@pytest.mark.parametrize("name", _every_entry())
def test_builder_computes_gluoncvs_network(name, tmp_path):
    """Every GluonCV entry of the four families: GluonCV's file loads strictly (every name and shape
    both ways) and the MXNet forward equals GluonCV's own to 1e-5 of the logit range."""
    mx = import_mxnet()
    size = _size(name)
    entry = dataclasses.replace(get_entry("gluoncv", name), input_size=size)
    reference = write_gluoncv_checkpoint(name, size, tmp_path / f"{name}.params")
    native = GluonCVConverter().load(entry, tmp_path / f"{name}.params")
    batch = np.random.default_rng(1).normal(0.0, 1.0, (2, 3, size, size)).astype(np.float32)
    expected = reference(mx.nd.array(batch)).asnumpy()
    got = native.forward(batch)
    assert got.shape == (2, 1000)
    assert np.abs(got - expected).max() <= 1e-5 * np.ptp(expected)


def test_every_family_entry_is_covered():
    assert {e.arch.family for e in _gluoncv_entries()} == set(FAMILIES)
    assert set(SMALLEST) <= {e.name for e in _gluoncv_entries()}


@pytest.mark.parametrize(
    "family,spec_module,fields,refused",
    [
        ("mobilenet_v3", "zoocheck.families.mobilenet_v3.names", "timm:tf_mobilenetv3_large_100", "padding"),
        ("mobilenet_v3", "zoocheck.families.mobilenet_v3.names", "paddleclas:MobileNetV3_large_x1_0", "se_gate_slope"),
        ("mobilenet_v2", "zoocheck.families.mobilenet_v2.names", "torchvision:mobilenet_v2", "classifier"),
        ("densenet", "zoocheck.families.densenet.names", "timm:densenet121d", "stem"),
        ("vgg", "zoocheck.families.vgg.names", "paddleclas:VGG11", "conv_bias"),
    ],
)
def test_a_spec_field_gluoncv_does_not_build_is_refused(family, spec_module, fields, refused):
    scheme, model = fields.split(":")
    spec = getattr(importlib.import_module(spec_module), scheme)(model)
    with pytest.raises(NoBuilder, match=refused):
        importlib.import_module(f"zoocheck.families.{family}.gluoncv").network(Architecture(spec))


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow if n == "vgg11" else (), id=n) for n in SMALLEST])
def test_parity_of_a_gluoncv_file(name, tmp_path):
    """A file written by GluonCV's own code converts (mxnet.onnx) and onnxruntime matches MXNet in
    the parity check (``zoocheck parity``'s), on the photos at the model's test size."""
    weights = tmp_path / f"{name}.params"
    write_gluoncv_checkpoint(name, SMALLEST[name], weights)
    entry = at_size(get_entry("gluoncv", name), SMALLEST[name])
    # in this process: the family's conversion, not the child process (test_gluon_converters isolates GluonCV's)
    result, _ = check_parity(entry, weights=weights, random_seed=None, output=tmp_path / f"{name}.onnx", isolate=False)
    assert result.status == "ok" and not result.random_weights, parity_line(result)


def test_parity_with_random_weights_in_mxnet(tmp_path):
    """Random weights are the scheme drawn in MXNet (batch norm measured then perturbed, classifier
    spread): MobileNetV3's hardswish and SE gates through mxnet.onnx match onnxruntime (at 64
    pixels, in this process)."""
    entry = at_size(get_entry("gluoncv", "mobilenetv3_small"), 64)
    result, _ = check_parity(entry, weights=None, random_seed=0, output=tmp_path / "mobilenetv3_small.onnx", isolate=False)
    assert result.status == "ok" and result.random_weights, parity_line(result)


def test_random_weights_are_seeded_and_calibrated():
    entry = dataclasses.replace(get_entry("gluoncv", "mobilenetv2_0.25"), input_size=64)
    batch = np.random.default_rng(2).normal(0.0, 1.0, (4, 3, 64, 64)).astype(np.float32)
    first, again, other = (GluonCVConverter().load(entry, None, random_seed=seed).forward(batch) for seed in (3, 3, 4))
    assert np.array_equal(first, again)
    assert not np.allclose(first, other)
    assert 0.5 < float(first.std(axis=1).mean()) < 8  # the logit spread the scheme sets, not chaos


def test_a_file_of_another_network_is_refused(tmp_path):
    from zoocheck.converters.base import WeightsError

    weights = tmp_path / "mobilenetv2_0.25.params"
    write_gluoncv_checkpoint("mobilenetv2_0.25", 64, weights)
    with pytest.raises(WeightsError, match="weights do not fit GluonCV mobilenetv2_0.5"):
        GluonCVConverter().load(get_entry("gluoncv", "mobilenetv2_0.5"), weights)
