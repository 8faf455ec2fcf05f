"""The terminal lines reports/ renders from records alone (no conversion needed): a compare
report through its Jinja2 template, with every optional part present."""

from __future__ import annotations

import math

from zoocheck.records import (
    Comparison,
    Divergence,
    FunctionComparison,
    ImagePixelDifference,
    LogitEffect,
    OutputComparison,
    PreprocessingDifference,
    Side,
    TensorDifference,
    Tolerance,
    WeightsComparison,
)
from zoocheck.reports.compare_report import compare_lines


def test_compare_lines_name_three_tensors_the_divergence_and_the_preprocessing():
    images = (
        ImagePixelDifference("a.png", 0.3, 0.01),
        ImagePixelDifference("b.png", math.nan, math.nan, error="cannot decode"),
        ImagePixelDifference("c.png", 1.5, 0.2),
    )
    comparison = Comparison(
        Side("timm", "r", "resnet18", "a.onnx", "a.pth"),
        Side("tv", "r", "resnet18", "b.onnx", None),
        WeightsComparison(10, tuple(TensorDifference(f"t{i}", 0.1 * i, 0.01, 0.99) for i in range(5)), only_in_a=("x",)),
        FunctionComparison(
            (
                OutputComparison("random-0", 0.1, 2e-5, 0.99999, 3, 3, 5, False),
                OutputComparison("chelsea.png", 0.2, 0.02, 0.999, 3, 4, 3, False),
            ),
            Tolerance(max_rel_err=1e-4),
        ),
        PreprocessingDifference("a", "b", images, LogitEffect("m", 0.01, ("a.png",))),
        Divergence("layer2.0.conv1", "Conv", "t", 0.5, 0.1, 12, 1e-3, ("w", "b")),
    )
    assert compare_lines(comparison) == [
        "COMPARE DIFFERENT timm/r vs tv/r [resnet18] [RANDOM WEIGHTS (one common set)]",
        "  weights: 5 of 10 tensors differ: t0 (max abs 0, cosine 0.990000), t1 (max abs 0.1, cosine 0.990000), "
        "t2 (max abs 0.2, cosine 0.990000) (+2 more)",
        "  weights: only in a: 1, only in b: 0",
        "  function: max rel err 0.02 (tol 0.0001), top-1 agree 1/2",
        "  first divergence at node layer2.0.conv1 (Conv) (weights w, b): rel err 0.5 > 0.001 after 12 agreeing nodes",
        # the mean leaves out the image that could not be preprocessed
        "  preprocessing: max pixel diff 1.5, mean 0.105; through a's model: logits rel err 0.01, top-1 flips 1",
    ]
