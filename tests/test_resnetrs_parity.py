"""ResNet-RS (issue 12): deep timm ResNets with seeded random weights must give a parity check that
judges the conversion, and a parity FAIL that is fp32 rounding of the weights must say so.

The sweep found timm resnetrs350/420 failing at a relative error of ~1 and resnetrs50 at 4e-3. The
cause was the random weights: every residual branch's last BN at gamma ~ U(0.5, 1.5) makes a deep
network chaotic, so fp32 itself strays from the fp64 forward (resnetrs101 at 64 px: 0.7). Measured
at a small depth and input so the default suite stays fast."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

from zoocheck.checks.parity import parity_result
from zoocheck.records import Tolerance
from zoocheck.reports.lines import parity_line

SIZE = 64


@pytest.fixture(scope="module")
def resnetrs50():
    pytest.importorskip("timm")
    from zoocheck.converters import converter_for

    entry = converter_for("timm").resolve("resnetrs50.tf_in1k")
    return dataclasses.replace(entry, input_size=SIZE, preprocess=dataclasses.replace(entry.preprocess, resize=SIZE, crop=SIZE))


def test_random_resnetrs_is_fp32_stable_and_exported_in_eval_mode(resnetrs50, tmp_path):
    import torch
    from conftest import max_rel, run_onnx

    from zoocheck.converters import converter_for

    native = converter_for("timm").load(resnetrs50, None, random_seed=0)
    assert not [name for name, m in native.module.named_modules() if m.training]
    x = np.random.default_rng(0).standard_normal((3, 3, SIZE, SIZE)).astype(np.float32)
    before = {k: v.clone() for k, v in native.module.state_dict().items()}
    fp64 = native.forward_fp64(x)
    assert fp64.dtype == np.float64
    after = native.module.state_dict()
    assert all(after[k].dtype == v.dtype and torch.equal(after[k], v) for k, v in before.items())
    # the old scheme (gain 1 on every branch) gave 8.7e-4 here and 0.7 on resnetrs101
    assert max_rel(fp64, native.forward(x)) < 1e-5
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        native.export_onnx(tmp_path / "raw.onnx", 17)
    assert not [w for w in caught if "train=True" in str(w.message)]
    assert max_rel(fp64, run_onnx(tmp_path / "raw.onnx", x)) < 1e-4


@pytest.mark.slow  # a second build in a spawned child; the sweep tests cover the fp64 plumbing
def test_resnetrs_parity_passes_through_the_pipeline(resnetrs50, tmp_path):
    from zoocheck.checks.parity import check_parity

    result, conversion = check_parity(resnetrs50, weights=None, random_seed=0, output=tmp_path / "rs50.onnx")
    assert conversion.ok, conversion.failure
    assert result.status == "ok", parity_line(result)
    assert len(result.reference_fp64_rel_err) == len(result.comparisons)
    assert max(result.reference_fp64_rel_err) < 1e-5 and max(result.test_fp64_rel_err) < 1e-4
    assert not result.fp32_noise and result.to_json()["fp32_noise"] is False


def _logits(rng, n=3, classes=50):
    return rng.standard_normal((n, classes)) * 3


def _judge(reference, test, fp64):
    return parity_result(
        source="timm",
        model="m",
        reference_runtime="torch",
        test_runtime="onnxruntime",
        names=["a", "b", "c"],
        reference=reference,
        test=test,
        random_weights=True,
        reference_fp64=fp64,
    )


def test_fail_from_fp32_noise_says_so_instead_of_blaming_the_conversion():
    rng = np.random.default_rng(1)
    fp64 = _logits(rng)
    span = (fp64.max(1) - fp64.min(1))[:, None]
    reference = fp64 + rng.standard_normal(fp64.shape) * 2e-3 * span  # fp32 forward itself strays
    test = fp64 + rng.standard_normal(fp64.shape) * 2e-3 * span
    result = _judge(reference, test, fp64)
    assert result.status == "failed"
    assert result.fp32_noise
    assert "fp32 rounding, not the conversion" in parity_line(result)
    again = type(result).from_json(result.to_json())
    assert again.fp32_noise and again.reference_fp64_rel_err == result.reference_fp64_rel_err


def test_fail_of_the_conversion_is_not_excused_as_noise():
    rng = np.random.default_rng(2)
    fp64 = _logits(rng)
    span = (fp64.max(1) - fp64.min(1))[:, None]
    noisy = fp64 + rng.standard_normal(fp64.shape) * 2e-3 * span
    # the framework is accurate, the ONNX output is off: a conversion error
    assert not _judge(fp64.copy(), noisy, fp64).fp32_noise
    # the framework is noisy but the ONNX output is off by far more than that noise
    wrong = fp64 + rng.standard_normal(fp64.shape) * 0.2 * span
    result = _judge(noisy, wrong, fp64)
    assert result.status == "failed" and not result.fp32_noise
    assert "fp32 rounding" not in parity_line(result)
    # without an fp64 forward nothing is claimed
    assert not _judge(noisy, wrong, None).fp32_noise


def test_rejudged_pass_is_never_noise():
    rng = np.random.default_rng(3)
    fp64 = _logits(rng)
    span = (fp64.max(1) - fp64.min(1))[:, None]
    noisy = fp64 + rng.standard_normal(fp64.shape) * 2e-3 * span
    result = _judge(noisy, fp64 + rng.standard_normal(fp64.shape) * 2e-3 * span, fp64)
    loose = result.rejudge(dataclasses.replace(Tolerance(), max_rel_err=0.1, min_cosine=0.9, require_top1=False, min_top5_overlap=0))
    assert loose.status == "ok" and not loose.fp32_noise
