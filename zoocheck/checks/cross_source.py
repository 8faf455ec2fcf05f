"""Cross-source checks: two zoos that publish the same weights must compute the same function.

The ONNX model zoo's ResNet v1/v2 files were exported from the MXNet Gluon model zoo, so the
zoo file run in onnxruntime must agree with MXNet's forward of the Gluon weights it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from zoocheck.checks.results import ParityResult, Tolerance
from zoocheck.zoo_registry.types import Entry


def gluon_vs_onnx_zoo(
    zoo_entry: Entry,
    gluon_entry: Entry,
    *,
    zoo_weights: Path | None,
    gluon_weights: Path | None,
    random_seed: int | None = None,
    images: Sequence[Path] | None = None,
    tolerance: Tolerance = Tolerance(),
) -> ParityResult:
    """MXNet forward of ``gluon_entry`` (reference 'gluon') vs onnxruntime on the original
    ONNX-zoo file of ``zoo_entry`` (test 'onnx-zoo'), on the same preprocessed inputs.

    Both forwards run in isolated children (pipeline.convert with no output). With weights None
    and ``random_seed`` both sides get the same seeded random Gluon weights (the onnx-zoo side
    exports them zoo-style first). Never raises for a model's failure: status 'error' instead.
    """
    from zoocheck.checks.parity import model_inputs, parity_result
    from zoocheck.converters.pipeline import convert

    if zoo_entry.arch != gluon_entry.arch:
        raise ValueError(f"{zoo_entry.key} is {zoo_entry.arch.id}, {gluon_entry.key} is {gluon_entry.arch.id}: not the same network")
    fed = model_inputs(zoo_entry, images)
    names, batch = fed.names, fed.batch
    reference = convert(gluon_entry, output=None, weights=gluon_weights, random_seed=random_seed, inputs=batch)
    common = dict(
        source="onnx-zoo",
        model=zoo_entry.name,
        reference_runtime="gluon",
        test_runtime="onnx-zoo",
        names=names,
        inputs=fed.described,
        skipped=fed.skipped,
        random_weights=zoo_weights is None and gluon_weights is None,
        tolerance=tolerance,
        onnx_path=str(zoo_weights) if zoo_weights else None,
        weights=str(gluon_weights) if gluon_weights else None,
    )
    if not reference.ok:
        return parity_result(reference=None, test=None, failure=reference.failure, **common)
    test = convert(zoo_entry, output=None, weights=zoo_weights, random_seed=random_seed, inputs=batch)
    if not test.ok:
        return parity_result(reference=None, test=None, failure=test.failure, **common)
    return parity_result(reference=reference.native_outputs, test=test.native_outputs, **common)


__all__ = ["gluon_vs_onnx_zoo"]
