"""Same weights, same file: one set of weights written in two sources' own formats, read back
through each source's own loader and exporter, gives canonical files whose initializers are equal
tensor by tensor and whose outputs agree. Random weights, resnet18-sized, 64x64 inputs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from zoocheck.checks.images import random_inputs
from zoocheck.converters.pipeline import convert
from zoocheck.zoo_registry import get_entry

SIZE = 64
SEED = 5
WEIGHT_RTOL = 1e-6  # max |a - b| / max |a| per tensor
OUTPUT_TOL = 1e-5  # max |a - b| / logit range


def small(source: str, name: str):
    return dataclasses.replace(get_entry(source, name), input_size=SIZE)


def canonical(entry, weights: Path, out: Path) -> Path:
    conversion = convert(entry, output=out, weights=weights, isolate=False, graph="canonical")
    assert conversion.ok, conversion.failure
    return conversion.onnx_path


def initializers(path: Path) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}


def assert_same_file_but_for_rounding(paths: list[Path]) -> None:
    reference = initializers(paths[0])
    batch = random_inputs(2, SIZE, seed=3)
    outputs = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, {"input": batch})[0] for p in paths]
    for path, output in zip(paths[1:], outputs[1:]):
        other = initializers(path)
        assert list(other) == list(reference)
        worst = max((float(np.abs(reference[k] - other[k]).max() / max(np.abs(reference[k]).max(), 1e-30)), k) for k in reference)
        assert worst[0] <= WEIGHT_RTOL, f"{path.name}: {worst[1]} differs by {worst[0]:.3g} (relative)"
        err = float((np.abs(outputs[0] - output).max(axis=1) / np.ptp(outputs[0], axis=1)).max())
        assert err <= OUTPUT_TOL, f"{path.name}: outputs differ by {err:.3g} of the logit range"


def write_one_weight_set(tmp_path: Path, entries) -> dict[str, Path]:
    """One seeded canonical weight set (converters/weights) written in each entry's own format."""
    from zoocheck.converters.weights.formats import write_weights
    from zoocheck.converters.weights.random import random_weights

    params = random_weights(entries[0].arch, SEED, SIZE)
    suffix = {"ppcls": "_pretrained.pdparams", "gluon": ".params", "gluoncv": ".params", "onnx-zoo": ".onnx"}
    return {e.source: write_weights(e, params, tmp_path / f"{e.source}{suffix.get(e.source, '.pth')}") for e in entries}


def test_timm_and_gluoncv_files_of_one_weight_set_give_one_canonical_file(tmp_path):
    """timm's resnet18.gluon_in1k are GluonCV's resnet18_v1b weights: the same tensors written as a
    timm checkpoint and as a GluonCV .params (GluonCV's names, MXNet's format)."""
    timm_entry, gluoncv_entry = small("timm", "resnet18.gluon_in1k"), small("gluoncv", "resnet18_v1b")
    assert timm_entry.key in gluoncv_entry.same_weights_as or gluoncv_entry.key in timm_entry.same_weights_as
    files = write_one_weight_set(tmp_path, [timm_entry, gluoncv_entry])
    timm_file, gluoncv_file = files["timm"], files["gluoncv"]
    assert_same_file_but_for_rounding(
        [canonical(timm_entry, timm_file, tmp_path / "timm.onnx"), canonical(gluoncv_entry, gluoncv_file, tmp_path / "gluoncv.onnx")]
    )


@pytest.mark.slow
def test_gluon_gluoncv_and_onnx_zoo_files_of_one_weight_set_give_one_canonical_file(tmp_path):
    """One MXNet .params file read by the gluon and gluoncv sources, and the ONNX zoo's file of the
    same seeded weights (exported by MXNet at opset 7, upgraded by onnx)."""
    gluon_entry, gluoncv_entry, zoo_entry = (
        small("gluon", "resnet18_v1"),
        small("gluoncv", "resnet18_v1"),
        small("onnx-zoo", "resnet18-v1-7"),
    )
    assert gluoncv_entry.key in gluon_entry.same_weights_as and zoo_entry.exported_from == gluon_entry.key
    written = write_one_weight_set(tmp_path, [gluon_entry, zoo_entry])
    params, zoo_file = written["gluon"], written["onnx-zoo"]
    files = [
        canonical(gluon_entry, params, tmp_path / "gluon.onnx"),
        canonical(gluoncv_entry, params, tmp_path / "gluoncv.onnx"),
        canonical(zoo_entry, zoo_file, tmp_path / "zoo.onnx"),
    ]
    assert_same_file_but_for_rounding(files)
    # and the check can fail: one tensor of one file nudged by 1e-5 of its scale
    model = onnx.load(str(files[1]))
    tensor = next(t for t in model.graph.initializer if t.name == "layer3.1.conv2.weight")
    value = numpy_helper.to_array(tensor).copy()
    value.flat[0] += 1e-5 * np.abs(value).max()
    tensor.CopyFrom(numpy_helper.from_array(value, tensor.name))
    onnx.save(model, str(tmp_path / "nudged.onnx"))
    with pytest.raises(AssertionError, match="layer3.1.conv2.weight differs"):
        assert_same_file_but_for_rounding([files[0], tmp_path / "nudged.onnx"])


# -- one weight set in timm, mmpretrain and PaddleClas formats --


ACCEPTANCE = {
    "resnet50": (("timm", "resnet50.a1_in1k"), ("mmpretrain", "resnet50_8xb32_in1k"), ("ppcls", "ResNet50")),
    "resnet50_d": (("timm", "resnet50d.a1_in1k"), ("mmpretrain", "resnetv1d50_8xb32_in1k"), ("ppcls", "ResNet50_vd")),
    "resnext101_32x4d": (
        ("timm", "resnext101_32x4d.fb_swsl_ig1b_ft_in1k"),
        ("mmpretrain", "resnext101-32x4d_8xb32_in1k"),
        ("ppcls", "ResNeXt101_32x4d"),
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("arch", sorted(ACCEPTANCE))
def test_one_weight_set_in_timm_mmpretrain_and_paddleclas_formats_gives_one_canonical_file(tmp_path, arch):
    entries = [small(*case) for case in ACCEPTANCE[arch]]
    assert {e.arch.id for e in entries} == {arch}
    files = write_one_weight_set(tmp_path, entries)
    assert_same_file_but_for_rounding([canonical(e, files[e.source], tmp_path / f"{e.source}.onnx") for e in entries])
