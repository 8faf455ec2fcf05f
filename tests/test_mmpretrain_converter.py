"""mmpretrain source: zoocheck's own torch implementation of mmpretrain's ResNet / ResNetV1c /
ResNetV1d / ResNeXt ImageNet classifiers, proved against the real mmpretrain 1.2.0 (a test-only
dependency) with the same checkpoint, and the written ONNX against zoocheck's forward. The ResNets
are fully convolutional: their entries take 64-pixel inputs, random weights calibrated at that size."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from conftest import assert_not_degenerate, assert_same, at_size, inputs_for, make_entry, random_checkpoint, run_onnx  # noqa: E402

from zoocheck.checks.images import bundled_photos  # noqa: E402
from zoocheck.converters import WeightsError, converter_for  # noqa: E402
from zoocheck.converters.mmpretrain import backbone_config, build_classifier  # noqa: E402
from zoocheck.converters.normalize import read_metadata  # noqa: E402
from zoocheck.converters.pipeline import convert  # noqa: E402
from zoocheck.families.resnet.spec import ResNetSpec, resnet  # noqa: E402
from zoocheck.zoo_registry.types import Architecture, Entry  # noqa: E402


def _entry(arch: Architecture) -> Entry:
    return at_size(make_entry("mmpretrain", f"test_{arch.id}", arch, f"{arch.id}_test"), 64)


R18 = Architecture(resnet(18))
V1C18 = Architecture(resnet(18, "c"))  # mmpretrain's ResNetV1c/V1d take depth 18: BasicBlock + deep stem
V1D18 = Architecture(resnet(18, "d"))
R50 = Architecture(resnet(50))
V1C50 = Architecture(resnet(50, "c"))
V1D50 = Architecture(resnet(50, "d"))
X50 = Architecture(resnet(50, groups=32, width_per_group=4))
X101_8D = Architecture(resnet(101, groups=32, width_per_group=8))
WRN50 = Architecture(resnet(50, width_per_group=128))


def _mmpretrain_classifier(models, arch: Architecture):
    """mmpretrain's ImageClassifier as its configs declare it (configs/_base_/models/*.py)."""
    feat_dim = 512 if arch.structure.depth in (18, 34) else 2048
    return models.build(
        dict(
            type="ImageClassifier",
            backbone=dict(num_stages=4, out_indices=(3,), style="pytorch", **backbone_config(arch)),
            neck=dict(type="GlobalAveragePooling"),
            head=dict(type="LinearClsHead", num_classes=arch.num_classes, in_channels=feat_dim, topk=(1, 5)),
        )
    ).eval()


@pytest.mark.parametrize("arch", [R18, V1C18, V1D18, R50, V1C50, V1D50, X50, X101_8D, WRN50], ids=lambda a: a.id)
def test_parameter_names_and_shapes_are_mmpretrains(mmpretrain_models, arch):
    theirs = {k: tuple(v.shape) for k, v in _mmpretrain_classifier(mmpretrain_models, arch).state_dict().items()}
    ours = {k: tuple(v.shape) for k, v in build_classifier(arch).state_dict().items()}
    assert ours == theirs


def test_resnetv1d_downsample_has_the_avgpool_first():
    keys = build_classifier(V1D50).state_dict()
    assert "backbone.layer2.0.downsample.1.weight" in keys and "backbone.layer2.0.downsample.2.running_var" in keys
    assert "backbone.layer1.0.downsample.0.weight" in keys  # stride 1: no pool, conv is index 0
    assert "backbone.stem.0.conv.weight" in keys and "backbone.stem.2.bn.weight" in keys


def _forward_parity(tmp_path, models, arch, seed):
    entry = _entry(arch)
    path = random_checkpoint(entry, tmp_path / f"{arch.id}.pth", seed)
    checkpoint = torch.load(path, weights_only=True)
    assert set(checkpoint) == {"meta", "state_dict"} and all(k.startswith(("backbone.", "head.fc.")) for k in checkpoint["state_dict"])
    theirs = _mmpretrain_classifier(models, arch)
    from mmengine.runner import load_checkpoint

    load_checkpoint(theirs, str(path), map_location="cpu", strict=True)  # mmpretrain's own loader
    x = inputs_for(entry)
    with torch.no_grad():
        reference = theirs(torch.from_numpy(x), mode="tensor").numpy()
    native = converter_for("mmpretrain").load(entry, path)
    ours = native.forward(x)
    assert_not_degenerate(ours, len(bundled_photos()))
    assert_same(reference, ours, 1e-5)
    return entry, path, x, ours


@pytest.mark.parametrize(
    "arch", [R18, V1C18, V1D18, pytest.param(X50, marks=pytest.mark.slow), pytest.param(V1D50, marks=pytest.mark.slow)], ids=lambda a: a.id
)
def test_forward_equals_mmpretrain_on_the_same_checkpoint(tmp_path, mmpretrain_models, arch):
    _forward_parity(tmp_path, mmpretrain_models, arch, seed=11)


@pytest.mark.parametrize("arch", [V1D18, pytest.param(X50, marks=pytest.mark.slow)], ids=lambda a: a.id)
def test_checkpoint_converts_and_onnx_matches(tmp_path, arch):
    entry = _entry(arch)
    path = random_checkpoint(entry, tmp_path / "ckpt.pth", 5)
    x = inputs_for(entry)
    conversion = convert(entry, output=tmp_path / "out.onnx", weights=path, inputs=x)
    assert conversion.ok, conversion.failure
    assert_same(conversion.native_outputs, run_onnx(conversion.onnx_path, x), 1e-3)
    for n in (1, 3):
        assert run_onnx(conversion.onnx_path, x[:n]).shape == (n, 1000)
    meta = read_metadata(conversion.onnx_path)
    assert meta["random_weights"] is False and meta["arch"] == arch.id and meta["preprocess"]["image_library"] == "cv2"


def test_random_weights_match_the_written_checkpoint(tmp_path):
    entry = _entry(V1D18)
    x = inputs_for(entry, n_random=0)[:2]
    random = converter_for("mmpretrain").load(entry, None, random_seed=5).forward(x)
    written = converter_for("mmpretrain").load(entry, random_checkpoint(entry, tmp_path / "c.pth", 5)).forward(x)
    np.testing.assert_array_equal(random, written)


def test_checkpoint_of_another_variant_is_refused(tmp_path):
    path = random_checkpoint(_entry(R18), tmp_path / "resnet18_8xb32_in1k.pth", 1)
    with pytest.raises(WeightsError) as exc:
        converter_for("mmpretrain").load(_entry(V1D18), path)
    message = str(exc.value)
    assert "\n" not in message and "resnet18_8xb32_in1k.pth" in message
    assert "missing keys: backbone.stem.0.conv.weight" in message and "unexpected keys: backbone.conv1.weight" in message


def test_torchvision_state_dict_is_not_an_mmpretrain_checkpoint(tmp_path):
    torchvision = pytest.importorskip("torchvision")
    torch.save(torchvision.models.resnet18().state_dict(), tmp_path / "resnet18-f37072fd.pth")
    with pytest.raises(WeightsError, match=r"resnet18-f37072fd.pth: .*missing keys: backbone.conv1.weight"):
        converter_for("mmpretrain").load(_entry(R18), tmp_path / "resnet18-f37072fd.pth")


def test_architectures_mmpretrain_does_not_have_are_refused():
    with pytest.raises(WeightsError, match="variant 'resnet50_v1'"):
        converter_for("mmpretrain").load(_entry(Architecture(resnet(50, "v1"))), None, random_seed=0)
    with pytest.raises(WeightsError, match="ResNeXt of depth 26"):
        converter_for("mmpretrain").load(_entry(Architecture(resnet(26, groups=32, width_per_group=4))), None, random_seed=0)
    with pytest.raises(WeightsError, match="variant 'resnet18_proj'"):  # PaddleClas's ResNet18
        converter_for("mmpretrain").load(_entry(Architecture(ResNetSpec((2, 2, 2, 2), "basic", project_first=True))), None, random_seed=0)


def test_registry_entries_build(tmp_path):
    from zoocheck.zoo_registry import list_entries

    # the other families' entries: tests/test_mmpretrain_families.py
    entries = [e for e in list_entries("mmpretrain") if e.arch.family == "resnet"]
    for entry in entries:
        backbone_config(entry.arch)  # every listed config maps onto a backbone zoocheck builds
    if entries:
        entry = next(e for e in entries if e.arch.structure.depth == 18)
        assert dataclasses.asdict(entry.preprocess)["image_library"] == "cv2"
        assert converter_for("mmpretrain").load(entry, None, random_seed=0).forward(inputs_for(entry, n_random=0)[:1]).shape == (1, 1000)
