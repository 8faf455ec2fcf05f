"""The Swin family (V1 and V2 in one spec): the numpy forward is torchvision's and timm's network,
from one set of canonical random weights in each library's layout (shifted windows and their
mask, the relative position bias, V2's cosine attention, continuous position bias, post-norm and
patch merging, V2's pretrained windows); ids across zoos; another input size refused."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import assert_forward_is_network, run_model

from zoocheck.families.swin import canonical, layouts, names
from zoocheck.families.swin.spec import SwinSpec
from zoocheck.zoo_registry.types import Architecture

SIZE = 56  # a 14-token map in 7-token windows (shifted, masked), then 7 tokens in one window
CLASSES = 10


def _arch(v2: bool, pretrained_window: tuple[int, ...] = (), stages: int = 2, depths: tuple[int, ...] | None = None) -> Architecture:
    """Two stages at 56 pixels; three at 112 (28, 14 and 7 tokens: two patch mergings); two blocks
    a stage unless ``depths`` says otherwise."""
    spec = SwinSpec(
        dim=32,
        depths=depths or (2,) * stages,
        heads=(2, 4, 8)[:stages],
        window=7,
        image_size=SIZE * 2 ** (stages - 2),
        v2=v2,
        pretrained_window=pretrained_window,
    )
    return Architecture(spec, CLASSES)


def _batch(size: int = SIZE) -> np.ndarray:
    return np.random.default_rng(1).standard_normal((2, 3, size, size))


def _timm(arch: Architecture, params):
    timm = pytest.importorskip("timm")
    from zoocheck.converters.torch_common import torch_tensors

    spec = arch.structure
    extra = {"pretrained_window_sizes": spec.pretrained_window} if spec.pretrained_window else {}
    name = "swinv2_tiny_window8_256" if spec.v2 else "swin_tiny_patch4_window7_224"
    module = timm.create_model(
        name,
        img_size=spec.image_size,
        window_size=7,
        num_classes=CLASSES,
        embed_dim=spec.dim,
        depths=spec.depths,
        num_heads=spec.heads,
        **extra,
    ).eval()
    module.load_state_dict(torch_tensors(layouts.to_timm(params, arch)), strict=True)
    return module


def _torchvision(arch: Architecture, params):
    pytest.importorskip("torchvision")
    from torchvision.models.swin_transformer import PatchMergingV2, SwinTransformer, SwinTransformerBlockV2

    from zoocheck.converters.torch_common import torch_tensors

    v2 = {"block": SwinTransformerBlockV2, "downsample_layer": PatchMergingV2} if arch.structure.v2 else {}
    spec = arch.structure
    module = SwinTransformer(
        patch_size=[4, 4],
        embed_dim=spec.dim,
        depths=list(spec.depths),
        num_heads=list(spec.heads),
        window_size=[7, 7],
        num_classes=CLASSES,
        **v2,
    ).eval()
    module.load_state_dict(torch_tensors(layouts.to_torchvision(params, arch)), strict=True)
    return module


def _mmpretrain(arch: Architecture, params):
    from zoocheck.converters.torch_common import torch_tensors
    from zoocheck.families.swin.mmpretrain import build_classifier

    module = build_classifier(arch)
    module.load_state_dict(torch_tensors(layouts.to_mmpretrain(params, arch)), strict=True)
    return module


_BUILD = {"timm": _timm, "torchvision": _torchvision, "mmpretrain": _mmpretrain}
NETWORKS = [("timm", False, ()), ("torchvision", False, ()), ("mmpretrain", False, ()), ("timm", True, ()), ("torchvision", True, ()),
            ("mmpretrain", True, ()), ("timm", True, (12, 6)), ("mmpretrain", True, (12, 6))]  # fmt: skip


@pytest.mark.parametrize("library, v2, pretrained_window", NETWORKS)
def test_numpy_forward_is_the_librarys_network(library, v2, pretrained_window):
    """The canonical weights under the library's names give the library's logits, to float64
    rounding (1e-12 of the logit range), and the float32 forward stays within 1e-5 of it."""
    from zoocheck.families.swin.random import draw

    arch = _arch(v2, pretrained_window)
    params = draw(arch, 0, SIZE)
    assert_forward_is_network(canonical.forward, arch, params, _BUILD[library](arch, params), _batch())


@pytest.mark.parametrize("v2, pretrained_window", [(False, ()), (True, ()), (True, (12, 12, 6))])
def test_mmpretrain_network_is_mmpretrains_own(v2, pretrained_window):
    """zoocheck's mmpretrain network (the patch merging computed in the canonical order, its weights
    read in nn.Unfold's) and mmpretrain's own SwinTransformer / SwinTransformerV2 classifier hold
    one state dict and compute the numpy forward's logits. mmpretrain's V2 drops the position
    index and coordinates table from what it loads (it recomputes them): the only keys it misses."""
    import torch

    mmpretrain = pytest.importorskip("mmpretrain.models")
    from zoocheck.families.swin.random import draw

    arch = _arch(v2, pretrained_window, stages=3)
    spec = arch.structure
    params = draw(arch, 0, spec.image_size)
    ours = _mmpretrain(arch, params)
    sizes = dict(
        embed_dims=spec.dim, depths=list(spec.depths), num_heads=list(spec.heads), **({"extra_norm_every_n_blocks": 0} if v2 else {})
    )
    backbone = dict(
        type="SwinTransformerV2" if v2 else "SwinTransformer",
        arch=sizes,
        img_size=spec.image_size,
        window_size=7,
        out_indices=(len(spec.depths) - 1,),
        **({"pretrained_window_sizes": list(pretrained_window)} if pretrained_window else {}),
    )
    theirs = mmpretrain.build_classifier(
        dict(
            type="ImageClassifier",
            backbone=backbone,
            neck=dict(type="GlobalAveragePooling"),
            head=dict(type="LinearClsHead", num_classes=CLASSES, in_channels=spec.features),
        )
    ).eval()
    missing, unexpected = theirs.load_state_dict(ours.state_dict(), strict=False)
    assert not unexpected and {k.rsplit(".", 1)[1] for k in missing} <= {"relative_position_index", "relative_coords_table"}
    assert bool(missing) == v2
    x = _batch(spec.image_size)
    reference = canonical.forward(arch, params, x)
    with torch.no_grad():
        for out in (ours.double()(torch.from_numpy(x)), theirs.double()(torch.from_numpy(x), mode="tensor")):
            assert np.abs(out.numpy() - reference).max() <= 1e-12 * np.ptp(reference)


def test_every_mmpretrain_entry_is_the_network_its_config_declares():
    """Each mmpretrain Swin entry's spec is its config's backbone (type, sizes, input size, each
    stage's window, V2's pretrained windows) and head, as mmpretrain's model index ships them."""
    from zoocheck.families.swin.spec import SIZES
    from zoocheck.zoo_registry import list_entries

    apis = pytest.importorskip("mmpretrain.apis")
    entries = [e for e in list_entries("mmpretrain") if e.arch.family == "swin"]
    assert len(entries) == 21
    for entry in entries:
        spec, config = entry.arch.structure, apis.ModelHub.get(entry.name).config.model
        backbone = config.backbone
        assert backbone.type == ("SwinTransformerV2" if spec.v2 else "SwinTransformer"), entry.name
        assert SIZES[backbone.arch] == (spec.dim, spec.depths, spec.heads) and backbone.img_size == spec.image_size == entry.input_size, (
            entry.name
        )
        window = (
            backbone.get("window_size") or backbone.get("stage_cfgs", {}).get("block_cfgs", {}).get("window_size") or (8 if spec.v2 else 7)
        )
        windows = window if isinstance(window, list) else [window] * len(spec.depths)
        assert [min(w, spec.resolution(s)) for s, w in enumerate(windows)] == [spec.stage_window(s) for s in range(len(spec.depths))], (
            entry.name
        )
        assert tuple(backbone.get("pretrained_window_sizes") or ()) == spec.pretrained_window, entry.name
        assert not backbone.get("pad_small_map") and (config.head.in_channels, config.head.num_classes) == (
            spec.features,
            entry.arch.num_classes,
        )


def test_the_shifted_windows_mask_and_pretrained_windows_matter():
    """The mask keeps apart what the cyclic shift brought together (-100 off the block diagonal of
    regions), and a V2 network's pretrained window changes its function."""
    from zoocheck.families.swin.random import draw

    mask = canonical.attention_mask(14, 7, 3)
    assert mask.shape == (4, 49, 49) and (mask[0] == 0).all() and set(np.unique(mask[3])) == {0.0, canonical.MASK_VALUE}
    assert canonical.attention_mask(7, 7, 0) is None
    params = draw(_arch(True), 0, SIZE)
    x = _batch()
    assert np.abs(canonical.forward(_arch(True, (12, 6)), params, x) - canonical.forward(_arch(True), params, x)).max() > 1e-3


def test_other_input_sizes_are_refused():
    from zoocheck.converters.weights import random_weights

    arch = _arch(False)
    with pytest.raises(ValueError, match="56-pixel inputs, not 112"):
        random_weights(arch, 0, 112)
    with pytest.raises(ValueError, match="56-pixel inputs"):
        canonical.forward(arch, random_weights(arch, 0, SIZE), np.zeros((1, 3, 112, 112)))
    with pytest.raises(ValueError, match="no whole number of 7-token windows"):
        SwinSpec(dim=32, depths=(2, 2), heads=(2, 4), window=7, image_size=64)


def test_ids_across_zoos():
    """One id where the functions are one (three zoos' Swin-T, the four zoos' Swin V2 windows),
    another where the pretrained windows differ or PaddleClas 2.6 shifts its single-window stage."""
    assert names.torchvision("swin_t") == names.timm("swin_tiny_patch4_window7_224.ms_in1k") == names.mmpretrain("swin-tiny_16xb64_in1k")
    paddleclas = names.paddleclas("SwinTransformer_tiny_patch4_window7_224")
    assert paddleclas == dataclasses.replace(names.torchvision("swin_t"), shift_single_window=True)
    assert paddleclas.id == "swin_tiny_w7_224_shift1window" and paddleclas.shift(3, 1) == 3 != names.timm(
        "swin_tiny_patch4_window7_224"
    ).shift(3, 1)
    assert names.timm("swin_base_patch4_window12_384").id == names.mmpretrain("swin-base_3rdparty_in1k-384").id == "swin_base_w12_384"
    assert (
        names.torchvision("swin_v2_t")
        == names.timm("swinv2_tiny_window8_256")
        == names.mmpretrain("swinv2-tiny-w8_3rdparty_in1k-256px")
        == names.paddleclas("SwinTransformerV2_tiny_patch4_window8_256")
    )
    pretrained = names.timm("swinv2_base_window12to24_192to384")
    assert (
        pretrained
        == names.mmpretrain("swinv2-base-w24_in21k-pre_3rdparty_in1k-384px")
        == names.paddleclas("SwinTransformerV2_base_patch4_window24_384")
    )
    assert pretrained.id == "swinv2_base_w24_384_pw12-12-12-6"
    assert names.timm("swinv2_base_window16_256").id != names.mmpretrain("swinv2-base-w16_in21k-pre_3rdparty_in1k-256px").id
    for unread in ("swin_s3_tiny_224", "swinv2_cr_small_224"):
        with pytest.raises(ValueError):
            names.timm(unread)


@pytest.mark.slow
@pytest.mark.parametrize("source, model", [("torchvision", "swin_t.IMAGENET1K_V1"), ("timm", "swinv2_tiny_window8_256.ms_in1k")])
def test_parity_with_canonical_random_weights(tmp_path, capsys, source, model):
    """The library's Swin-T with the family's canonical random weights (through its layout) converts
    (native graph) and passes parity."""
    from zoocheck.cli import main

    rc = main(["parity", "--src", source, "--model", model, "--random-weights", "--graph", "native", "--results", str(tmp_path), "--json"])
    out = capsys.readouterr().out
    assert rc == 0, out[-2000:]
    assert '"status": "ok"' in out


def _canonical(library: str, arch: Architecture, path, opset: int = 17):
    """(the library's network, its canonical ONNX model) from one set of random weights."""
    from zoocheck.converters.graph import finish_graph, template_for
    from zoocheck.converters.graph.fingerprint import fingerprint
    from zoocheck.converters.torch_common import TorchModel
    from zoocheck.families.swin.random import draw

    size = arch.structure.image_size
    module = _BUILD[library](arch, draw(arch, 0, size)).float()
    TorchModel(module, size, {}).export_onnx(path, opset)
    model, facts = finish_graph(path, arch, "canonical")
    assert facts["structure_fingerprint"] == fingerprint(template_for(arch, opset))
    return module, model


# V2 in the slow run (20 s): its template is exported in the default run too, at opset 14
# (test_layer_norm_decomposition_and_timm_tokens)
@pytest.mark.parametrize("v2", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_library_exports_become_one_canonical_file(tmp_path, v2):
    """torch.onnx's export of each library's three-stage network (torchvision: patch merging as four
    strided Slices, q/k/v as Gathers; timm: shape arithmetic from the batch size, padding to whole
    windows, reshape(B, -1, C) around the MLP, the head a ReduceMean, some of it left by onnxslim's
    first pass on the pinned batch; V2: F.normalize's Expand; zoocheck's mmpretrain network, its
    merging weights permuted from nn.Unfold's order) is the template, node for node,
    with no shape arithmetic left, and computes the library's float32 forward on a batch of two.
    From one set of canonical random weights the canonical files hold the same weights (compare's ``identical``: every initializer within ``WEIGHTS_RTOL`` of its
    largest magnitude, the position biases, V2's evaluated position-bias MLP and logit scales and
    the shift masks included)."""
    import torch
    from onnx import numpy_helper

    from zoocheck.checks.compare import WEIGHTS_RTOL

    # one block in the first stage: its shifted block would repeat the second stage's (a shifted
    # block with its mask, after a patch merging), the last stage's unshifted odd block stays
    arch = _arch(v2, stages=3, depths=(1, 2, 2))
    x = _batch(arch.structure.image_size).astype(np.float32)
    weights = []
    for library in ("timm", "torchvision", "mmpretrain"):
        module, model = _canonical(library, arch, tmp_path / f"{library}.onnx")
        assert {"Shape", "Expand", "Gather", "Gemm"} & {n.op_type for n in model.graph.node if n.name != "fc"} == set()
        with torch.no_grad():
            expected = module.float()(torch.from_numpy(x)).numpy()
        assert np.abs(run_model(model, x) - expected).max() <= 1e-5 * np.ptp(expected), library
        weights.append({t.name: numpy_helper.to_array(t) for t in model.graph.initializer})
    timm_weights = weights[0]
    assert any(name.endswith("attn.mask.value") for name in timm_weights)
    for other in weights[1:]:
        assert set(other) == set(timm_weights)
        for name, value in timm_weights.items():
            assert np.abs(value - other[name]).max() <= WEIGHTS_RTOL * max(np.abs(value).max(), 1e-30), name


def test_layer_norm_decomposition_and_timm_tokens(tmp_path):
    """At opset 14 (LayerNorm as its decomposition) timm's reshape(B, -1, C) around the MLP goes
    too: timm's Swin V2 export is the template of opset 14 and computes timm's forward."""
    import torch

    module, model = _canonical("timm", _arch(True), tmp_path / "export.onnx", opset=14)
    assert "LayerNormalization" not in {n.op_type for n in model.graph.node}
    x = _batch().astype(np.float32)
    with torch.no_grad():
        expected = module.float()(torch.from_numpy(x)).numpy()
    assert np.abs(run_model(model, x) - expected).max() <= 1e-5 * np.ptp(expected)


@pytest.mark.slow
@pytest.mark.parametrize(
    "timm_name, other",
    [
        ("swin_tiny_patch4_window7_224.ms_in1k", "torchvision:swin_t.IMAGENET1K_V1"),
        ("swinv2_tiny_window8_256.ms_in1k", "torchvision:swin_v2_t.IMAGENET1K_V1"),
        ("swin_tiny_patch4_window7_224.ms_in1k", "mmpretrain:swin-tiny_16xb64_in1k"),
        ("swinv2_tiny_window8_256.ms_in1k", "mmpretrain:swinv2-tiny-w8_3rdparty_in1k-256px"),
    ],
)
def test_timm_and_other_zoos_swin_tiny_are_identical(tmp_path, timm_name, other):
    """One set of random weights as a timm state dict and a torchvision state dict or mmpretrain
    checkpoint, each converted by its own converter (torch.onnx, canonical graph): ``identical``."""
    from zoocheck.cli import main

    assert main(["compare", f"timm:{timm_name}", other, "--random-weights", "--results", str(tmp_path), "--json"]) == 0
