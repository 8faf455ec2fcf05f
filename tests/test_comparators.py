"""The comparator on tiny arrays: each tolerance rule fails when it should and only then."""

import dataclasses
import json

import numpy as np
import pytest

from zoocheck.checks.parity import compare_outputs, parity_result
from zoocheck.records import ParityResult, Tolerance
from zoocheck.reports.lines import parity_line


def test_identical_outputs_pass_with_zero_error():
    ref = np.array([0.0, 1.0, 5.0, -2.0, 3.0, 4.0])
    c = compare_outputs("x", ref, ref.copy())
    assert c.max_abs_err == 0 and c.max_rel_err == 0 and c.cosine == pytest.approx(1.0)
    assert c.top1_agree and c.top5_overlap == 5 and not Tolerance().violations(c)


def test_relative_error_is_scaled_by_the_logit_range():
    ref = np.array([0.0, 10.0, 20.0, 30.0, 40.0, 100.0])
    test = ref.copy()
    test[0] += 0.05  # 5e-4 of the range 100
    c = compare_outputs("x", ref, test)
    assert c.max_abs_err == pytest.approx(0.05)
    assert c.max_rel_err == pytest.approx(5e-4)
    assert not Tolerance().violations(c)
    assert Tolerance(max_rel_err=1e-4).violations(c) == ["rel err 0.0005 > 0.0001"]


def test_top1_disagreement_fails_even_when_errors_are_small():
    ref = np.array([1.0, 1.00001, 0.0, -1.0, -2.0, -3.0])
    test = np.array([1.00001, 1.0, 0.0, -1.0, -2.0, -3.0])
    c = compare_outputs("x", ref, test)
    assert c.max_rel_err < 1e-3
    assert c.top1_reference == 1 and c.top1_test == 0
    assert any("top-1" in v for v in Tolerance().violations(c))
    assert not Tolerance(require_top1=False).violations(c)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_always_fails(bad):
    ref = np.arange(6.0)
    test = ref.copy()
    test[2] = bad
    c = compare_outputs("x", ref, test)
    assert c.nonfinite
    assert Tolerance(max_rel_err=float("inf"), min_cosine=-1, require_top1=False, min_top5_overlap=0).violations(c)


def test_top5_overlap_counts_shared_classes():
    ref = np.array([9.0, 8, 7, 6, 5, 4, 3, 2])
    test = np.array([9.0, 8, 7, 6, 2, 4, 3, 5.5])  # class 4 leaves the top-5, class 7 enters
    c = compare_outputs("x", ref, test)
    assert c.top5_overlap == 4


def test_result_round_trips_through_json_and_can_be_rejudged():
    ref = np.random.default_rng(0).standard_normal((3, 10))
    test = ref + 2e-3 * (ref.max() - ref.min())
    result = parity_result(
        source="timm",
        model="m",
        reference_runtime="torch",
        test_runtime="onnxruntime",
        names=["a", "b", "c"],
        reference=ref,
        test=test,
        random_weights=True,
    )
    assert result.status == "failed"
    restored = ParityResult.from_json(json.loads(json.dumps(result.to_json())))
    assert restored.comparisons == result.comparisons
    assert restored.tolerance == result.tolerance
    assert restored.rejudge(dataclasses.replace(Tolerance(), max_rel_err=1e-2)).status == "ok"
    assert "RANDOM WEIGHTS" in parity_line(result)


def test_shape_mismatch_is_an_error_result_not_an_exception():
    result = parity_result(
        source="s",
        model="m",
        reference_runtime="r",
        test_runtime="t",
        names=["a"],
        reference=np.zeros((1, 10)),
        test=np.zeros((1, 11)),
        random_weights=False,
    )
    assert result.status == "error"
    assert result.failure.stage == "parity"


def test_parity_inputs_list_every_photograph_fed_and_every_one_skipped(tmp_path):
    from zoocheck.checks.images import bundled_photos
    from zoocheck.checks.parity import model_inputs
    from zoocheck.zoo_registry import get_entry

    good = bundled_photos()[0]
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not a jpeg")
    fed = model_inputs(get_entry("torchvision", "resnet18"), [good, bad], random_count=2, seed=3)
    assert fed.names == ["random-0", "random-1", good.name] and fed.batch.shape[0] == 3
    assert fed.described[:2] == ("random-0 (standard normal, seed 3)", "random-1 (standard normal, seed 3)")
    assert fed.described[2] == str(good)
    [(path, reason)] = fed.skipped
    assert path == str(bad) and reason
