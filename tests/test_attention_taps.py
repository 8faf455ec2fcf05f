"""Where a transformer's failure starts: each block's attention output is one of the per-layer
outputs ``first_divergence`` reads (``layer_outputs``), before that block's MLP output, in every
zoo's network. Small ViT/DeiT-III and Swin V1/V2 networks with the family's random weights: each
zoo's hooked layers equal the canonical file's tensors of their names (a canonical file of one
zoo's export: one function whoever exports it), and a canonical file whose attention projection
in one block is wrong diverges at that block's attention output, not at the MLP after it."""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import pytest
import test_canonical_swin as swin
import test_canonical_vit as vit
from onnx import numpy_helper

from zoocheck.checks.divergence import first_divergence_from_layers
from zoocheck.converters.weights import layer_modules

#: a layer's error over its range: fp32 rounding of one forward (LayerNorm's outputs ~5e-6)
TOLERANCE = 1e-4


def _canonical_file(module, arch, size: int, path):
    """The canonical ONNX file of ``module``'s torch.onnx export."""
    from zoocheck.converters.graph import finish_graph
    from zoocheck.converters.torch_common import TorchModel

    TorchModel(module.float(), size, {}).export_onnx(path, 17)
    onnx.save(finish_graph(path, arch, "canonical")[0], path)
    return path


def _torch_layers(module, arch, framework: str, size: int, batch: np.ndarray) -> dict[str, np.ndarray]:
    from zoocheck.converters.torch_common import TorchModel

    return TorchModel(module.float(), size, {}, layers=layer_modules(arch, framework)).layer_outputs(batch)


def _paddle_layers(arch, params, entry_name: str, batch: np.ndarray) -> dict[str, np.ndarray]:
    """PaddleClas's network (the family's Paddle network) with ``params`` through the ``paddle``
    layout, as the PaddleClas converter loads it, an entry of the family standing in for ``arch``."""
    pytest.importorskip("paddle")
    from zoocheck.converters.paddle import PaddleDygraphModel, canonical_network
    from zoocheck.zoo_registry import get_entry

    entry = dataclasses.replace(get_entry("ppcls", entry_name), arch=arch, input_size=arch.structure.image_size)
    return PaddleDygraphModel(entry, canonical_network(entry, params, origin="test")).layer_outputs(batch)


def _with_scaled(path, initializer: str, out):
    """The ONNX file at ``path`` with ``initializer`` times 1.5, written to ``out``."""
    model = onnx.load(str(path))
    tensor = next(t for t in model.graph.initializer if t.name == initializer)
    tensor.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(tensor) * np.float32(1.5), initializer))
    onnx.save(model, out)
    return out


def _assert_located(layers: dict[str, np.ndarray], path, batch: np.ndarray, wrong_projection: str, attention: str, tmp_path) -> None:
    """Every layer is a tensor of the canonical file at ``path`` and equal to it; with the
    projection ``wrong_projection`` scaled, the first divergence is ``attention``, the output of
    the attention it belongs to."""
    computed = {out for node in onnx.load(str(path)).graph.node for out in node.output}
    taps = [name for name in layers if name != "logits"]
    assert attention in taps and set(taps) <= computed
    assert taps.index(attention) + 1 < len(taps) and ".mlp.fc2" in taps[taps.index(attention) + 1]
    assert first_divergence_from_layers(layers, path, batch, tolerance=TOLERANCE) is None
    wrong = _with_scaled(path, f"{wrong_projection}.weight", tmp_path / "wrong.onnx")
    divergence = first_divergence_from_layers(layers, wrong, batch, tolerance=TOLERANCE)
    assert divergence is not None and divergence.output == attention, divergence
    assert divergence.nodes_compared == taps.index(attention) and divergence.max_rel_err > 100 * TOLERANCE


@pytest.fixture(scope="module")
def canonical_files(tmp_path_factory):
    """kind -> (arch, params, canonical file): each built once, from timm's export (mmpretrain's
    for its own DeiT-III, whose MLP reads ``ln1``)."""
    built = {}

    def canonical(kind: str):
        if kind not in built:
            library = "mmpretrain" if kind == "deit3_mm" else "timm"
            arch, params, module = vit._network(library, kind)
            built[kind] = arch, params, _canonical_file(module, arch, vit.SIZE, tmp_path_factory.mktemp(kind) / "canonical.onnx")
        return built[kind]

    return canonical


@pytest.mark.parametrize(
    "library, kind",
    [("timm", "vit"), ("torchvision", "vit"), ("mmpretrain", "vit"), ("paddle", "vit"), ("timm", "deit3"), ("mmpretrain", "deit3_mm")],
)
def test_vit_attention_output_is_located(canonical_files, tmp_path, library, kind):
    """torchvision's nn.MultiheadAttention (its ``out_proj`` is never called: the module's first
    output), timm's and PaddleClas's ``attn.proj``, mmpretrain's ``attn.proj`` (its DeiT-III's
    layer scale ``gamma1`` inside ``attn`` comes after): the projection's output, before the layer
    scale and the residual addition."""
    arch, params, path = canonical_files(kind)
    batch = vit._batch().astype(np.float32)
    if library == "paddle":
        layers = _paddle_layers(arch, params, "ViT_base_patch16_224", batch)
    else:
        layers = _torch_layers(vit._network(library, kind)[2], arch, library, vit.SIZE, batch)
    _assert_located(layers, path, batch, "blocks.1.attn.proj", "blocks.1.attn.proj", tmp_path)


@pytest.fixture(scope="module")
def swin_files(tmp_path_factory):
    """v2 -> (arch, params, canonical file of timm's export)."""
    from zoocheck.families.swin.random import draw

    built = {}

    def canonical(v2: bool):
        if v2 not in built:
            arch = swin._arch(v2)
            params = draw(arch, 0, swin.SIZE)
            module = swin._BUILD["timm"](arch, params)
            built[v2] = arch, params, _canonical_file(module, arch, swin.SIZE, tmp_path_factory.mktemp("swin") / "canonical.onnx")
        return built[v2]

    return canonical


@pytest.mark.parametrize("library", ["timm", "torchvision", "mmpretrain", "paddle"])
# V2 in the slow run (its canonical file is 10 s of the default run's 30): its tap, norm1, is named
# by its weight as the MLP's fc2 is
@pytest.mark.parametrize("v2", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_swin_attention_branch_is_located(swin_files, tmp_path, library, v2):
    """The attention branch in the map's layout, un-shifted, as the block adds it: V1's window
    attention (torchvision's ShiftedWindowAttention, mmpretrain's ShiftWindowMSA, PaddleClas's
    WindowAttention, timm's ``drop_path1`` after its block's windows are put back), V2's post-norm
    ``norm1``. The shifted block of the first stage is made wrong, after its unshifted one (timm's
    MLP output there is tokens [N, H * W, C]: the map's values)."""
    arch, params, path = swin_files(v2)
    batch = swin._batch().astype(np.float32)
    if library == "paddle":
        name = "SwinTransformerV2_tiny_patch4_window8_256" if v2 else "SwinTransformer_tiny_patch4_window7_224"
        layers = _paddle_layers(arch, params, name, batch)
    else:
        layers = _torch_layers(swin._BUILD[library](arch, params), arch, library, swin.SIZE, batch)
    attention = "stages.0.blocks.1.norm1" if v2 else "stages.0.blocks.1.attn.unshift.2"
    _assert_located(layers, path, batch, "stages.0.blocks.1.attn.proj", attention, tmp_path)


@pytest.mark.parametrize(
    "family, kind", [("vit", "vit"), ("vit", "deit3"), ("swin", False), pytest.param("swin", True, marks=pytest.mark.slow)]
)
def test_numpy_forward_taps_are_the_canonical_files_tensors(canonical_files, swin_files, family, kind):
    """The numpy forward's ``taps`` are the family's ``layer_outputs``, the attention's included, and
    the canonical file's tensors of those names."""
    from zoocheck.families.registry import family_of

    arch, params, path = canonical_files(kind) if family == "vit" else swin_files(kind)
    batch = (vit._batch() if family == "vit" else swin._batch()).astype(np.float32)
    taps = {}
    family_of(arch).part("forward")(arch, params, batch, taps=taps)
    assert list(taps) == list(layer_modules(arch))
    assert first_divergence_from_layers(taps, path, batch, tolerance=TOLERANCE) is None
