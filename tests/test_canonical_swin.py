"""The Swin family (V1 and V2 in one spec): the numpy forward is torchvision's and timm's network,
from one set of canonical random weights in each library's layout (shifted windows and their
mask, the relative position bias, V2's cosine attention, continuous position bias, post-norm and
patch merging, V2's pretrained windows); ids across zoos; another input size refused."""

from __future__ import annotations

import numpy as np
import pytest

from zoocheck.families.swin import canonical, layouts, names
from zoocheck.families.swin.spec import SwinSpec
from zoocheck.zoo_registry.types import Architecture

SIZE = 56  # a 14-token map in 7-token windows (shifted, masked), then 7 tokens in one window
CLASSES = 10
SMALL = dict(embed_dim=32, depths=(2, 2), num_heads=(2, 4))


def _arch(v2: bool, pretrained_window: tuple[int, ...] = ()) -> Architecture:
    return Architecture(SwinSpec(dim=32, depths=(2, 2), heads=(2, 4), window=7, image_size=SIZE, v2=v2, pretrained_window=pretrained_window), CLASSES)


def _batch() -> np.ndarray:
    return np.random.default_rng(1).standard_normal((2, 3, SIZE, SIZE))


def _timm(arch: Architecture, params):
    timm = pytest.importorskip("timm")
    from zoocheck.converters.torch_common import torch_tensors

    spec = arch.structure
    extra = {"pretrained_window_sizes": spec.pretrained_window} if spec.pretrained_window else {}
    name = "swinv2_tiny_window8_256" if spec.v2 else "swin_tiny_patch4_window7_224"
    module = timm.create_model(name, img_size=SIZE, window_size=7, num_classes=CLASSES, **SMALL, **extra).eval()
    module.load_state_dict(torch_tensors(layouts.to_timm(params, arch)), strict=True)
    return module


def _torchvision(arch: Architecture, params):
    pytest.importorskip("torchvision")
    from torchvision.models.swin_transformer import PatchMergingV2, SwinTransformer, SwinTransformerBlockV2

    from zoocheck.converters.torch_common import torch_tensors

    v2 = {"block": SwinTransformerBlockV2, "downsample_layer": PatchMergingV2} if arch.structure.v2 else {}
    module = SwinTransformer(patch_size=[4, 4], embed_dim=32, depths=[2, 2], num_heads=[2, 4], window_size=[7, 7], num_classes=CLASSES, **v2).eval()
    module.load_state_dict(torch_tensors(layouts.to_torchvision(params, arch)), strict=True)
    return module


NETWORKS = [("timm", False, ()), ("torchvision", False, ()), ("timm", True, ()), ("torchvision", True, ()), ("timm", True, (12, 6))]


@pytest.mark.parametrize("library, v2, pretrained_window", NETWORKS)
def test_numpy_forward_is_the_librarys_network(library, v2, pretrained_window):
    """The canonical weights under the library's names give the library's logits, to float64
    rounding (1e-12 of the logit range), and the float32 forward stays within 1e-5 of it."""
    import torch

    from zoocheck.families.swin.random import draw

    arch = _arch(v2, pretrained_window)
    params = draw(arch, 0, SIZE)
    module = {"timm": _timm, "torchvision": _torchvision}[library](arch, params)
    x = _batch()
    reference = canonical.forward(arch, params, x)
    with torch.no_grad():
        out = module.double()(torch.from_numpy(x)).numpy()
    assert np.ptp(reference) > 1
    assert np.abs(out - reference).max() <= 1e-12 * np.ptp(reference)
    assert np.abs(canonical.forward(arch, params, x, dtype=np.float32) - reference).max() <= 1e-5 * np.ptp(reference)


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
    """One id where the functions are one (the four zoos' Swin-T, their Swin V2 windows), another
    where the pretrained windows differ."""
    assert (names.torchvision("swin_t") == names.timm("swin_tiny_patch4_window7_224.ms_in1k") == names.mmpretrain("swin-tiny_16xb64_in1k")
            == names.paddleclas("SwinTransformer_tiny_patch4_window7_224"))  # fmt: skip
    assert names.timm("swin_base_patch4_window12_384").id == names.mmpretrain("swin-base_3rdparty_in1k-384").id == "swin_base_w12_384"
    assert (names.torchvision("swin_v2_t") == names.timm("swinv2_tiny_window8_256") == names.mmpretrain("swinv2-tiny-w8_3rdparty_in1k-256px")
            == names.paddleclas("SwinTransformerV2_tiny_patch4_window8_256"))  # fmt: skip
    pretrained = names.timm("swinv2_base_window12to24_192to384")
    assert pretrained == names.mmpretrain("swinv2-base-w24_in21k-pre_3rdparty_in1k-384px") == names.paddleclas("SwinTransformerV2_base_patch4_window24_384")
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
