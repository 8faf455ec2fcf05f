"""The EfficientNetV2 family's canonical form (EfficientNet's, drawn from the V2 block tables with
fused blocks): the numpy forward is torchvision's and timm's network (symmetric and TF "same"
padding, timm's ``cn`` and ``er`` first stages), torchvision's efficientnet_v2_s and timm's
tf_efficientnetv2_b0 become the canonical graph of their id and compute what their framework
computes. At 64 pixels."""

from __future__ import annotations

import pytest
from conftest import assert_compare_identical
from onnx import helper
from test_canonical_efficientnet import SIZE, _convert, check_numpy_forward

from zoocheck.converters.graph import NoCanonicalForm, canonical_fingerprint, resolve_form, template_for
from zoocheck.zoo_registry import get_entry

#: efficientnet_v2_s's fp32 forward is itself 3e-5 from fp64 (numpy's and torch's alike) at 64 px
FP32_NOISE_TOL = 1e-4
OPS = {"Conv", "Sigmoid", "Mul", "GlobalAveragePool", "Add", "Flatten", "Gemm"}


#: timm's own models keep PyTorch's batch-norm eps 1e-5: on the calibrated weights' near-silent
#: channels (measured variances down to ~2e-6) their fp32 forward is 2e-4 (rw_t) to 1.5e-2 (rw_s)
#: from fp64, against ~3e-5 at TF's eps 1e-3
TIMM_OWN_FP32_TOL = 0.05


@pytest.mark.parametrize(
    "source, name, fp32_tol",
    [
        ("torchvision", "efficientnet_v2_s", 1e-4),
        ("timm", "tf_efficientnetv2_b0", 1e-4),
        ("timm", "efficientnetv2_rw_t", TIMM_OWN_FP32_TOL),
        pytest.param("timm", "efficientnetv2_rw_s", TIMM_OWN_FP32_TOL, marks=pytest.mark.slow),
        pytest.param("timm", "tf_efficientnetv2_b3", 1e-4, marks=pytest.mark.slow),
        pytest.param("torchvision", "efficientnet_v2_m", 1e-4, marks=pytest.mark.slow),
    ],
)
def test_numpy_forward_is_the_librarys_network(source, name, fp32_tol):
    """torchvision's and timm's networks (timm's ``cn`` first stage and rw's ``er`` one at
    expansion 1, "same" padding) from the canonical weights under the library's names. V2-M at
    128 px: at 64 its 57 blocks end on 2x2 maps and its fp32 forward is 1e-2 from fp64."""
    check_numpy_forward(source, name, size=128 if name.endswith("_m") else SIZE, fp32_tol=fp32_tol)


def test_efficientnet_v2_s_canonical_file(tmp_path):
    """torchvision's FusedMBConv (one conv at expansion 1, fused conv + project) and MBConv with SE."""
    entry, model = _convert(tmp_path, "torchvision", "efficientnet_v2_s", tol=FP32_NOISE_TOL)
    assert entry.arch.id == "efficientnet_v2_s_bneps1e-3"
    names = {n.name for n in model.graph.node}
    assert {"stage1.1.fused", "stage1.1.add", "stage2.0.fused", "stage2.0.project", "stage4.0.se.scale"} <= names
    assert "stage1.0.project" not in names and {n.op_type for n in model.graph.node} == OPS


def test_same_padding_canonical_file_has_the_pads_at_its_input_size(tmp_path):
    """timm's tf_efficientnetv2_b0: TF's pads on the strided convolutions themselves (fused and
    depthwise), the input declared at its size."""
    entry, model = _convert(tmp_path, "timm", "tf_efficientnetv2_b0.in1k")
    assert entry.arch.id == "efficientnet_v2_b0_bneps1e-3_samepad"
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[2:]] == [SIZE, SIZE]
    pads = {n.name: list(helper.get_attribute_value(a)) for n in model.graph.node for a in n.attribute if a.name == "pads"}
    # 64 -> 32 -> 16 -> 8 -> 4: even sizes, so the odd pixel of TF's 3x3/2 padding is after
    assert pads["stem.conv"] == pads["stage2.0.fused"] == pads["stage4.0.dw"] == pads["stage6.0.dw"] == [0, 0, 1, 1]
    assert pads["stage2.1.fused"] == [1, 1, 1, 1] and {n.op_type for n in model.graph.node} == OPS


def test_ids_with_a_canonical_graph_and_one_without():
    """Same padding needs the input size; the global-context attention variant stays native."""
    same = get_entry("mmpretrain", "efficientnetv2-b3_3rdparty_in1k").arch
    assert same.id == get_entry("timm", "tf_efficientnetv2_b3.in1k").arch.id
    assert canonical_fingerprint(same, 17) is None and canonical_fingerprint(same, 17, 300) != canonical_fingerprint(same, 17, 288)
    symmetric = get_entry("torchvision", "efficientnet_v2_s").arch
    assert canonical_fingerprint(symmetric, 17, 384) == canonical_fingerprint(symmetric, 17)
    gc = get_entry("timm", "gc_efficientnetv2_rw_t.agc_in1k").arch
    assert resolve_form(gc, None) == "native"
    with pytest.raises(NoCanonicalForm, match="'gc' attention"):
        template_for(gc, 17)


@pytest.mark.slow
def test_mmpretrain_same_padding_file_is_timms_graph(tmp_path):
    """mmpretrain's EfficientNetV2 (Conv2dAdaptivePadding, EnhancedConvModule first stage): the
    canonical graph of timm's tf_efficientnetv2_b0, the same fingerprint at the same size."""
    entry, model = _convert(tmp_path, "mmpretrain", "efficientnetv2-b0_3rdparty_in1k")
    assert entry.arch.id == get_entry("timm", "tf_efficientnetv2_b0.in1k").arch.id


@pytest.mark.slow
def test_compare_random_weights_says_identical(tmp_path, capsys):
    """timm's tf_efficientnetv2_b0 (192 px) and mmpretrain's efficientnetv2-b0 (224 px): one id, one
    function, both converted at the first side's size (TF "same" pads depend on it)."""
    assert_compare_identical("timm:tf_efficientnetv2_b0.in1k", "mmpretrain:efficientnetv2-b0_3rdparty_in1k", tmp_path, capsys)
