"""PaddleClas's Swin Transformer (V1 and V2) and ConvNeXt: zoocheck's networks (``families/swin/paddle.py``,
``families/convnext/paddle.py``) hold PaddleClas's own state dict (the paddleclas wheel's
networks, ``paddle_fixtures.py``) and compute what its code computes; a ``.pdparams`` written by
PaddleClas's network loads by name; paddle2onnx's export of either is the canonical graph (the
template's fingerprint, timm's and torchvision's).

PaddleClas 2.6 (the wheel) computes Swin with a shift and a mask in a stage whose map is one
window (legendary_models/swin_transformer.py); its earlier model_zoo/swin_transformer.py and the
official code the published weights come from attend over that window unshifted. PaddleClas's
entries are 2.6's function (``SwinSpec.shift_single_window``); zoocheck's network computes either
rule: 2.6's own network, and with the old rule put back (``shift_size = 0`` in those blocks) the
official one.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

pytest.importorskip("paddle")
pytest.importorskip("paddle2onnx")

from conftest import max_rel  # noqa: E402
from paddle_fixtures import import_paddleclas, paddleclas_root, perturbed_state  # noqa: E402

from zoocheck.cli import main  # noqa: E402
from zoocheck.converters.base import NoBuilder, WeightsError  # noqa: E402
from zoocheck.converters.paddle import PaddleClasConverter, build_model  # noqa: E402
from zoocheck.families.convnext.spec import SIZES as CONVNEXT_SIZES  # noqa: E402
from zoocheck.families.convnext.spec import ConvNeXtSpec  # noqa: E402
from zoocheck.families.swin.spec import SwinSpec  # noqa: E402
from zoocheck.zoo_registry import get_entry  # noqa: E402
from zoocheck.zoo_registry.types import Architecture  # noqa: E402

pytestmark = pytest.mark.skipif(paddleclas_root() is None, reason="paddleclas not installed (./setup.sh installs it --no-deps)")

_BACKBONE = "paddleclas.ppcls.arch.backbone."
SWIN_MODULE = _BACKBONE + "legendary_models.swin_transformer"
SWIN_V2_MODULE = _BACKBONE + "model_zoo.swin_transformer_v2"
CONVNEXT_MODULE = _BACKBONE + "model_zoo.convnext"
SWIN_T, CONVNEXT_T = "SwinTransformer_tiny_patch4_window7_224", "ConvNeXt_tiny"
SWIN_V2_T = "SwinTransformerV2_tiny_patch4_window8_256"
CLASSES = 10


def _theirs_swin(spec: SwinSpec, num_classes: int = CLASSES):
    module = import_paddleclas(SWIN_MODULE)
    kwargs = dict(embed_dim=spec.dim, depths=list(spec.depths), num_heads=list(spec.heads), window_size=spec.window)
    return module.SwinTransformer(img_size=spec.image_size, class_num=num_classes, **kwargs).eval()


def _theirs_convnext(spec: ConvNeXtSpec, num_classes: int = CLASSES):
    depths, dims = CONVNEXT_SIZES[spec.size]
    return import_paddleclas(CONVNEXT_MODULE).ConvNeXt(class_num=num_classes, depths=list(depths), dims=list(dims)).eval()


def _random_state(network, seed: int) -> dict:
    """``perturbed_state`` of ``network``'s parameters; integer buffers (Swin's position index) kept."""
    state = network.state_dict()
    random = perturbed_state(network, seed)
    return {k: (v if not state[k].is_floating_point() else random[k]) for k, v in ((k, state[k].numpy()) for k in state)}


def _logits(network, x: np.ndarray) -> np.ndarray:
    import paddle

    with paddle.no_grad():
        return network(paddle.to_tensor(x.astype(np.float32))).numpy()


def _old_rule(theirs, spec: SwinSpec):
    """PaddleClas 2.6's network computing what its model_zoo file computed: no shift in a stage
    whose map is one window."""
    for stage, layer in enumerate(theirs.layers):
        if spec.resolution(stage) <= spec.window:
            for block in layer.blocks:
                block.shift_size = 0
    return theirs


SMALL_SWIN = {
    # two stages of 28 and 14 tokens in 7-token windows: every odd block shifted in both files
    "no_single_window": SwinSpec(dim=32, depths=(2, 2), heads=(2, 4), window=7, image_size=112),
    # 14 then 7 tokens: the second stage is one window (shifted by PaddleClas 2.6 only)
    "single_window": SwinSpec(dim=32, depths=(2, 2), heads=(2, 4), window=7, image_size=56),
}


@pytest.mark.parametrize("case", list(SMALL_SWIN))
def test_swin_network_is_paddleclas_own(case):
    """One state dict under the same names in both networks (the position index buffers too) and
    PaddleClas's logits: with ``shift_single_window`` (its entries' spec) PaddleClas 2.6's own; where
    a stage is one window, without it, 2.6's network with the old rule, and the two differ there."""
    import paddle

    from zoocheck.families.swin.paddle import build_network

    spec = SMALL_SWIN[case]
    theirs = _theirs_swin(spec)
    state = _random_state(theirs, seed=5)
    theirs.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
    x = np.random.default_rng(0).standard_normal((2, 3, spec.image_size, spec.image_size))
    expected = _logits(theirs, x)
    assert np.isfinite(expected).all() and expected.std() > 1e-2
    logits = {}
    for shifted in (True, False):
        ours = build_network(Architecture(dataclasses.replace(spec, shift_single_window=shifted), CLASSES)).eval()
        assert set(state) == set(ours.state_dict())
        ours.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
        logits[shifted] = _logits(ours, x)
    assert max_rel(expected, logits[True]) < 1e-5
    if case == "no_single_window":
        assert max_rel(logits[True], logits[False]) < 1e-5
    else:
        assert max_rel(logits[True], logits[False]) > 1e-3
        assert max_rel(_logits(_old_rule(theirs, spec), x), logits[False]) < 1e-5


def test_swin_v2_network_holds_paddleclas_state_dict_and_computes_the_official_function():
    """PaddleClas's V2 file, as the 2.6 wheel has it, builds but does not run (its block reads
    names it never defines): its state dict is the one zoocheck's network holds, name for name and
    shape for shape, but for the blocks' mask, a zero placeholder of every block there (2.5's files,
    those of the published weights, hold the mask itself [windows, N, N] in the shifted blocks),
    which the network computes and a file's is read past: a state dict of 2.6's class loads. With
    the family's canonical weights in PaddleClas's layout, zoocheck's network computes the family's
    numpy forward (timm's and torchvision's V2: test_canonical_swin.py), with a pretrained window
    too."""
    from zoocheck.converters.paddle import load_state
    from zoocheck.converters.weights.layouts import to_layout
    from zoocheck.families.swin import canonical
    from zoocheck.families.swin.paddle import build_network
    from zoocheck.families.swin.random import draw

    spec = SwinSpec(dim=32, depths=(2, 2, 2), heads=(2, 4, 8), window=7, image_size=112, v2=True)
    theirs = import_paddleclas(SWIN_V2_MODULE).SwinTransformerV2(
        img_size=112, embed_dim=32, depths=[2, 2, 2], num_heads=[2, 4, 8], window_size=7, class_num=CLASSES
    )
    ours = build_network(Architecture(spec, CLASSES)).state_dict()
    shapes = {k: tuple(v.shape) for k, v in theirs.state_dict().items() if not k.endswith("attn_mask")}
    assert shapes == {k: tuple(v.shape) for k, v in ours.items()}
    assert {k for k in theirs.state_dict() if k.endswith("attn_mask")} == {
        f"layers.{s}.blocks.{i}.attn_mask" for s in range(3) for i in range(2)
    }
    load_state(
        build_network(Architecture(spec, CLASSES)), {k: v.numpy() for k, v in theirs.state_dict().items()}, origin="2.6", builder="b"
    )
    with pytest.raises(WeightsError, match="missing keys: layers.0.blocks.0.attn.logit_scale"):
        load_state(
            build_network(Architecture(spec, CLASSES)),
            {k: v.numpy() for k, v in theirs.state_dict().items() if "logit_scale" not in k},
            origin="2.6",
            builder="b",
        )
    x = np.random.default_rng(0).standard_normal((2, 3, 112, 112))
    for pretrained_window in ((), (4, 4, 4)):
        arch = Architecture(dataclasses.replace(spec, pretrained_window=pretrained_window), CLASSES)
        params = draw(arch, 0, 112)
        network = build_network(arch).eval()
        load_state(network, to_layout(params, arch, "paddle"), origin="canonical", builder="SwinTransformerV2")
        expected = canonical.forward(arch, params, x)
        assert np.isfinite(expected).all() and expected.std() > 1e-2
        assert max_rel(expected, _logits(network, x)) < 1e-5, pretrained_window


def test_convnext_network_is_paddleclas_own():
    """ConvNeXt-atto's sizes (PaddleClas's class takes any depths and widths) at 64 pixels: one
    state dict, PaddleClas's logits (its channels-first LayerNorm as a mean over axis 1)."""
    import paddle

    from zoocheck.families.convnext.paddle import build_network

    spec = ConvNeXtSpec("atto")
    ours, theirs = build_network(Architecture(spec, CLASSES)).eval(), _theirs_convnext(spec)
    state = {k: paddle.to_tensor(v) for k, v in _random_state(theirs, seed=5).items()}
    assert set(state) == set(ours.state_dict())
    ours.set_state_dict(state)
    theirs.set_state_dict(state)
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64))
    expected = _logits(theirs, x)
    assert np.isfinite(expected).all() and expected.std() > 1e-2
    assert max_rel(expected, _logits(ours, x)) < 1e-5


def _paddleclas_checkpoint(name: str, path):
    """PaddleClas's own network of entry ``name`` with random weights, saved as PaddleClas saves a
    ``*_pretrained.pdparams``; the network."""
    import paddle

    entry = get_entry("ppcls", name)
    spec = entry.arch.structure
    with paddle.utils.unique_name.guard():
        theirs = (_theirs_swin if name == SWIN_T else _theirs_convnext)(spec, entry.arch.num_classes)
    theirs.set_state_dict({k: paddle.to_tensor(v) for k, v in _random_state(theirs, seed=11).items()})
    paddle.save(theirs.state_dict(), str(path))
    return entry, theirs


@pytest.mark.parametrize("name, size", [(CONVNEXT_T, 64), pytest.param(SWIN_T, 224, marks=pytest.mark.slow)])
def test_checkpoint_written_by_paddleclas_code_loads_and_matches(tmp_path, name, size):
    """The registry entry's own network (ConvNeXt-T, Swin-T) loads PaddleClas's file strictly, by
    name, and gives PaddleClas's logits (Swin-T: its stage 4 one window, shifted as 2.6 does)."""
    path = tmp_path / f"{name}_pretrained.pdparams"
    entry, theirs = _paddleclas_checkpoint(name, path)
    native = PaddleClasConverter().load(entry, path)
    x = np.random.default_rng(0).standard_normal((2, 3, size, size))
    expected = _logits(theirs, x)
    assert np.isfinite(expected).all() and expected.std() > 1e-2
    assert max_rel(expected, native.forward(x.astype(np.float32))) < 1e-5


@pytest.mark.parametrize(
    "arch",
    [
        pytest.param(Architecture(ConvNeXtSpec("atto"), CLASSES), id="convnext_atto_64"),
        # 28, 14 and 7 tokens in 7-token windows: shifted and masked, the one window too (2.6's rule)
        pytest.param(
            Architecture(SwinSpec(dim=32, depths=(2, 2, 2), heads=(2, 4, 8), window=7, image_size=112, shift_single_window=True), CLASSES),
            id="swin_112",
        ),
        # V2 (paddle2onnx's p_norm for the cosine attention's F.normalize): 14 tokens shifted and
        # masked, one patch merging, then one unshifted window
        pytest.param(
            Architecture(SwinSpec(dim=32, depths=(2, 2), heads=(2, 4), window=7, image_size=56, v2=True), CLASSES), id="swin_v2_56"
        ),
    ],
)
def test_export_is_the_canonical_graph(tmp_path, arch):
    """paddle2onnx's export of zoocheck's PaddleClas network becomes the canonical graph of its id,
    node for node (the template's fingerprint, which timm's and torchvision's exports have:
    test_canonical_convnext.py, test_canonical_swin.py), and computes the Paddle forward."""
    from conftest import run_model

    from zoocheck.converters.graph import finish_graph, template_for
    from zoocheck.converters.graph.fingerprint import fingerprint
    from zoocheck.converters.paddle import PaddleDygraphModel, canonical_network
    from zoocheck.converters.weights import random_weights

    size = 64 if arch.family == "convnext" else arch.structure.image_size
    name = CONVNEXT_T if arch.family == "convnext" else SWIN_V2_T if arch.structure.v2 else SWIN_T
    entry = dataclasses.replace(get_entry("ppcls", name), arch=arch, input_size=size)
    native = PaddleDygraphModel(entry, canonical_network(entry, random_weights(arch, 0, size), origin="test"))
    native.export_onnx(tmp_path / "export.onnx", 17)
    model, facts = finish_graph(tmp_path / "export.onnx", arch, "canonical")
    assert facts["structure_fingerprint"] == fingerprint(template_for(arch, 17))
    x = np.random.default_rng(1).standard_normal((2, 3, size, size)).astype(np.float32)
    assert max_rel(native.forward(x), run_model(model, x)) < 1e-5


def test_a_spec_field_the_paddleclas_file_does_not_build_is_refused():
    """PaddleClas's Swin files embed with 4x4 patches only; a ConvNeXt-V2 GRN is none of convnext.py's."""
    for name, field, value in ((SWIN_V2_T, "patch", 2), (CONVNEXT_T, "grn", True)):
        entry = get_entry("ppcls", name)
        structure = dataclasses.replace(entry.arch.structure, **{field: value})
        with pytest.raises(NoBuilder, match=f"PaddleClas's .* builds no such network: {field}"):
            build_model(dataclasses.replace(entry, arch=dataclasses.replace(entry.arch, structure=structure)))


@pytest.mark.slow
@pytest.mark.parametrize("name, graph", [(CONVNEXT_T, "canonical"), (SWIN_T, "canonical"), (SWIN_T, "native"), (SWIN_V2_T, "canonical")])
def test_parity_with_random_weights(tmp_path, capsys, name, graph):
    """``zoocheck parity --random-weights`` on the full-size entry, in the default canonical graph
    and natively."""
    argv = ["parity", "--src", "ppcls", "--model", name, "--random-weights", "--results", str(tmp_path), "--json"]
    code = main([*argv, *(["--graph", "native"] if graph == "native" else [])])
    out = capsys.readouterr().out
    assert code == 0, out[-2000:]
    report = json.loads(out)
    assert report["random_weights"] is True and all(c["max_rel_err"] < 1e-3 and c["top1_agree"] for c in report["comparisons"])


@pytest.mark.slow
@pytest.mark.parametrize(
    "timm_name, name",
    [
        ("convnext_tiny.fb_in1k", CONVNEXT_T),
        ("swinv2_tiny_window8_256.ms_in1k", SWIN_V2_T),
    ],
)
def test_timm_and_paddleclas_tiny_are_identical(tmp_path, timm_name, name):
    """One set of random weights as a timm state dict and a PaddleClas .pdparams, converted by
    torch.onnx and paddle2onnx to the canonical graph: ``identical`` (same fingerprint, weights,
    function)."""
    assert main(["compare", f"timm:{timm_name}", f"ppcls:{name}", "--random-weights", "--results", str(tmp_path)]) == 0
