"""Models over protobuf's 2 GB limit: the seed card's resnext101_32x48d_wsl (829 M parameters)
failed ONNX conversion. zoocheck writes such a model as one .onnx + one .onnx.data file.

The slow test builds the real architecture (torchvision's ResNet class with groups=32,
width_per_group=48: torchvision has no builder for it, timm stops at 32x32d) with seeded random
weights, exports it with torch.onnx (111 loose tensor files), and sends it through zoocheck's
normaliser and atomic writer, checker and onnxruntime: about 4 minutes on 2 cores, 7.6 GB peak RSS.
"""

from __future__ import annotations

import signal

import numpy as np
import pytest
from conftest import make_entry

from zoocheck.converters.pipeline import _death
from zoocheck.families.resnet.spec import resnet
from zoocheck.zoo_registry.types import Architecture

RESNEXT_32X48D = Architecture(resnet(101, groups=32, width_per_group=48))


def test_oom_kill_message_says_how_much_memory_is_needed():
    entry = make_entry("ppcls", "ResNeXt101_32x48d_wsl", RESNEXT_32X48D)
    killed = _death(entry, -signal.SIGKILL, "export")
    assert killed.exception_type == "ProcessKilled" and killed.stage == "export"
    assert "out of memory" in killed.message and "828 M parameters" in killed.message and "8.1 GiB" in killed.message
    crashed = _death(entry, -signal.SIGSEGV, "export")
    assert crashed.exception_type == "ProcessCrash" and "SIGSEGV" in crashed.message


@pytest.mark.slow
def test_over_2gb_model_is_written_as_one_model_and_one_data_file(tmp_path):
    import onnx
    import torch
    from torchvision.models.resnet import Bottleneck, ResNet

    from zoocheck.converters.normalize import PROTOBUF_LIMIT, initializer_bytes, normalize_model, save_atomic
    from zoocheck.converters.onnx_runtime import run_first_output, session
    from zoocheck.converters.torch_common import torch_tensors
    from zoocheck.converters.weights import random_weights
    from zoocheck.families.resnet.spec import resnet
    from zoocheck.zoo_registry.types import Architecture

    model = ResNet(Bottleneck, [3, 4, 23, 3], groups=32, width_per_group=48).eval()
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params > 800e6
    # calibration at 64x64 keeps the seeded BN statistics cheap
    model.load_state_dict(torch_tensors(random_weights(Architecture(resnet(101, groups=32, width_per_group=48)), 0, 64)), strict=False)
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224), dtype=np.float32)
    with torch.no_grad():
        reference = model(torch.from_numpy(x)).numpy()

    raw_dir = tmp_path / "raw"
    raw_dir.mkdir()
    with torch.no_grad():
        torch.onnx.export(
            model,
            (torch.from_numpy(x),),
            str(raw_dir / "raw.onnx"),
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "b"}, "y": {0: "b"}},
            opset_version=17,
            dynamo=False,
        )
    del model
    assert len(list(raw_dir.iterdir())) > 2  # torch wrote loose external tensor files
    raw = onnx.load(str(raw_dir / "raw.onnx"))  # pulls the external data in
    assert initializer_bytes(raw) > PROTOBUF_LIMIT

    out = tmp_path / "out" / "resnext101_32x48d.onnx"
    written = save_atomic(normalize_model(raw, {"model": "resnext101_32x48d"}), out, {"model": "resnext101_32x48d"})
    del raw
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(
        ["resnext101_32x48d.onnx", "resnext101_32x48d.onnx.data", "resnext101_32x48d.onnx.json"]
    )
    assert set(written) == set(out.parent.iterdir())
    assert out.stat().st_size < 2**20 and (out.parent / "resnext101_32x48d.onnx.data").stat().st_size > 3e9
    onnx.checker.check_model(str(out), full_check=False)
    header = onnx.load(str(out), load_external_data=False)
    assert {e.value for t in header.graph.initializer for e in t.external_data if e.key == "location"} <= {"resnext101_32x48d.onnx.data"}
    assert header.graph.input[0].name == "input" and header.graph.output[0].name == "logits"

    test = run_first_output(session(out), x)
    rel = float(np.abs(test - reference).max() / (reference.max() - reference.min()))
    assert rel < 1e-4, rel


@pytest.mark.slow
def test_ppcls_resnext101_32x48d_wsl_converts_with_external_data(tmp_path):
    """PaddleClas's own 829 M-parameter model through zoocheck's whole pipeline: Paddle dygraph
    (seeded random weights: a 3.3 GB .pdparams written first would double the time and disk for a
    loading path the small ppcls tests already cover) -> paddle.jit.save -> paddle2onnx (the
    program alone; it cannot write over 2 GB) + the weights as one external data file -> checker ->
    onnxruntime vs Paddle's forward on a real photo. About 8 minutes on 2 shared cores; 8.3 GB peak RSS measured."""
    pytest.importorskip("paddle")
    pytest.importorskip("paddle2onnx")
    import onnx

    from zoocheck.checks.images import bundled_photos
    from zoocheck.checks.preprocess import preprocess_image
    from zoocheck.converters.onnx_runtime import run_first_output, session
    from zoocheck.converters.pipeline import convert
    from zoocheck.zoo_registry import get_entry

    entry = get_entry("ppcls", "ResNeXt101_32x48d_wsl")
    x = preprocess_image(bundled_photos()[0], entry.preprocess)[None]
    out = tmp_path / "ResNeXt101_32x48d_wsl.onnx"
    conversion = convert(entry, output=out, random_seed=0, inputs=x)
    assert conversion.ok, conversion.failure
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name, out.name + ".data", out.name + ".json"]
    assert out.stat().st_size < 2**20 and (tmp_path / (out.name + ".data")).stat().st_size > 3e9
    onnx.checker.check_model(str(out), full_check=False)
    header = onnx.load(str(out), load_external_data=False)
    assert {e.value for t in header.graph.initializer for e in t.external_data if e.key == "location"} == {out.name + ".data"}

    reference = conversion.native_outputs
    test = run_first_output(session(out), x)
    assert reference.shape == test.shape == (1, 1000) and reference.std() > 0.1
    assert float(np.abs(test - reference).max() / (reference.max() - reference.min())) < 1e-3
    assert (test.argmax(1) == reference.argmax(1)).all()
