"""The ConvNeXt and ConvNeXt-V2 families: every shared-table row is an entry; the numpy forward is
torchvision's, timm's and mmpretrain's network; each zoo's export (torchvision, timm's Linear and
1x1-conv MLPs, mmpretrain) becomes the canonical graph of its id and computes what its framework
computes; ``compare --random-weights`` of one id across zoos says identical. At 64 pixels."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from conftest import error_beyond_fp32_noise, max_rel
from onnx import numpy_helper
from test_canonical_efficientnet import PARITY_TOL, SEED, SIZE, _convert, check_numpy_forward

from zoocheck.cli import main
from zoocheck.converters.graph import (
    NoCanonicalForm,
    canonical_fingerprint,
    resolve_form,
    template_for,
)
from zoocheck.converters.graph.fingerprint import fingerprint
from zoocheck.converters.pipeline import convert, native_layer_outputs
from zoocheck.converters.weights import layer_modules, random_weights, to_layout
from zoocheck.converters.weights.layouts import channels_first_layers
from zoocheck.converters.weights.random import calibration_batch
from zoocheck.families.convnext.canonical import forward
from zoocheck.zoo_registry import get_entry, list_entries

SHARED = Path(__file__).resolve().parents[2] / "shared" / "reference" / "published" / "families"
#: shared table -> registry source
SOURCES = {"torchvision.csv": "torchvision", "timm.csv": "timm", "mmpretrain.csv": "mmpretrain", "paddleclas.csv": "ppcls"}


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/reference not present (not a workplace checkout)")
@pytest.mark.parametrize("table", list(SOURCES))
def test_every_shared_row_is_an_entry_with_its_numbers(table):
    """Each ConvNeXt / ConvNeXt-V2 row of the shared table is an entry of its family carrying the
    row's numbers at the row's input size (no row of these tables is excluded)."""
    source = SOURCES[table]
    with open(SHARED / table, encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["family"] in ("convnext", "convnext_v2")]
    assert rows
    for row in rows:
        entry = get_entry(source, f"{row['model']}.{row['variant']}" if source == "torchvision" else row["model"])
        assert entry.arch.family == row["family"], entry.key
        [pub] = [p for p in entry.published if p.input_size == int(row["input_size"]) and p.top1 == float(row["top1"])]
        assert pub.top5 == float(row["top5"]) and pub.params_m == float(row["params_m"]), entry.key
        assert entry.weights.url == row["weights_url"] or (not row["weights_url"] and entry.hub_id)  # hub-only weights
        assert entry.discrepancies == tuple(t for t in entry.discrepancies if t in row["notes"])


def test_preprocessing_and_ids_across_zoos():
    """The zoos' own evaluation preprocessing (squash at 384, PaddleClas's PIL bicubic) and one id
    per function: torchvision, timm, mmpretrain and PaddleClas's tiny are one network, as are
    timm's and mmpretrain's V2 atto (1x1-conv MLP vs Linear: the same function)."""
    mm384 = get_entry("mmpretrain", "convnext-base_in21k-pre-3rdparty_in1k-384px").preprocess
    assert (mm384.resize_mode, mm384.resize, mm384.crop, mm384.image_library) == ("squash", 384, 384, "pil")
    paddle = get_entry("ppcls", "ConvNeXt_tiny").preprocess
    assert (paddle.interpolation, paddle.image_library, paddle.resize, paddle.size_rounding) == ("bicubic", "pil", 256, "round")
    assert get_entry("ppcls", "MobileNetV2_x0_25").preprocess.image_library == "cv2"
    timm384 = get_entry("timm", "convnext_tiny.fb_in22k_ft_in1k_384")
    assert timm384.preprocess.resize_mode == "squash" and "convnext_tiny_384_in22ft1k" in timm384.aliases
    tiny = {
        get_entry(*key).arch.id
        for key in [
            ("torchvision", "convnext_tiny.IMAGENET1K_V1"),
            ("timm", "convnext_tiny.fb_in1k"),
            ("mmpretrain", "convnext-tiny_32xb128_in1k"),
            ("ppcls", "ConvNeXt_tiny"),
        ]
    }
    assert tiny == {"convnext_tiny"}
    assert (
        get_entry("timm", "convnextv2_atto.fcmae_ft_in1k").arch.id
        == get_entry("mmpretrain", "convnext-v2-atto_fcmae-pre_3rdparty_in1k").arch.id
        == "convnext_v2_atto"
    )
    ids = {e.arch.id for e in list_entries("timm") if e.arch.family == "convnext"}
    assert {"convnext_nano_overlapstem", "convnext_tiny_headnormfirst", "convnext_large_mlphead1536", "convnext_xxlarge_lneps1e-5"} <= ids


def test_canonical_form_is_refused_where_not_drawn():
    """timm's overlapping stems, head-norm-first and MLP heads stay native; below opset 9 (no Erf
    for GELU) the template says so."""
    ols = get_entry("timm", "convnext_nano_ols.d1h_in1k").arch
    assert resolve_form(ols, None) == "native"
    with pytest.raises(NoCanonicalForm, match="'overlap' stem"):
        template_for(ols, 17)
    tiny = get_entry("torchvision", "convnext_tiny.IMAGENET1K_V1").arch
    with pytest.raises(NoCanonicalForm, match="Erf .opset 9"):
        template_for(tiny, 8)
    assert canonical_fingerprint(tiny, 17) == canonical_fingerprint(get_entry("mmpretrain", "convnext-tiny_32xb128_in1k").arch, 17)


@pytest.mark.parametrize(
    "source, name",
    [
        ("timm", "convnext_atto"),
        ("timm", "convnextv2_atto"),
        pytest.param("torchvision", "convnext_tiny", marks=pytest.mark.slow),
        pytest.param("timm", "convnextv2_tiny", marks=pytest.mark.slow),
    ],
)
def test_numpy_forward_is_the_librarys_network(source, name):
    """The forward the random weights are drawn with computes torchvision's / timm's network
    (Linear and 1x1-conv MLPs, GRN) from the canonical weights under the library's names, to 1e-9
    in float64; its float32 (erf approximated) within 1e-5."""
    check_numpy_forward(source, name, fp32_tol=1e-5)


def test_numpy_forward_is_mmpretrains_network():
    """zoocheck's torch module of mmpretrain's ConvNeXt-V2 (mmpretrain's parameter names) computes
    the numpy forward of the canonical weights under mmpretrain's layout."""
    import torch

    from zoocheck.families.registry import family_of

    entry = get_entry("mmpretrain", "convnext-v2-atto_fcmae-pre_3rdparty_in1k")
    params = random_weights(entry.arch, SEED, SIZE)
    network = family_of(entry.arch).network("mmpretrain")(entry.arch).double()
    network.load_state_dict({k: torch.from_numpy(v) for k, v in to_layout(params, entry.arch, "mmpretrain").items()}, strict=True)
    x = calibration_batch(2, SIZE, 2)
    with torch.no_grad():
        expected = network(torch.from_numpy(x).double()).numpy()
    assert max_rel(expected, forward(entry.arch, params, x)) <= 1e-9


def test_random_weights_keep_every_block_in_play():
    """No bias or shift is zero (a simplifier would drop the addition), the layer scales are
    not ~0, and the logits spread."""
    arch = get_entry("timm", "convnext_atto.d2_in1k").arch
    params = random_weights(arch, SEED, SIZE)
    assert all(np.all(v != 0) for k, v in params.items() if k.endswith(".bias"))
    scales = np.concatenate([v for k, v in params.items() if k.endswith("layer_scale.weight")])
    assert scales.min() > 0.05
    logits = forward(arch, params, calibration_batch(3, SIZE, 2))
    assert np.ptp(logits, axis=1).min() > 1


@pytest.mark.parametrize(
    "source, name",
    [
        pytest.param("torchvision", "convnext_tiny", marks=pytest.mark.slow),
        ("timm", "convnext_atto.d2_in1k"),
        ("mmpretrain", "convnext-v2-atto_fcmae-pre_3rdparty_in1k"),
        pytest.param("timm", "convnextv2_atto.fcmae_ft_in1k", marks=pytest.mark.slow),
        pytest.param("timm", "convnext_tiny.fb_in1k", marks=pytest.mark.slow),
        pytest.param("mmpretrain", "convnext-tiny_32xb128_in1k", marks=pytest.mark.slow),
        pytest.param("timm", "convnextv2_tiny.fcmae_ft_in1k", marks=pytest.mark.slow),
    ],
)
def test_canonical_file(tmp_path, source, name):
    """torch.onnx's export of each zoo's network (timm's conv_mlp MLP as 1x1 convs and its GRN on
    NCHW or NHWC tensors, torchvision's layer scale on NCHW, mmpretrain's Linear layers) is the
    template of its id filled in, computing the framework's fp64 forward."""
    entry, model = _convert(tmp_path, source, name)
    ops = {n.op_type for n in model.graph.node}
    assert {"LayerNormalization", "MatMul", "Erf", "Transpose"} <= ops and "Reshape" not in ops
    kernels = {tuple(a.ints) for n in model.graph.node if n.op_type == "Conv" for a in n.attribute if a.name == "kernel_shape"}
    assert kernels == {(4, 4), (2, 2), (7, 7)}  # the pointwise layers are MatMuls
    assert sum(n.op_type == "Gemm" for n in model.graph.node) == 1  # the classifier only
    assert ("ReduceL2" in ops) == entry.arch.structure.grn


@pytest.mark.parametrize(
    "source, name",
    [
        ("timm", "convnext_atto.d2_in1k"),
        # counterparts: the timm case above (the decomposition), test_canonical_file (this export at 17)
        pytest.param("mmpretrain", "convnext-v2-atto_fcmae-pre_3rdparty_in1k", marks=pytest.mark.slow),
    ],
)
def test_below_opset_17_every_layer_norm_is_the_decomposition(tmp_path, source, name):
    """At opset 16 torch.onnx writes each LayerNorm as ReduceMean, Sub, Pow, ReduceMean, Add,
    Sqrt, Div, Mul, Add, the form the template states there; timm's 1x1-convolution MLP after
    such a LayerNorm is still computed channels last. The file is the template at 16 and computes
    the framework's fp64 forward."""
    entry = dataclasses.replace(get_entry(source, name), input_size=SIZE)
    batch = calibration_batch(11, SIZE, 2)
    conversion = convert(entry, output=tmp_path / "x.onnx", random_seed=SEED, inputs=batch, opset=16, isolate=False)
    assert conversion.ok, conversion.failure
    model = onnx.load(str(conversion.onnx_path))
    ops = {n.op_type for n in model.graph.node}
    assert "LayerNormalization" not in ops and {"ReduceMean", "Sqrt", "MatMul"} <= ops
    assert fingerprint(model) == canonical_fingerprint(entry.arch, 16, SIZE) != canonical_fingerprint(entry.arch, 17, SIZE)
    outputs = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"input": batch})[0]
    assert error_beyond_fp32_noise(conversion, outputs) <= PARITY_TOL


@pytest.mark.parametrize(
    "a, b",
    [
        ("timm:convnextv2_atto.fcmae_ft_in1k", "mmpretrain:convnext-v2-atto_fcmae-pre_3rdparty_in1k"),
        pytest.param("torchvision:convnext_tiny", "timm:convnext_tiny.fb_in1k", marks=pytest.mark.slow),
        pytest.param("timm:convnext_tiny.fb_in1k", "mmpretrain:convnext-tiny_32xb128_in1k", marks=pytest.mark.slow),
    ],
)
def test_compare_random_weights_says_identical(tmp_path, capsys, a, b):
    """One set of weights written in each zoo's own checkpoint format and read back by its
    converter: the canonical files are identical (timm's 1x1-conv MLP vs mmpretrain's Linear)."""
    assert main(["compare", a, b, "--random-weights", "--results", str(tmp_path)]) == 0
    assert "COMPARE IDENTICAL" in capsys.readouterr().out


#: timm's ConvNeXts whose MLP is 1x1 convolutions (``conv_mlp``), V1 and V2
TIMM_CONV_MLP = [f"convnext{v}_{size}" for v in ("", "v2") for size in ("atto", "femto", "pico", "nano")]


def test_only_timms_conv_mlp_taps_are_channels_first():
    """timm's atto to nano (V1 and V2) hand every block's fc2 output channels first (a 1x1
    convolution's NCHW); its tiny and up, torchvision's, mmpretrain's and PaddleClas's Linear
    layers hand it channels last, the canonical tensor's layout."""
    for name in TIMM_CONV_MLP:
        entry = next(e for e in list_entries("timm") if e.builder == name)
        assert channels_first_layers(entry.arch, "timm") == set(layer_modules(entry.arch)) != set(), name
        assert not channels_first_layers(entry.arch, "mmpretrain")
    linear = [
        ("timm", "convnext_tiny.fb_in1k"),
        ("timm", "convnextv2_tiny.fcmae_ft_in1k"),
        ("torchvision", "convnext_tiny.IMAGENET1K_V1"),
        ("mmpretrain", "convnext-v2-atto_fcmae-pre_3rdparty_in1k"),
        ("ppcls", "ConvNeXt_tiny"),
    ]
    for source, name in linear:
        arch = get_entry(source, name).arch
        assert layer_modules(arch) and not channels_first_layers(arch, {"ppcls": "paddle"}.get(source, source)), name


@pytest.mark.parametrize(
    "source, name",
    [
        ("timm", "convnext_atto.d2_in1k"),
        pytest.param("timm", "convnextv2_atto.fcmae_ft_in1k", marks=pytest.mark.slow),
        pytest.param("timm", "convnext_tiny.fb_in1k", marks=pytest.mark.slow),
        pytest.param("mmpretrain", "convnext-v2-atto_fcmae-pre_3rdparty_in1k", marks=pytest.mark.slow),
        pytest.param("ppcls", "ConvNeXt_tiny", marks=pytest.mark.slow),
    ],
)
def test_layer_taps_are_the_canonical_files_tensors(tmp_path, source, name):
    """Each zoo's per-layer outputs (every block's fc2, timm's 1x1 convolutions' moved channels
    last) are the canonical file's tensors of their names, in its layout, within 1e-4 of their
    range; with one block's fc2 weight wrong in the file, the first divergence is that block's fc2."""
    from zoocheck.checks.divergence import first_divergence_from_layers
    from zoocheck.converters.onnx_runtime import intermediate_outputs

    if source == "ppcls":
        pytest.importorskip("paddle")
    entry, model = _convert(tmp_path, source, name)
    batch = calibration_batch(11, SIZE, 2)
    layers = native_layer_outputs(entry, None, SEED, batch, isolate=False).layers
    taps = list(layer_modules(entry.arch))
    assert layers is not None and list(layers) == [*taps, "logits"]
    path = tmp_path / f"{source}.onnx"
    for tap, value in intermediate_outputs(path, taps, batch).items():
        assert layers[tap].shape == value.shape and max_rel(value.reshape(len(batch), -1), layers[tap].reshape(len(batch), -1)) <= 1e-4, tap

    wrong_block = "stage3.2"
    weight = next(t for t in model.graph.initializer if t.name == f"{wrong_block}.fc2.weight")
    weight.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weight) * np.float32(1.5), weight.name))
    onnx.save(model, tmp_path / "wrong.onnx")
    divergence = first_divergence_from_layers(layers, tmp_path / "wrong.onnx", batch, tolerance=1e-4, arch=entry.arch)
    assert divergence is not None and divergence.output == f"{wrong_block}.fc2.add", divergence
    assert divergence.nodes_compared == taps.index(divergence.output) and divergence.max_rel_err > 1e-2
