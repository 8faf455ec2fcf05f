"""The ViT family (ViT, DeiT's distillation token, DeiT-III's layer scale): the numpy forward is
timm's, torchvision's and mmpretrain's network; each library's torch.onnx export of a small ViT
becomes the canonical graph of its id (the template's fingerprint) and computes what the library
computes; timm's and mmpretrain's DeiT-Tiny compare ``identical`` from one set of random weights
written in each one's checkpoint format; a size other than the position embedding's is refused."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_forward_is_network

from zoocheck.families.vit import canonical, layouts
from zoocheck.families.vit.spec import ViTSpec
from zoocheck.zoo_registry.types import Architecture

SIZE = 64
CLASSES = 10
#: small networks of each kind: (spec fields, timm architecture, dim, heads)
KINDS = {
    "vit": ({}, "vit_tiny_patch16_224"),
    "distilled": ({"distilled": True}, "deit_tiny_distilled_patch16_224"),
    "deit3": ({"layer_scale": True, "pos_embed_tokens": False}, "deit3_small_patch16_224"),
}


def _arch(kind: str, **fields) -> Architecture:
    extra, _ = KINDS[kind]
    return Architecture(ViTSpec(patch=16, dim=192, depth=2, heads=3, mlp_dim=768, image_size=SIZE, **extra, **fields), CLASSES)


def _params(arch: Architecture) -> dict[str, np.ndarray]:
    from zoocheck.families.vit.random import draw

    return draw(arch, 0, SIZE)


def _batch() -> np.ndarray:
    return np.random.default_rng(1).standard_normal((2, 3, SIZE, SIZE))


def _timm(kind: str, arch: Architecture, params: dict[str, np.ndarray]):
    timm = pytest.importorskip("timm")
    from zoocheck.converters.torch_common import torch_tensors

    module = timm.create_model(KINDS[kind][1], depth=2, embed_dim=192, num_heads=3, img_size=SIZE, num_classes=CLASSES).eval()
    module.load_state_dict(torch_tensors(layouts.to_timm(params, arch)), strict=True)
    return module


def _torchvision(kind: str, arch: Architecture, params: dict[str, np.ndarray]):
    torchvision = pytest.importorskip("torchvision")
    from zoocheck.converters.torch_common import torch_tensors

    module = torchvision.models.VisionTransformer(SIZE, 16, 2, 3, 192, 768, num_classes=CLASSES).eval()
    module.load_state_dict(torch_tensors(layouts.to_torchvision(params, arch)), strict=True)
    return module


def _mmpretrain(kind: str, arch: Architecture, params: dict[str, np.ndarray]):
    from zoocheck.converters.torch_common import torch_tensors
    from zoocheck.families.vit.mmpretrain import build_classifier

    module = build_classifier(arch)
    module.load_state_dict(torch_tensors(layouts.to_mmpretrain(params, arch)), strict=True)
    return module


NETWORKS = [("timm", "vit"), ("timm", "distilled"), ("timm", "deit3"), ("torchvision", "vit"), ("mmpretrain", "vit"),
            ("mmpretrain", "distilled"), ("mmpretrain", "deit3_mm")]  # fmt: skip


def _network(library: str, kind: str):
    arch = _arch("deit3", ffn_norm="attn") if kind == "deit3_mm" else _arch(kind)
    params = _params(arch)
    build = {"timm": _timm, "torchvision": _torchvision, "mmpretrain": _mmpretrain}[library]
    return arch, params, build(kind.removesuffix("_mm"), arch, params)


@pytest.mark.parametrize("library, kind", NETWORKS)
def test_numpy_forward_is_the_librarys_network(library, kind):
    """The canonical weights under the library's names give the library's logits, to float64
    rounding (1e-12 of the logit range), and the float32 forward stays within 1e-5 of it."""
    arch, params, module = _network(library, kind)
    assert_forward_is_network(canonical.forward, arch, params, module, _batch())


def test_mmpretrain_network_is_mmpretrains_own():
    """zoocheck's mmpretrain network and mmpretrain's own classifiers (DistilledVisionTransformer +
    DeiTClsHead, DeiT3 + VisionTransformerClsHead) load one state dict strictly and compute the same
    logits: DeiT3's MLP reads ``ln1`` there too, not ``ln2``."""
    import torch

    mmpretrain = pytest.importorskip("mmpretrain.models")
    small = {"embed_dims": 192, "num_layers": 2, "num_heads": 3, "feedforward_channels": 768}
    heads = {"distilled": "DeiTClsHead", "deit3_mm": "VisionTransformerClsHead"}
    backbones = {"distilled": "DistilledVisionTransformer", "deit3_mm": "DeiT3"}
    configs = {
        kind: {
            "type": "ImageClassifier",
            "backbone": {"type": backbones[kind], "arch": small, "img_size": SIZE, "patch_size": 16},
            "neck": None,
            "head": {"type": heads[kind], "num_classes": CLASSES, "in_channels": 192},
        }
        for kind in heads
    }
    for kind, config in configs.items():
        _, _, ours = _network("mmpretrain", kind)
        if kind == "deit3_mm":  # ln2 is loaded but unused: random values in it must change nothing
            state = ours.state_dict()
            for key in state:
                if ".ln2." in key:
                    state[key] = torch.randn_like(state[key])
            ours.load_state_dict(state)
        theirs = mmpretrain.build_classifier(config).eval()
        theirs.load_state_dict(ours.state_dict(), strict=True)
        x = torch.from_numpy(_batch()).float()
        with torch.no_grad():
            assert torch.allclose(ours(x), theirs(x), rtol=0, atol=1e-5 * float(ours(x).abs().max())), kind


def _export(module, path) -> None:
    from zoocheck.converters.torch_common import TorchModel

    TorchModel(module.float(), SIZE, {}).export_onnx(path, 17)


@pytest.mark.parametrize("library, kind", NETWORKS)
def test_library_export_becomes_the_canonical_graph(tmp_path, library, kind):
    """torch.onnx's export of the library's network (torchvision's nn.MultiheadAttention: tokens
    transposed, heads folded into the batch, the projection a Gemm; timm's and mmpretrain's
    scaled_dot_product_attention) is the template, node for node, and computes the library's
    float32 forward."""
    import onnxruntime as ort
    import torch

    from zoocheck.converters.graph import finish_graph, template_for
    from zoocheck.converters.graph.fingerprint import fingerprint

    arch, _, module = _network(library, kind)
    _export(module, tmp_path / "export.onnx")
    model, facts = finish_graph(tmp_path / "export.onnx", arch, "canonical")
    assert facts["structure_fingerprint"] == fingerprint(template_for(arch, 17))
    assert {"Shape", "Expand", "Gemm"} & {n.op_type for n in model.graph.node if n.name != "fc" and not n.name.startswith("fc")} == set()
    x = _batch().astype(np.float32)
    got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    with torch.no_grad():
        expected = module.float()(torch.from_numpy(x)).numpy()
    assert np.abs(got - expected).max() <= 1e-5 * np.ptp(expected)


def test_a_head_dimension_that_is_no_power_of_4_is_the_canonical_graph(tmp_path):
    """ViT-H's 80-wide heads: 1 / sqrt(80) is no float32 round number, and torch.onnx's constants
    for it round another way than the template's (sqrt(scale) on q and on k): the scale read from
    the export is the template's (torchvision's vit_h_14 failed its canonical check on it). One
    block of two 80-wide heads."""
    pytest.importorskip("torchvision")
    import torchvision

    from zoocheck.converters.graph import finish_graph, template_for
    from zoocheck.converters.graph.fingerprint import fingerprint
    from zoocheck.converters.torch_common import torch_tensors

    arch = Architecture(ViTSpec(patch=16, dim=160, depth=1, heads=2, mlp_dim=640, image_size=SIZE), CLASSES)
    module = torchvision.models.VisionTransformer(SIZE, 16, 1, 2, 160, 640, num_classes=CLASSES).eval()
    module.load_state_dict(torch_tensors(layouts.to_torchvision(_params(arch), arch)), strict=True)
    _export(module, tmp_path / "export.onnx")
    model, facts = finish_graph(tmp_path / "export.onnx", arch, "canonical")
    assert facts["structure_fingerprint"] == fingerprint(template_for(arch, 17))


def test_weightless_shape_inference_gives_the_graph_onnxslims_own_rounds_give(tmp_path, monkeypatch):
    """Above ``WEIGHTLESS_SHAPES_ABOVE`` of weights (a ViT-B's 330 MB) the canonical pass infers
    shapes on a weightless copy: the same canonical file, byte for byte, as onnxslim's own rounds."""
    import shutil

    from zoocheck.converters.graph import canonical as canonical_pass
    from zoocheck.converters.graph import finish_graph

    arch, _, module = _network("timm", "deit3")  # a position embedding symbolic inference reads
    _export(module, tmp_path / "export.onnx")
    shutil.copy(tmp_path / "export.onnx", tmp_path / "weightless.onnx")
    slimmed, _ = finish_graph(tmp_path / "export.onnx", arch, "canonical")
    monkeypatch.setattr(canonical_pass, "WEIGHTLESS_SHAPES_ABOVE", 0)
    weightless, _ = finish_graph(tmp_path / "weightless.onnx", arch, "canonical")
    assert weightless.graph.SerializeToString() == slimmed.graph.SerializeToString()


def test_layer_norm_below_opset_17_is_one_decomposition(tmp_path):
    """Below opset 17 (no LayerNormalization op) torch.onnx's decomposition is the template's
    (ReduceMean, Sub, Pow, ReduceMean, Add eps, Sqrt, Div, Mul, Add), and computes timm's forward."""
    import onnxruntime as ort
    import torch

    from zoocheck.converters.graph import finish_graph, template_for
    from zoocheck.converters.graph.fingerprint import fingerprint
    from zoocheck.converters.torch_common import TorchModel

    arch, _, module = _network("timm", "vit")
    TorchModel(module.float(), SIZE, {}).export_onnx(tmp_path / "export.onnx", 14)
    model, facts = finish_graph(tmp_path / "export.onnx", arch, "canonical")
    assert facts["structure_fingerprint"] == fingerprint(template_for(arch, 14))
    assert "LayerNormalization" not in {n.op_type for n in model.graph.node}
    x = _batch().astype(np.float32)
    got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    assert np.abs(got - expected).max() <= 1e-5 * np.ptp(expected)


def test_other_input_sizes_are_refused():
    """A ViT's parameters hold its input size (the position embedding): random weights and the
    reference forward at another size are refused with the reason."""
    from zoocheck.converters.weights import random_weights

    arch = _arch("vit")
    with pytest.raises(ValueError, match="position embedding is sized for 64-pixel inputs, not 96"):
        random_weights(arch, 0, 96)
    with pytest.raises(ValueError, match="64-pixel inputs"):
        canonical.forward(arch, _params(arch), np.zeros((1, 3, 96, 96)))


@pytest.mark.slow
def test_timm_and_mmpretrain_deit_tiny_are_identical(tmp_path):
    """One set of random weights written as a timm state dict and an mmpretrain checkpoint, each
    converted by its own converter (torch.onnx, canonical graph): ``identical``. Slow (two DeiT-Ts
    at 224 pixels): in the default run the small ViTs show it in parts, one id for both entries
    (test_ids_across_zoos), one set of canonical weights giving both libraries' logits
    (test_numpy_forward_is_the_librarys_network) and both exports the template computing them
    (test_library_export_becomes_the_canonical_graph)."""
    from zoocheck.cli import main

    assert (
        main(
            [
                "compare",
                "timm:deit_tiny_patch16_224.fb_in1k",
                "mmpretrain:deit-tiny_4xb256_in1k",
                "--random-weights",
                "--results",
                str(tmp_path),
                "--json",
            ]
        )
        == 0
    )


def test_ids_across_zoos():
    """One id where the functions are one, another where they differ."""
    from zoocheck.families.vit import names

    assert names.torchvision("vit_b_16") == names.timm("vit_base_patch16_224.augreg_in1k") == names.paddleclas("ViT_base_patch16_224")
    assert names.timm("deit_tiny_patch16_224") == names.mmpretrain("deit-tiny_4xb256_in1k") == names.paddleclas("DeiT_tiny_patch16_224")
    assert names.timm("deit_base_distilled_patch16_384").id == names.mmpretrain("deit-base-distilled_224px-pre_3rdparty_in1k-384px").id
    # mmpretrain 1.2.0's DeiT3 normalises the MLP's input with the attention's LayerNorm
    assert names.mmpretrain("deit3-small-p16_3rdparty_in1k").id == names.timm("deit3_small_patch16_224").id + "_ffnnormattn"
    # PaddleClas's ViT-S is the first timm ViT-S: 768 wide, 8 blocks, MLP ratio 3, no q/k/v bias, scale dim ** -0.5
    assert names.paddleclas("ViT_small_patch16_224").id == "vit_d768x8h8m2304_p16_224_noqkvbias_qkscale0.0360844_lneps1e-5"


@pytest.mark.parametrize("distilled", [False, True])
def test_paddle_network_is_paddleclas_own(distilled):
    """zoocheck's PaddleClas network and PaddleClas's own VisionTransformer /
    DistilledVisionTransformer (the paddleclas wheel) hold one state dict under the same names and
    compute the same logits."""
    pytest.importorskip("paddle")
    module = "distilled_vision_transformer" if distilled else "vision_transformer"
    try:
        theirs_module = __import__(f"paddleclas.ppcls.arch.backbone.model_zoo.{module}", fromlist=["x"])
    except Exception as exc:  # noqa: BLE001 (the wheel's own imports, faiss among them, may fail any way)
        pytest.skip(f"paddleclas: {exc}")
    import paddle

    from zoocheck.families.vit.paddle import build_network

    arch = _arch("distilled" if distilled else "vit")
    ours = build_network(arch)
    cls = theirs_module.DistilledVisionTransformer if distilled else theirs_module.VisionTransformer
    theirs = cls(
        img_size=SIZE, patch_size=16, class_num=CLASSES, embed_dim=192, depth=2, num_heads=3, mlp_ratio=4, qkv_bias=True, epsilon=1e-6
    )
    params = _params(arch)
    state = {k: paddle.to_tensor(v) for k, v in layouts.to_paddle(params, arch).items()}
    assert set(state) == set(theirs.state_dict()) == set(ours.state_dict())
    ours.set_state_dict(state)
    theirs.set_state_dict(state)
    ours.eval(), theirs.eval()
    x = paddle.to_tensor(_batch().astype(np.float32))
    expected = canonical.forward(arch, params, _batch())
    for network in (ours, theirs):
        assert np.abs(network(x).numpy() - expected).max() <= 1e-5 * np.ptp(expected)


@pytest.mark.slow
@pytest.mark.parametrize(
    "paddle_name, timm_name",
    [
        ("DeiT_tiny_patch16_224", "deit_tiny_patch16_224.fb_in1k"),
        ("DeiT_tiny_distilled_patch16_224", "deit_tiny_distilled_patch16_224.fb_in1k"),
    ],
)
def test_timm_and_paddleclas_deit_tiny_are_identical(tmp_path, paddle_name, timm_name):
    """One set of random weights as a timm state dict and a PaddleClas .pdparams, converted by
    torch.onnx and paddle2onnx (its attention as ``(q @ k^T) * scale``, ``x[:, 0]`` a Slice,
    the mean of two heads a Mul by 0.5): ``identical``."""
    from zoocheck.cli import main

    assert main(["compare", f"timm:{timm_name}", f"ppcls:{paddle_name}", "--random-weights", "--results", str(tmp_path), "--json"]) == 0


@pytest.mark.parametrize(
    "source, name",
    [
        ("mmpretrain", "deit-tiny-distilled_3rdparty_in1k"),
        pytest.param("torchvision", "vit_b_32.IMAGENET1K_V1", marks=pytest.mark.slow),
        pytest.param("ppcls", "DeiT_tiny_distilled_patch16_224", marks=pytest.mark.slow),
    ],
)
def test_parity_from_a_checkpoint_in_the_zoos_format(tmp_path, source, name):
    """Random weights written as the zoo ships them (mmpretrain's ``{"meta", "state_dict"}``,
    torchvision's state dict, PaddleClas's .pdparams), converted to the canonical graph and checked
    against the framework's own forward on the photographs by ``zoocheck parity``."""

    from conftest import random_checkpoint

    from zoocheck.cli import main
    from zoocheck.zoo_registry import get_entry

    entry = get_entry(source, name)
    suffix = {"mmpretrain": ".pth", "torchvision": ".pth", "ppcls": ".pdparams"}[source]
    weights = random_checkpoint(entry, tmp_path / f"weights{suffix}", seed=3)
    assert (
        main(["parity", "--src", source, "--model", name, "--weights", str(weights), "--results", str(tmp_path / "results"), "--json"]) == 0
    )
