"""One common set of weights for an architecture, written in each source's own format and read back
through each source's own loader, computes one function: the canonical numpy forward's."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from zoocheck.converters.weights import forward, parameter_shapes, random_weights, write_weights
from zoocheck.zoo_registry import get_entry, list_entries
from zoocheck.zoo_registry.names import timm_style

SIZE = 64  # the networks are fully convolutional: small inputs keep this fast


def small(entry):
    return dataclasses.replace(entry, input_size=SIZE)


def inputs(count=2, seed=3):
    return np.random.default_rng(seed).standard_normal((count, 3, SIZE, SIZE)).astype(np.float32)


def rel_err(reference, test) -> float:
    return float(np.abs(reference - test).max() / (reference.max() - reference.min()))


@pytest.mark.parametrize("name", ["resnet18", "resnet50d", "resnet50s", "resnext50_32x4d"])
def test_canonical_names_and_forward_are_timms(name):
    torch = pytest.importorskip("torch")
    from zoocheck.converters.torch_common import timm_network

    arch = timm_style(name)
    module = timm_network(arch)
    assert {k: tuple(v.shape) for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")} == parameter_shapes(arch)
    params = random_weights(arch, 1, SIZE)
    module.load_state_dict({k: torch.from_numpy(v) for k, v in params.items()}, strict=False)
    with torch.no_grad():
        expected = module(torch.from_numpy(inputs())).numpy()
    assert rel_err(expected, forward(arch, params, inputs())) < 1e-5


def test_random_weights_are_seeded_and_not_degenerate():
    arch = timm_style("resnet18")
    # seed 5 in between: the memo keeps only the last draw, so b is drawn again, not copied
    a, c, b = random_weights(arch, 4, SIZE), random_weights(arch, 5, SIZE), random_weights(arch, 4, SIZE)
    assert all(np.array_equal(a[k], b[k]) for k in a) and not np.allclose(a["fc.weight"], c["fc.weight"])
    assert all(v.dtype == np.float32 for v in a.values())
    variances = np.concatenate([v for k, v in a.items() if k.endswith("running_var")])
    assert variances.min() > 0 and not np.allclose(variances, 1.0)  # measured, then perturbed
    logits = forward(arch, a, inputs(6))
    assert len(set(logits.argmax(1).tolist())) > 1 and np.isfinite(logits).all()


def test_the_branch_gain_shrinks_only_beyond_every_spec_networks_depth():
    from zoocheck.converters.weights.random import RESIDUAL_BRANCH_GAIN, branch_gain
    from zoocheck.families.resnet.canonical import blocks

    deepest = max(sum(1 for _ in blocks(e.arch.structure)) for e in list_entries() if e.arch.family == "resnet")
    assert deepest == 66 and branch_gain(deepest) == RESIDUAL_BRANCH_GAIN  # the canonical scheme is unchanged
    assert branch_gain(139) == pytest.approx(0.1007, abs=1e-4)  # resnetrs420: stable in fp32 at 320 px
    assert branch_gain(280) == pytest.approx(branch_gain(140) / 2)


def test_a_repeated_draw_is_a_copy_of_the_last_and_large_sets_are_not_kept(monkeypatch):
    from zoocheck.converters.weights import random as random_module

    arch = timm_style("resnet18")
    first = random_weights(arch, 6, SIZE)
    first["fc.weight"][:] = 0  # the caller owns what it gets
    again = random_weights(arch, 6, SIZE)
    assert random_module._last_draw is not None and random_module._last_draw[0] == (arch, 6, SIZE)
    assert np.abs(again["fc.weight"]).max() > 0 and again["fc.weight"] is not random_module._last_draw[1]["fc.weight"]
    monkeypatch.setattr(random_module, "MEMO_MAX_BYTES", 1024)
    random_weights(arch, 7, SIZE)
    assert random_module._last_draw is None


@pytest.mark.parametrize(
    "source, name",
    [("timm", "resnet50d.ra2_in1k"), ("mmpretrain", "resnetv1d50_8xb32_in1k"), ("gluoncv", "resnet50_v1d"), ("ppcls", "ResNet50_vd")],
)
def test_one_common_set_in_each_sources_format_computes_one_function(tmp_path, source, name):
    from zoocheck.converters import FrameworkUnavailable, converter_for

    entry = small(get_entry(source, name))
    assert entry.arch.id == "resnet50_d"
    converter = converter_for(source)
    try:
        converter.check_available()
    except FrameworkUnavailable as exc:
        pytest.skip(str(exc))
    params = random_weights(entry.arch, 7, SIZE)
    path = write_weights(entry, params, tmp_path / (entry.weights.file_name if entry.weights else "weights"))
    x = inputs()
    assert rel_err(forward(entry.arch, params, x), converter.load(entry, path).forward(x)) < 1e-5


def test_paddleclas_stage_one_projection_has_canonical_names(tmp_path):
    """PaddleClas's ResNet18 (resnet18_proj): the projection timm does not build is
    ``layer1.0.downsample`` in canonical names, and PaddleClas's loader reads it from there."""
    pytest.importorskip("paddle")
    from zoocheck.converters import converter_for

    entry = small(get_entry("ppcls", "ResNet18"))
    params = random_weights(entry.arch, 2, SIZE)
    assert params["layer1.0.downsample.0.weight"].shape == (64, 64, 1, 1)
    path = write_weights(entry, params, tmp_path / "ResNet18_pretrained.pdparams")
    x = inputs()
    assert rel_err(forward(entry.arch, params, x), converter_for("ppcls").load(entry, path).forward(x)) < 1e-5


@pytest.mark.parametrize("builder", ["resnet18_v1", "resnet50_v1", "resnet18_v2", "resnet50_v2"])
def test_mxnet_gluon_layout_v1_v2_computes_the_canonical_function(tmp_path, builder):
    """The Gluon model zoo's names (layouts.to_gluon): v1's biased bottleneck 1x1s, v2's
    pre-activations, input and final BNs, in a save_parameters file MXNet itself loads."""
    from zoocheck.converters import FrameworkUnavailable, converter_for

    entry = small(get_entry("gluon", builder))
    converter = converter_for("gluon")
    try:
        converter.check_available()
    except FrameworkUnavailable as exc:
        pytest.skip(str(exc))
    params = random_weights(entry.arch, 7, SIZE)
    path = write_weights(entry, params, tmp_path / f"{builder}.params")
    x = inputs()
    assert rel_err(forward(entry.arch, params, x), converter.load(entry, path).forward(x)) < 1e-5
