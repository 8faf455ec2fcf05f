"""torchvision and timm sources: checkpoints in the libraries' real on-disk formats (bare .pth,
wrapped, DataParallel-prefixed, .safetensors) go through the real loading path and the conversion
pipeline; the written ONNX is compared with zoocheck's native forward and with the library's own
model holding the same state_dict, on real photographs and random tensors."""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
timm = pytest.importorskip("timm")

import onnx  # noqa: E402
from conftest import assert_not_degenerate, assert_same, at_size, inputs_for, random_checkpoint, run_onnx  # noqa: E402

from zoocheck.checks.images import bundled_photos  # noqa: E402
from zoocheck.checks.library_preprocess import timm_transform, torchvision_transform  # noqa: E402
from zoocheck.checks.preprocess import preprocess_image  # noqa: E402
from zoocheck.converters import WeightsError, converter_for  # noqa: E402
from zoocheck.converters.normalize import read_metadata  # noqa: E402
from zoocheck.converters.pipeline import convert  # noqa: E402
from zoocheck.converters.torch_common import read_state_dict  # noqa: E402
from zoocheck.converters.weights_resolution import MissingWeightsError, resolve_weights  # noqa: E402
from zoocheck.zoo_registry.names import timm_style  # noqa: E402

SEED = 7
SMALL = 64  # the input size of the convolutional networks converted here (calibrated at that size)


def _library_model(entry, state):
    """The library's own model (not zoocheck's build path) holding ``state``."""
    if entry.source == "torchvision":
        model = getattr(torchvision.models, entry.builder)(weights=None, num_classes=entry.arch.num_classes)
    else:
        model = timm.create_model(entry.builder, pretrained=False, num_classes=entry.arch.num_classes)
    model.load_state_dict(state, strict=True)
    return model.eval()


# (source, name resolve() is given, checkpoint file name, wrapper, DataParallel prefix)
CASES = [
    pytest.param("torchvision", "resnet18", "resnet18-f37072fd.pth", None, False, id="torchvision-resnet18-pth"),
    pytest.param("timm", "resnet26d", "model.safetensors", None, False, id="timm-resnet26d-safetensors"),
    pytest.param("timm", "RESNET18D.ra2_in1k", "resnet18d.pth", "state_dict", True, id="timm-resnet18d-wrapped-dataparallel"),
    pytest.param("torchvision", "resnet18", "resnet18-f37072fd.pth", "model", False, id="torchvision-resnet18-model-wrapped"),
    pytest.param(
        "torchvision",
        "resnext50_32x4d",
        "resnext50_32x4d-1a0047aa.pth",
        "model",
        False,
        id="torchvision-resnext50-wrapped",
        marks=pytest.mark.slow,
    ),
    pytest.param(
        "timm", "gluon_resnext50_32x4d", "model.safetensors", None, False, id="timm-gluon-resnext50-safetensors", marks=pytest.mark.slow
    ),
]


@pytest.mark.parametrize("source,name,file_name,wrapper,data_parallel", CASES)
def test_checkpoint_converts_and_matches_native_and_library(tmp_path, source, name, file_name, wrapper, data_parallel):
    resolved = converter_for(source).resolve(name)
    assert resolved is not None
    entry = at_size(resolved, SMALL)
    weights = random_checkpoint(entry, tmp_path / file_name, SEED, wrapper=wrapper, data_parallel=data_parallel)
    x = inputs_for(entry)
    conversion = convert(entry, output=tmp_path / "out" / "model.onnx", weights=weights, inputs=x, isolate=source == "torchvision")
    assert conversion.ok, conversion.failure
    native = conversion.native_outputs
    assert_not_degenerate(native, len(bundled_photos()))
    assert_same(native, run_onnx(conversion.onnx_path, x), 1e-3)
    # the library's own model with the same tensors computes the same function as zoocheck's load
    with torch.no_grad():
        library = _library_model(entry, read_state_dict(weights))(torch.from_numpy(x)).numpy()
    assert_same(library, native, 1e-5)
    meta = read_metadata(conversion.onnx_path)
    assert meta["random_weights"] is False and meta["weights"]["file"] == str(weights)
    assert meta["versions"][source] == (torchvision if source == "torchvision" else timm).__version__.split("+")[0]


@pytest.mark.parametrize(
    "source,name",
    [("timm", "mobilenetv3_large_100"), ("torchvision", "mobilenet_v3_large")],  # not efficientnet_b0: a random one is
    # ill-conditioned (torch float32 vs float64 already differ by ~1e-3 of the logit range)
)
def test_any_library_classifier_converts_by_its_own_name(tmp_path, source, name):
    entry = converter_for(source).resolve(name)
    # a name the library knows gets its family's architecture, as the registry's rows do
    assert entry.builder == name and entry.arch == timm_style(name, source)
    assert entry.arch.family == "mobilenet_v3"
    entry = at_size(entry, SMALL)
    x = inputs_for(entry)
    conversion = convert(entry, output=tmp_path / f"{name}.onnx", random_seed=SEED, inputs=x, isolate=False)
    assert conversion.ok, conversion.failure
    assert_not_degenerate(conversion.native_outputs, len(bundled_photos()))
    assert_same(conversion.native_outputs, run_onnx(conversion.onnx_path, x), 1e-3)


def test_onnx_file_follows_the_conventions(tmp_path):
    entry = converter_for("torchvision").resolve("resnet18")
    x = inputs_for(entry, n_random=0)
    out = tmp_path / "resnet18.onnx"
    conversion = convert(entry, output=out, random_seed=SEED, inputs=x[:3], isolate=False)
    assert conversion.ok, conversion.failure
    model = onnx.load(str(out))
    assert [i.name for i in model.graph.input] == ["input"]
    assert model.graph.output[0].name == "logits"
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    meta = json.loads(next(p.value for p in model.metadata_props if p.key == "zoocheck"))
    assert meta["random_weights"] is True and meta["random_seed"] == SEED
    assert meta["preprocess"]["resize"] == 256 and meta["versions"]["torch"]
    beside = json.loads((tmp_path / "resnet18.onnx.json").read_text())
    assert beside.pop("onnx_file")["bytes"] == out.stat().st_size and beside == meta
    for n in (1, 3):
        out_n = run_onnx(out, x[:n])
        assert out_n.shape == (n, 1000)
        assert_same(conversion.native_outputs[:n], out_n, 1e-3)


def _stored_floats(path) -> int:
    return sum(int(np.prod(t.dims)) for t in onnx.load(str(path)).graph.initializer)


def test_bit_std_conv_weights_are_stored_once_standardized(tmp_path):
    """A small ResNetV2 built as timm builds BiT (StdConv2d, eps 1e-8; random weights; GroupNorm of 8
    groups for its narrow layers): the file holds each standardized weight once, as a plain Conv's,
    and computes the same function."""
    from functools import partial

    from timm.layers import GroupNormAct, StdConv2d
    from timm.models.resnetv2 import ResNetV2

    from zoocheck.converters.torch_common import TorchModel

    torch.manual_seed(SEED)
    module = ResNetV2(
        [1, 1, 1, 1],
        channels=(32, 64, 128, 256),
        stem_chs=16,
        stem_type="fixed",
        conv_layer=partial(StdConv2d, eps=1e-8),
        norm_layer=partial(GroupNormAct, num_groups=8),
        num_classes=10,
    )
    parameters = sum(p.numel() for p in module.parameters())
    model = TorchModel(module, 64, {})
    x = np.random.default_rng(SEED).standard_normal((3, 3, 64, 64)).astype(np.float32)
    before = model.forward(x)
    out = tmp_path / "bit.onnx"
    model.export_onnx(out, 17)
    np.testing.assert_array_equal(model.forward(x), before)  # the native model computes what it did, bit for bit
    assert abs(_stored_floats(out) / parameters - 1) < 0.01  # (as timm's forward exports: 2x)
    ops = {n.op_type for n in onnx.load(str(out)).graph.node}
    assert "Conv" in ops and not ops & {"BatchNormalization", "ReduceMean"}  # no standardization left
    assert_same(before, run_onnx(out, x), 1e-5)


@pytest.mark.slow
def test_a_bit_network_file_is_no_bigger_than_its_weights(tmp_path):
    from zoocheck.zoo_registry import get_entry

    entry = get_entry("timm", "resnetv2_50x1_bit")
    x = inputs_for(entry, n_random=1)
    conversion = convert(entry, output=tmp_path / "bit.onnx", random_seed=SEED, inputs=x, graph="native")
    assert conversion.ok, conversion.failure
    parameters = sum(p.numel() for p in timm.create_model(entry.builder, pretrained=False).parameters())
    assert conversion.onnx_path.stat().st_size < 4 * parameters * 1.01
    assert_same(conversion.native_outputs, run_onnx(conversion.onnx_path, x), 1e-3)


def test_random_weights_are_seeded_and_the_written_file_holds_them(tmp_path):
    entry = at_size(converter_for("torchvision").resolve("resnet18"), SMALL)
    conv = converter_for("torchvision")
    x = inputs_for(entry, n_random=1)[-2:]
    a, b = conv.load(entry, None, random_seed=3).forward(x), conv.load(entry, None, random_seed=3).forward(x)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - conv.load(entry, None, random_seed=4).forward(x)).max() > 1e-2
    path = random_checkpoint(entry, tmp_path / "r.pth", 3)
    np.testing.assert_array_equal(conv.load(entry, path).forward(x), a)
    # batch norm is not the identity: the running statistics were perturbed
    bn = dict(conv.load(entry, path).module.named_modules())["layer1.0.bn1"]
    assert bn.running_var.min() > 0 and not torch.allclose(bn.running_var, torch.ones_like(bn.running_var))
    assert bn.running_mean.abs().max() > 0


def test_a_network_built_with_undrawn_parameters_is_the_same_network_once_loaded():
    """Built inside ``undrawn_parameters`` no initialiser draws (torch's generator is where it was)
    and the buffers are computed as ever (Swin's position index); loaded with another build's
    weights, it computes what that build computes."""
    import timm

    from zoocheck.converters.torch_common import undrawn_parameters

    def build():
        return timm.create_model("swin_tiny_patch4_window7_224", pretrained=False, embed_dim=24, depths=(1, 1), num_heads=(1, 2)).eval()

    torch.manual_seed(3)
    drawn = build()
    generator = torch.random.get_rng_state()
    with undrawn_parameters():
        undrawn = build()
    assert torch.equal(torch.random.get_rng_state(), generator)
    buffers = dict(drawn.named_buffers())
    assert all(torch.equal(value, buffers[name]) for name, value in undrawn.named_buffers())
    undrawn.load_state_dict(drawn.state_dict())
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 3, 224, 224)).astype(np.float32))
    with torch.no_grad():
        assert torch.equal(undrawn(x), drawn(x))


def test_both_forwards_run_in_a_forked_process_and_equal_the_ones_here():
    """``start_forwards`` computes the float32 and float64 forwards in a process forked from this
    one (one core), equal to the forwards here within the arithmetic's rounding, and leaves this
    process's module in float32 and its torch thread count as they were."""
    entry = at_size(converter_for("torchvision").resolve("resnet18"), SMALL)
    native = converter_for("torchvision").load(entry, None, random_seed=5)
    x = inputs_for(entry, n_random=1)[-3:]
    threads = torch.get_num_threads()
    fp32, fp64 = native.start_forwards(x).result()
    assert torch.get_num_threads() == threads and all(p.dtype == torch.float32 for p in native.module.parameters())
    here32, here64 = native.forward(x), native.forward_fp64(x)
    assert fp32.dtype == np.float32 and np.abs(fp32 - here32).max() <= 1e-5 * np.ptp(here32)
    assert fp64.dtype == np.float64 and np.abs(fp64 - here64).max() <= 1e-12 * np.ptp(here64)
    assert 0 < np.abs(fp64 - fp32).max() < 1e-3 * np.ptp(fp64)

    native.forward = lambda batch: np.full((len(batch), 1), os.getpid(), np.float32)  # where it runs
    assert native.start_forwards(x).result()[0][0, 0] != os.getpid()


def test_forwards_of_weights_too_large_for_a_float64_copy_run_here_in_place(monkeypatch):
    """Over ``FP64_TWIN_UP_TO`` no process holds a second copy: both forwards run here, the module
    cast to float64 and back, the same bits as each forward alone."""
    from zoocheck.converters import torch_common

    monkeypatch.setattr(torch_common, "FP64_TWIN_UP_TO", 0)
    entry = at_size(converter_for("torchvision").resolve("resnet18"), SMALL)
    native = converter_for("torchvision").load(entry, None, random_seed=5)
    x = inputs_for(entry, n_random=1)[-2:]
    fp32, fp64 = native.start_forwards(x).result()
    assert all(p.dtype == torch.float32 for p in native.module.parameters())
    assert np.array_equal(fp32, native.forward(x)) and np.array_equal(fp64, native.forward_fp64(x))
    native.forward = lambda batch: np.full((len(batch), 1), os.getpid(), np.float32)
    assert native.start_forwards(x).result()[0][0, 0] == os.getpid()


def test_forwards_run_here_where_no_process_can_be_forked(monkeypatch):
    def no_fork():
        raise BlockingIOError("Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    entry = at_size(converter_for("torchvision").resolve("resnet18"), SMALL)
    native = converter_for("torchvision").load(entry, None, random_seed=5)
    native.forward = lambda batch: np.full((len(batch), 1), os.getpid(), np.float32)
    fp32, fp64 = native.start_forwards(inputs_for(entry, n_random=1)[-1:]).result()
    assert fp32[0, 0] == os.getpid() and fp64.dtype == np.float64


@pytest.mark.parametrize("isolate", [True, False])
def test_the_file_is_told_once_written_before_the_forwards_are_waited_for(tmp_path, isolate):
    """``on_written`` hears the finished file (loadable, its description beside it) before
    ``convert`` returns the forwards: parity runs it in onnxruntime meanwhile."""
    entry = at_size(converter_for("torchvision").resolve("resnet18"), SMALL)
    x = inputs_for(entry, n_random=1)[-2:]
    told = []

    def on_written(path):
        told.append((path, read_metadata(path)["model"], path.with_name(path.name + ".json").exists()))

    out = tmp_path / "r18.onnx"
    conversion = convert(entry, output=out, random_seed=SEED, inputs=x, isolate=isolate, on_written=on_written)
    assert conversion.ok and told == [(out, entry.name, True)]
    assert conversion.native_outputs.shape == (2, 1000) and conversion.native_outputs_fp64.dtype == np.float64
    assert_same(conversion.native_outputs, run_onnx(out, x), 1e-4)


# ---- errors --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def resnet18_state():
    entry = converter_for("torchvision").resolve("resnet18")
    return entry, converter_for("torchvision").load(entry, None, random_seed=1).module.state_dict()


def _one_line(exc, file_name):
    message = str(exc.value)
    assert "\n" not in message and file_name in message
    return message


def test_renamed_and_extra_keys_name_the_file_and_the_keys(tmp_path, resnet18_state):
    entry, state = resnet18_state
    state = dict(state)
    state["fc.weights"] = state.pop("fc.weight")
    torch.save(state, tmp_path / "renamed.pth")
    with pytest.raises(WeightsError) as exc:
        converter_for("torchvision").load(entry, tmp_path / "renamed.pth")
    message = _one_line(exc, "renamed.pth")
    assert "missing keys: fc.weight" in message and "unexpected keys: fc.weights" in message


def test_state_dict_of_another_architecture_is_refused(tmp_path, resnet18_state):
    entry, state = resnet18_state
    torch.save(state, tmp_path / "resnet18.pth")
    resnet34 = converter_for("torchvision").resolve("resnet34")
    with pytest.raises(WeightsError) as exc:
        converter_for("torchvision").load(resnet34, tmp_path / "resnet18.pth")
    assert "missing keys: layer1.2" in _one_line(exc, "resnet18.pth")
    resnet18d = converter_for("timm").resolve("resnet18d")
    with pytest.raises(WeightsError) as exc:
        converter_for("timm").load(resnet18d, tmp_path / "resnet18.pth")
    assert "conv1.0.weight" in _one_line(exc, "resnet18.pth")


def test_wrong_shapes_and_unreadable_files(tmp_path, resnet18_state):
    entry, state = resnet18_state
    torch.save({k: v for k, v in state.items()}, tmp_path / "ok.pth")
    ten_classes = dataclasses.replace(entry, arch=dataclasses.replace(entry.arch, num_classes=10))
    with pytest.raises(WeightsError) as exc:
        converter_for("torchvision").load(ten_classes, tmp_path / "ok.pth")
    assert "fc.weight (1000, 512) in file vs (10, 512) in model" in _one_line(exc, "ok.pth")
    (tmp_path / "notes.pth").write_text("not a checkpoint")
    with pytest.raises(WeightsError) as exc:
        converter_for("torchvision").load(entry, tmp_path / "notes.pth")
    _one_line(exc, "notes.pth")
    torch.save({"epoch": 3, "lr": 0.1}, tmp_path / "no_tensors.pth")
    with pytest.raises(WeightsError, match="not a state_dict"):
        converter_for("torchvision").load(entry, tmp_path / "no_tensors.pth")


def test_missing_weights_file(tmp_path):
    entry = converter_for("torchvision").resolve("resnet18")
    with pytest.raises(MissingWeightsError, match="missing.pth"):
        resolve_weights(entry, tmp_path / "missing.pth", None)
    with pytest.raises(WeightsError, match="missing.pth"):
        converter_for("torchvision").load(entry, tmp_path / "missing.pth")


# ---- resolve() and preprocessing -------------------------------------------------------------


def test_resolve_torchvision_names():
    conv = converter_for("torchvision")
    default = conv.resolve("ResNet50")
    assert default.name == "resnet50.IMAGENET1K_V2" and default.aliases == ("resnet50",)
    assert (default.preprocess.resize, default.preprocess.crop) == (232, 224)
    assert default.published[0].top1 == pytest.approx(80.858) and default.published[0].top5 == pytest.approx(95.434)
    assert default.weights.url.endswith("resnet50-11ad3fa6.pth") and default.weights.checksum.matches("11ad3fa6" + "0" * 56)
    v1 = conv.resolve("resnet50.imagenet1k_v1")
    assert v1.name == "resnet50.IMAGENET1K_V1" and v1.preprocess.resize == 256 and v1.aliases == ()
    assert conv.resolve("resnext101_32x8d").arch.id == "resnext101_32x8d"
    assert conv.resolve("wide_resnet50_2").arch.id == "wide_resnet50_2"
    assert conv.resolve("efficientnet_b0").preprocess.interpolation == "bicubic"
    assert conv.resolve("no_such_model") is None and conv.resolve("resnet50.NO_SUCH_TAG") is None
    assert conv.resolve("fasterrcnn_resnet50_fpn") is None  # not a classifier


def test_resolve_timm_names():
    conv = converter_for("timm")
    e = conv.resolve("gluon_resnet50_v1d")  # a name from timm's deprecation table
    assert e.name == "resnet50d.gluon_in1k" and e.builder == "resnet50d" and "gluon_resnet50_v1d" in e.aliases
    assert e.arch.id == "resnet50_d" and e.preprocess.interpolation == "bicubic"
    assert (e.preprocess.resize, e.preprocess.crop) == (256, 224)  # floor(224 / 0.875)
    assert conv.resolve("RESNET50D").aliases == ("resnet50d",)
    assert conv.resolve("resnext50d_32x4d").arch.id == "resnext50_32x4d_d"
    clip = conv.resolve("vit_base_patch16_clip_224.openai_ft_in12k")
    assert clip.label_space == "imagenet-12k" and clip.arch.num_classes == 11821 and clip.preprocess.resize == 248
    assert clip.preprocess.mean[0] == pytest.approx(0.48145466)
    assert conv.resolve("no_such_model") is None and conv.resolve("resnet50.no_such_tag") is None


@pytest.mark.parametrize("name", ["resnet50", "resnet50.IMAGENET1K_V1", "efficientnet_b0", "vit_b_16.IMAGENET1K_SWAG_E2E_V1"])
def test_preprocessing_equals_torchvision_transforms(name):
    entry = converter_for("torchvision").resolve(name)
    transform = torchvision_transform(entry)
    for path in bundled_photos():
        ours = preprocess_image(path, entry.preprocess)
        theirs = transform.apply(path)
        assert ours.shape == theirs.shape
        assert np.abs(ours - theirs).max() < 1e-5, (name, path.name)


@pytest.mark.parametrize(
    "name", ["resnet50d.gluon_in1k", "resnet50.a1_in1k", "vit_base_patch16_clip_224.openai_ft_in12k", "mobilenetv3_large_100"]
)
def test_preprocessing_equals_timm_transforms(name):
    entry = converter_for("timm").resolve(name)
    transform = timm_transform(entry)
    for path in bundled_photos():
        ours = preprocess_image(path, entry.preprocess)
        theirs = transform.apply(path)
        assert ours.shape == theirs.shape
        assert np.abs(ours - theirs).max() < 1e-5, (name, path.name)
