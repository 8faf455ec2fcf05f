"""The convert and parity commands end to end through main([...]), on real-format checkpoints."""

import json

import numpy as np
import onnx
import pytest

from zoocheck.checks.images import bundled_photos
from zoocheck.checks.preprocess import preprocess_image
from zoocheck.cli import main
from zoocheck.converters.normalize import read_metadata
from zoocheck.converters.onnx_runtime import run_first_output, session
from zoocheck.digests import file_digest
from zoocheck.zoo_registry import get_entry

MODEL = ["--src", "torchvision", "--model", "resnet18"]


@pytest.fixture(scope="module")
def resnet18_checkpoint(tmp_path_factory):
    from conftest import random_checkpoint

    return random_checkpoint(get_entry("torchvision", "resnet18"), tmp_path_factory.mktemp("w") / "resnet18.pth", seed=3)


def store_records(results, name):
    return [json.loads(line) for line in (results / name).read_text().splitlines()]


def test_convert_with_real_format_weights_writes_a_described_file(tmp_path, resnet18_checkpoint, capsys):
    out, results = tmp_path / "r18.onnx", tmp_path / "results"
    assert main(["convert", *MODEL, "--weights", str(resnet18_checkpoint), "--output", str(out), "--results", str(results)]) == 0
    meta = read_metadata(out)
    assert meta["random_weights"] is False
    assert meta["weights"]["file"] == str(resnet18_checkpoint) and len(meta["weights"]["sha256"]) == 64
    assert meta["preprocess"]["resize"] == 256 and meta["opset"] == 17 and "torch" in meta["versions"]
    beside = json.loads((tmp_path / "r18.onnx.json").read_text())
    # the same description, plus the written file's own checksum (which the file cannot hold)
    assert beside.pop("onnx_file") == {"name": "r18.onnx", "sha256": file_digest(out), "bytes": out.stat().st_size}
    assert beside == meta
    [record] = store_records(results, "results.jsonl")
    assert record["kind"] == "conversion" and record["status"] == "ok" and record["random_weights"] is False
    # The file computes what torchvision computes with those weights, batch 1 and 3 alike.
    import torch
    import torchvision

    model = torchvision.models.resnet18()
    model.load_state_dict(torch.load(resnet18_checkpoint, weights_only=True))
    model.eval()
    batch = np.stack([preprocess_image(p, get_entry("torchvision", "resnet18").preprocess) for p in bundled_photos()[:3]])
    with torch.no_grad():
        expected = model(torch.from_numpy(batch)).numpy()
    got = run_first_output(session(out), batch)
    assert np.abs(got - expected).max() / np.ptp(expected, axis=1).min() < 1e-3
    assert (got.argmax(1) == expected.argmax(1)).all()
    assert "RANDOM" not in capsys.readouterr().out


def test_unusable_weights_are_bad_input_with_a_failure_record_and_no_output(tmp_path, capsys):
    bad = tmp_path / "not_a_checkpoint.pth"
    bad.write_bytes(b"this is not a pickle")
    out, results = tmp_path / "bad.onnx", tmp_path / "results"
    assert main(["convert", *MODEL, "--weights", str(bad), "--output", str(out), "--results", str(results)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not_a_checkpoint.pth" in err and "failures.jsonl" in err
    [failure] = store_records(results, "failures.jsonl")
    assert failure["source"] == "torchvision" and failure["stage"] in ("load", "build")
    assert failure["exception_type"] and failure["traceback_tail"] and failure["versions"]
    assert not out.exists() and not (tmp_path / "bad.onnx.json").exists()
    assert not (results / "results.jsonl").exists()  # an unusable file says nothing about the model


def test_weights_of_another_architecture_lead_with_the_model_they_fit_and_keep_the_tensors_for_verbose(tmp_path, capsys):
    from conftest import at_size, random_checkpoint

    resnet34 = random_checkpoint(at_size(get_entry("torchvision", "resnet34.IMAGENET1K_V1"), 64), tmp_path / "r34.pth", seed=0)
    argv = ["convert", *MODEL, "--weights", str(resnet34), "--output", str(tmp_path / "r18.onnx"), "--results", str(tmp_path / "results")]
    assert main(argv) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    message = line.split(" build failed: ", 1)[1].split(" (failure log: ")[0]
    assert message.startswith("r34.pth fits --model resnet34.IMAGENET1K_V1 (arch resnet34), not resnet18"), line
    assert len(line) - len(str(tmp_path)) < 300 and "unexpected keys" not in line  # the failure log's path is the caller's
    assert main([*argv, "--verbose"]) == 2
    first, *verbose = capsys.readouterr().err.strip().splitlines()
    assert first == line and "80 unexpected keys: layer1.2.conv1.weight" in verbose[0]
    logged = store_records(tmp_path / "results", "failures.jsonl")
    assert all(f["message"] == message and "80 unexpected keys" in f["detail"] for f in logged) and len(logged) == 2


def test_parity_json_passes_on_real_format_weights(tmp_path, resnet18_checkpoint, capsys):
    results = tmp_path / "results"
    assert main(["parity", *MODEL, "--weights", str(resnet18_checkpoint), "--results", str(results), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "ok" and report["random_weights"] is False
    names = [c["input"] for c in report["comparisons"]]
    assert names[:2] == ["random-0", "random-1"] and "chelsea.png" in names
    assert all(c["max_rel_err"] < 1e-3 and c["top1_agree"] for c in report["comparisons"])
    assert report["tolerance"]["max_rel_err"] == 1e-3
    assert onnx.load(report["onnx_path"]).graph.input[0].name == "input"
    kinds = [r["kind"] for r in store_records(results, "results.jsonl")]
    assert kinds == ["conversion", "parity"]


def test_parity_refuses_an_onnx_file_of_other_weights_and_fails_it_when_unverified(
    tmp_path, resnet18_checkpoint, torchvision_resnet18_onnx, capsys
):
    other = torchvision_resnet18_onnx  # conftest's, shared: read only
    results = ["--results", str(tmp_path / "r")]
    argv = ["parity", *MODEL, "--weights", str(resnet18_checkpoint), "--onnx", str(other), *results, "--json"]
    assert main(argv) == 2  # the file says it holds seed-0 random weights: refused before any work
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "random weights (seed 0)" in err and resnet18_checkpoint.name in err
    # The same file stripped of its metadata: only on request, and then the comparison fails
    model = onnx.load(str(other))
    del model.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(model, str(bare))
    argv = ["parity", *MODEL, "--weights", str(resnet18_checkpoint), "--onnx", str(bare), *results, "--json"]
    assert main(argv) == 2 and "--unverified-onnx" in capsys.readouterr().err
    assert main([*argv, "--unverified-onnx"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "failed" and report["onnx_verified"] is False
    assert any(c["max_rel_err"] > 1e-3 for c in report["comparisons"])
    assert report["inputs"][0].startswith("random-0") and len(report["inputs"]) == len(report["comparisons"])


def test_random_and_real_weights_default_paths_are_apart_and_nothing_is_overwritten(tmp_path, resnet18_checkpoint, capsys):
    results = tmp_path / "results"
    assert main(["convert", *MODEL, "--weights", str(resnet18_checkpoint), "--results", str(results)]) == 0
    [real] = (results / "onnx" / "torchvision").glob("*.onnx")
    real_sha = file_digest(real)
    capsys.readouterr()
    assert main(["convert", *MODEL, "--random-weights", "--seed", "2", "--results", str(results)]) == 0
    files = sorted(p.name for p in (results / "onnx" / "torchvision").glob("*.onnx"))
    assert files == sorted([real.name, real.name.replace(".onnx", ".random-seed2.onnx")])
    # random weights say so everywhere: the terminal, the file's metadata, the stored record
    assert "RANDOM WEIGHTS" in capsys.readouterr().out
    random_file = real.with_name(real.name.replace(".onnx", ".random-seed2.onnx"))
    assert read_metadata(random_file)["random_weights"] is True and read_metadata(random_file)["random_seed"] == 2
    assert [r["random_weights"] for r in store_records(results, "results.jsonl")] == [False, True]
    assert file_digest(real) == real_sha and read_metadata(real)["random_weights"] is False
    capsys.readouterr()
    # the random conversion aimed at the real file is refused, naming what the file holds
    assert main(["convert", *MODEL, "--random-weights", "--output", str(real), "--results", str(results)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "already holds" in err and resnet18_checkpoint.name in err and "--overwrite" in err
    assert file_digest(real) == real_sha


def test_unusable_weights_are_the_error_even_when_the_default_output_exists(tmp_path, resnet18_checkpoint, capsys):
    """Issue 23: the weights are judged before the output; only usable weights reach "already holds"."""
    results = tmp_path / "results"
    default = results / "onnx" / "torchvision" / f"{get_entry('torchvision', 'resnet18').name}.onnx"
    default.parent.mkdir(parents=True)
    default.write_bytes(b"an earlier file")
    not_weights = tmp_path / "notweights.txt"
    not_weights.write_text("these are not weights\n")
    assert main(["convert", *MODEL, "--weights", str(not_weights), "--results", str(results)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "notweights.txt: not a PyTorch checkpoint" in err and "already holds" not in err
    assert main(["convert", *MODEL, "--weights", str(resnet18_checkpoint), "--results", str(results)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "already holds" in err and "--overwrite" in err
    assert default.read_bytes() == b"an earlier file"
