"""PaddleClas's MobileNetV3 (hardswish, the 0.2-slope SE gate), MobileNetV2, DenseNet, VGG and
EfficientNet: zoocheck's networks (``zoocheck/families/<family>/paddle.py``) load checkpoints written
by PaddleClas's own model code and compute what that code computes; ``zoocheck parity`` passes on
such a checkpoint for the smallest model of each family.

PaddleClas's code comes from the paddleclas wheel setup.sh installs (``--no-deps``; see
paddle_fixtures.py). Weights are random, batch-norm statistics included, written by ``paddle.save``
of the PaddleClas model's state dict: exactly a ``*_pretrained.pdparams``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("paddle")
pytest.importorskip("paddle2onnx")

from conftest import assert_not_degenerate, at_size, inputs_for, max_rel  # noqa: E402
from paddle_fixtures import import_paddleclas, paddleclas_root, perturbed_state  # noqa: E402

from zoocheck.cli import main  # noqa: E402
from zoocheck.converters.base import NoBuilder  # noqa: E402
from zoocheck.converters.paddle import PaddleClasConverter, build_model  # noqa: E402
from zoocheck.zoo_registry import select_entries  # noqa: E402

pytestmark = pytest.mark.skipif(paddleclas_root() is None, reason="paddleclas not installed (./setup.sh installs it --no-deps)")

_BACKBONE = "paddleclas.ppcls.arch.backbone."
MODULES = {
    "MobileNetV3": _BACKBONE + "legendary_models.mobilenet_v3",
    "MobileNetV2": _BACKBONE + "model_zoo.mobilenet_v2",
    "DenseNet": _BACKBONE + "model_zoo.densenet",
    "VGG": _BACKBONE + "legendary_models.vgg",
    "EfficientNet": _BACKBONE + "model_zoo.efficientnet",
}


def entry_of(name: str):
    (entry,) = select_entries(["ppcls"], [name])
    return entry


def paddleclas_checkpoint(name: str, path, seed: int = 11):
    """PaddleClas's own ``name`` network with random weights, written as PaddleClas writes a
    checkpoint; the network, in eval mode."""
    import paddle

    module = import_paddleclas(MODULES[next(prefix for prefix in MODULES if name.startswith(prefix))])
    with paddle.utils.unique_name.guard():  # model_zoo files name their parameters: one model per guard
        reference = getattr(module, name)()
    reference.eval()
    reference.set_state_dict(perturbed_state(reference, seed))
    paddle.save(reference.state_dict(), str(path))
    return reference


# (PaddleClas model, input size): small inputs where the network has a global pool; VGG's classifier
# is sized for 224. EfficientNet's SAME padding is PaddleClas's table at the model's own size: 64 and
# 80 pixels pad as 224 (B0) and 240 (B1) do, since each strided conv sees a size of the same parity.
CASES = [
    pytest.param("MobileNetV3_small_x0_35", 64, id="MobileNetV3_small_x0_35"),
    pytest.param("MobileNetV3_large_x1_25", 64, id="MobileNetV3_large_x1_25"),
    pytest.param("MobileNetV2_x0_25", 64, id="MobileNetV2_x0_25"),
    pytest.param("MobileNetV2_x1_5", 64, id="MobileNetV2_x1_5", marks=pytest.mark.slow),
    pytest.param("DenseNet121", 64, id="DenseNet121"),
    pytest.param("DenseNet161", 64, id="DenseNet161", marks=pytest.mark.slow),
    pytest.param("EfficientNetB0", 64, id="EfficientNetB0"),
    pytest.param("EfficientNetB0_small", 64, id="EfficientNetB0_small"),
    pytest.param("EfficientNetB1", 80, id="EfficientNetB1", marks=pytest.mark.slow),
    pytest.param("EfficientNetB2", 260, id="EfficientNetB2", marks=pytest.mark.slow),
    pytest.param("VGG11", 224, id="VGG11", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("name, size", CASES)
def test_checkpoint_written_by_paddleclas_code_matches(tmp_path, name, size):
    import paddle

    path = tmp_path / f"{name}_pretrained.pdparams"
    reference = paddleclas_checkpoint(name, path)
    native = PaddleClasConverter().load(entry_of(name), path)  # strict by name: PaddleClas's names, no more, no fewer
    inputs = np.random.default_rng(0).normal(size=(2, 3, size, size)).astype(np.float32)
    with paddle.no_grad():
        expected = reference(paddle.to_tensor(inputs)).numpy()
    got = native.forward(inputs)
    assert np.isfinite(expected).all() and expected.std() > 1e-2
    assert max_rel(expected, got) < 1e-5


# the smallest model of each family (EfficientNetB0: TF "same" padding, the conv's own asymmetric
# pads in the export), the input size it is checked at (as CASES: 64 pixels but VGG), and the ONNX
# ops its native graph must hold: paddle2onnx writes hardswish and PaddleClas's 0.2-slope SE gate
# as ONNX's own HardSwish and HardSigmoid (opset 14 and up)
PARITY = [
    pytest.param("MobileNetV3_small_x0_35", 64, {"HardSwish", "HardSigmoid"}, id="MobileNetV3"),
    pytest.param("MobileNetV2_x0_25", 64, {"Clip"}, id="MobileNetV2"),
    pytest.param("EfficientNetB0", 64, {"Sigmoid"}, id="EfficientNet"),
    pytest.param("EfficientNetB0_small", 64, {"Sigmoid"}, id="EfficientNetB0_small", marks=pytest.mark.slow),
    pytest.param("DenseNet121", 64, {"Concat"}, id="DenseNet", marks=pytest.mark.slow),
    pytest.param("VGG11", 224, {"MaxPool"}, id="VGG", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("name, size, ops", PARITY)
def test_parity_passes_on_a_checkpoint_written_by_paddleclas(tmp_path, name, size, ops):
    """The parity check (``zoocheck parity``'s) on the photos at ``size`` pixels."""
    import onnx

    from zoocheck.checks.parity import check_parity
    from zoocheck.reports.lines import parity_line

    weights = tmp_path / f"{name}_pretrained.pdparams"
    paddleclas_checkpoint(name, weights)
    result, _ = check_parity(
        at_size(entry_of(name), size), weights=weights, random_seed=None, output=tmp_path / "model.onnx", isolate=False
    )
    assert result.status == "ok" and not result.random_weights, parity_line(result)
    assert all(c.max_rel_err < 1e-3 and c.top1_agree for c in result.comparisons)
    nodes = onnx.load(result.onnx_path).graph.node
    assert ops <= {n.op_type for n in nodes}
    gate_slopes = {round(a.f, 6) for n in nodes if n.op_type == "HardSigmoid" for a in n.attribute if a.name == "alpha"}
    assert gate_slopes <= {0.2}  # not the 1/6 of every other zoo's gate


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("MobileNetV3_small_x0_35", id="MobileNetV3"),
        pytest.param("EfficientNetB0", id="EfficientNet", marks=pytest.mark.slow),
        pytest.param("MobileNetV2", id="MobileNetV2", marks=pytest.mark.slow),
        pytest.param("DenseNet121", id="DenseNet", marks=pytest.mark.slow),
        pytest.param("VGG11", id="VGG", marks=pytest.mark.slow),
    ],
)
def test_random_weights_are_seeded_and_calibrated(name):
    """The families without canonical weights get the scheme's batch-norm and classifier steps on
    the network's own seeded initialisation: the same seed the same network, photographs told apart."""
    entry = entry_of(name)
    inputs = inputs_for(entry, n_random=1)
    logits = PaddleClasConverter().load(entry, None, random_seed=3).forward(inputs)
    assert np.array_equal(logits, PaddleClasConverter().load(entry, None, random_seed=3).forward(inputs))
    assert not np.allclose(logits, PaddleClasConverter().load(entry, None, random_seed=4).forward(inputs))
    assert_not_degenerate(logits, n_photos=len(inputs) - 1)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["EfficientNetB0", "DenseNet121", "MobileNetV3_large_x1_0"])
def test_parity_with_random_weights(tmp_path, capsys, name):
    code = main(["parity", "--src", "ppcls", "--model", name, "--random-weights", "--results", str(tmp_path), "--json"])
    out = capsys.readouterr().out
    assert code == 0, out[-2000:]
    assert json.loads(out)["random_weights"] is True


@pytest.mark.parametrize(
    "name, field",
    [("MobileNetV3_small_x0_35", "head_bias"), ("DenseNet121", "blur_pool"), ("VGG11", "batch_norm"), ("MobileNetV2_x0_25", "classifier")],
)
def test_a_spec_field_the_paddleclas_file_does_not_build_is_refused(name, field):
    import dataclasses

    entry = entry_of(name)
    spec = entry.arch.structure
    other = {"head_bias": True, "blur_pool": True, "batch_norm": True, "classifier": "conv_nobias"}[field]
    arch = dataclasses.replace(entry.arch, structure=dataclasses.replace(spec, **{field: other}))
    with pytest.raises(NoBuilder, match=f"PaddleClas's .* builds no such network: {field}"):
        build_model(dataclasses.replace(entry, arch=arch))
