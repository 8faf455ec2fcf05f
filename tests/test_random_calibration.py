"""Calibrated random weights for networks zoocheck has no numpy forward for (issue 18): the
library's network, batch norms calibrated in float64 in network order, residual branches damped,
so that its fp32 forward agrees with its fp64 forward and parity judges the conversion. With the
library's own init and a train-mode statistics pass, timm's efficientnet_b0 was 1.8e-3 of the logit
range off its fp64 forward on photographs (torchvision's efficientnet_v2_s 0.23)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from zoocheck.checks.parity import model_inputs, parity_result
from zoocheck.reports.lines import parity_line

pytest.importorskip("timm")
SIZE = 96  # small, for the default suite


def _entry(source: str, name: str):
    from zoocheck.converters import converter_for

    entry = converter_for(source).resolve(name)
    return dataclasses.replace(entry, input_size=SIZE, preprocess=dataclasses.replace(entry.preprocess, resize=SIZE, crop=SIZE))


def _load(entry, seed: int):
    from zoocheck.converters import converter_for

    return converter_for(entry.source).load(entry, None, random_seed=seed)


def _state(native) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in native.module.state_dict().items()}


def test_calibration_is_deterministic_for_seed_and_input_size():
    entry = _entry("timm", "mobilenetv3_small_050.lamb_in1k")
    first, again, other = _state(_load(entry, 0)), _state(_load(entry, 0)), _state(_load(entry, 1))
    assert first.keys() == again.keys() and all(np.array_equal(first[k], again[k]) for k in first)
    assert not np.array_equal(first["conv_stem.weight"], other["conv_stem.weight"])
    assert not np.array_equal(first["bn1.running_var"], other["bn1.running_var"])


def test_residual_branch_ends_are_found_in_the_data_flow():
    import timm
    import torch
    from torchvision.models import resnet18

    from zoocheck.converters.torch_random import residual_branch_ends

    def ends(module):
        module.eval()
        norms = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        found = residual_branch_ends(module, norms, torch.zeros(1, 3, 64, 64))
        return sorted(name for name, m in module.named_modules() if m in found)

    # the projection of a ResNet block is a batch norm too: the branch is the deeper operand
    assert ends(resnet18()) == sorted(f"layer{s}.{b}.bn2" for s in range(1, 5) for b in range(2))
    # EfficientNet: the projecting batch norm of every block with a skip (after SE, before drop-path)
    net = timm.create_model("efficientnet_b0", pretrained=False)
    skips = [
        f"blocks.{s}.{b}.{'bn2' if s == 0 else 'bn3'}"
        for s, stage in enumerate(net.blocks)
        for b, block in enumerate(stage)
        if block.has_skip
    ]
    assert len(skips) == 9 and ends(net) == sorted(skips)
    assert ends(timm.create_model("densenet121", pretrained=False)) == []  # concatenations, no additions


#: fp32's error off fp64 as a share of the logit span. efficientnet_v2_s draws the canonical scheme
#: since it has a canonical form: 1.0e-4 to 1.2e-4 at 384 px, depending on the threads' summation
#: order (torch's own init and randomize gave < 1e-4); bounded where it stands until tightened
@pytest.mark.parametrize("source,name,bound", [("timm", "efficientnet_b0.ra_in1k", 1e-4), ("torchvision", "efficientnet_v2_s", 2e-4)])
def test_random_weights_are_fp32_stable(source, name, bound):
    entry = _entry(source, name)
    native = _load(entry, 0)
    batch = model_inputs(entry, None).batch
    fp64, fp32 = native.forward_fp64(batch), native.forward(batch)
    span = fp64.max(axis=1) - fp64.min(axis=1)
    # at the entry's size 224: <= 2.3e-6 (efficientnet_b0); at 96 px a photograph's logits spread
    # up to 1000x the calibration batch's and the error with them (efficientnet_b0: 2.8e-5)
    assert (np.abs(fp32 - fp64).max(axis=1) / span).max() < bound
    # logits neither flat nor saturated, and not one class for every photograph
    assert (fp64.std(axis=1) > 0.1).all() and len(set(fp64[2:].argmax(axis=1))) > 1


def test_parity_of_random_efficientnet_b0_passes_and_reports_fp64(tmp_path):
    from zoocheck.checks.parity import check_parity

    result, conversion = check_parity(
        _entry("timm", "efficientnet_b0.ra_in1k"), weights=None, random_seed=0, output=tmp_path / "b0.onnx", isolate=False
    )
    assert conversion.ok, conversion.failure
    assert result.status == "ok", parity_line(result)
    assert len(result.reference_fp64_rel_err) == len(result.comparisons) and max(result.reference_fp64_rel_err) < 1e-4
    assert f"torch fp32 vs fp64 {max(result.reference_fp64_rel_err):.3g})" in parity_line(result)


def test_a_framework_without_fp64_forward_is_named():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((2, 10))
    result = parity_result(
        source="gluon",
        model="m",
        reference_runtime="mxnet",
        test_runtime="onnxruntime",
        names=["a", "b"],
        reference=logits,
        test=logits + 1e-7,
        random_weights=True,
        reference_fp64=None,
    )
    assert result.status == "ok" and "(tol 0.001; mxnet has no fp64 forward)" in parity_line(result)
