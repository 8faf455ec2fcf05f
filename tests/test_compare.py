"""compare: weights tensor by tensor, function on the same inputs, preprocessing, and the verdict."""

from __future__ import annotations

import json

import onnx
import pytest
from onnx import numpy_helper

from zoocheck.checks.compare import ArchitectureMismatch, compare_files, compare_weights
from zoocheck.checks.images import bundled_photos
from zoocheck.records import Side, record_from_json
from zoocheck.reports.compare_report import compare_lines
from zoocheck.zoo_registry import get_entry

TV18 = "resnet18.IMAGENET1K_V1"


@pytest.fixture
def tv18(torchvision_resnet18_onnx):
    return torchvision_resnet18_onnx  # conftest's, shared (seed 0): the tests alter copies only


def _tv18():
    """torchvision's resnet18 fed 64-pixel inputs: the shared canonical file takes any size (its H
    and W are symbolic), and what compare_files concludes does not depend on it."""
    from conftest import at_size

    return at_size(get_entry("torchvision", TV18), 64)


def _side(entry, path):
    return Side(entry.source, entry.name, entry.arch.id, str(path), None, random_seed=0)


def _scaled_copy(path, out, tensor_index: int, factor: float):
    model = onnx.load(str(path))
    init = model.graph.initializer[tensor_index]
    model.graph.initializer[tensor_index].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * factor, init.name))
    onnx.save(model, str(out))
    return init.name


def test_a_file_against_itself_is_identical(tv18):
    entry = _tv18()
    result = compare_files(entry, _side(entry, tv18), entry, _side(entry, tv18), images=bundled_photos())
    assert result.verdict == "identical" and result.weights.tensors > 20
    assert result.function.max_rel_err == 0 and result.function.top1_agreement[0] == result.function.top1_agreement[1]
    assert result.preprocessing is not None and result.preprocessing.max_pixel_diff == 0
    assert compare_lines(result)[0].startswith("COMPARE IDENTICAL torchvision/resnet18.IMAGENET1K_V1 vs torchvision/resnet18.IMAGENET1K_V1")
    assert result.to_json()["verdict"] == "identical"
    assert record_from_json(result.to_json()) == result  # a stored comparison reads back as it was


def test_a_perturbed_tensor_is_named_and_found_where_it_diverges(tv18, tmp_path):
    entry = _tv18()
    model = onnx.load(str(tv18))
    consumers = {i: n for n in model.graph.node for i in n.input}
    index = next(
        i for i, t in enumerate(model.graph.initializer) if t.name in consumers and consumers[t.name].op_type == "Conv" and len(t.dims) == 4
    )
    altered = tmp_path / "altered.onnx"
    name = _scaled_copy(tv18, altered, index, 3.0)
    result = compare_files(entry, _side(entry, tv18), entry, _side(entry, altered), images=bundled_photos())
    assert result.verdict == "different"
    assert [d.name for d in result.weights.differing] == [name]
    assert result.first_divergence is not None and name in result.first_divergence.initializers
    assert result.first_divergence.node == consumers[name].name
    assert any(name in line for line in compare_lines(result))


def test_a_tiny_rounding_difference_is_equivalent_not_identical(tv18, tmp_path):
    entry = _tv18()
    model = onnx.load(str(tv18))
    index = max(range(len(model.graph.initializer)), key=lambda i: len(model.graph.initializer[i].raw_data))
    altered = tmp_path / "rounded.onnx"
    _scaled_copy(tv18, altered, index, 1.0 + 1e-5)
    weights = compare_weights(tv18, altered)
    assert len(weights.differing) == 1 and weights.differing[0].rel_diff == pytest.approx(1e-5, rel=0.05)
    result = compare_files(entry, _side(entry, tv18), entry, _side(entry, altered), images=[])
    assert result.verdict == "equivalent" and result.first_divergence is None


def test_different_architectures_are_refused_naming_both():
    a, b = get_entry("torchvision", TV18), get_entry("torchvision", "resnet50.IMAGENET1K_V1")
    with pytest.raises(ArchitectureMismatch, match="resnet18.*resnet50"):
        compare_files(a, _side(a, "a.onnx"), b, _side(b, "b.onnx"), images=[])


# -- zoocheck compare, end to end: checkpoints in each source's format, canonical conversions ------


def _compare_json(capsys, *argv) -> tuple[int, dict]:

    from zoocheck.cli import main

    code = main(["compare", *argv, "--json"])
    out = capsys.readouterr().out
    return code, (json.loads(out) if out.strip() else {})


def test_cli_random_weights_self_test_is_identical_and_stored(tmp_path, capsys):

    from zoocheck.store import ResultsStore

    code, result = _compare_json(
        capsys, "timm:resnet18.a1_in1k", "mmpretrain:resnet18_8xb32_in1k", "--random-weights", "--results", str(tmp_path)
    )
    assert code == 0 and result["verdict"] == "identical", result
    assert result["weights"]["identical"] and result["weights"]["tensors"] > 40
    assert result["random_weights"] and result["a"]["random_seed"] == 0
    assert result["function"]["max_rel_err"] < 1e-5 and result["function"]["top1_agree"] == result["function"]["inputs"]
    assert result["preprocessing"]["max_pixel_diff"] > 0  # timm's bicubic crop_pct 0.95 vs mmpretrain's cv2 bilinear 256
    # the comparison is kept in the store (kind compare), verdict included
    stored = [
        json.loads(line)
        for line in ResultsStore(tmp_path).results_path.read_text().splitlines()
        if json.loads(line).get("kind") == "compare"
    ]
    assert len(stored) == 1 and stored[0]["verdict"] == "identical"


def test_cli_a_perturbed_tensor_in_one_checkpoint_is_different_and_named(tmp_path, capsys):
    import torch

    from zoocheck.converters.weights import random_weights, write_weights

    a, b = get_entry("torchvision", TV18), get_entry("timm", "resnet18.tv_in1k")
    common = random_weights(a.arch, seed=2, input_size=64)  # calibrated at 64 px: cheaper, as distinct
    path_a = write_weights(a, common, tmp_path / "a.pth")
    path_b = write_weights(b, common, tmp_path / "b.pth")
    state = torch.load(path_b, weights_only=True)
    state["layer3.0.conv2.weight"] *= 1.5
    torch.save(state, path_b)
    code, result = _compare_json(
        capsys, f"torchvision:{TV18}", "timm:resnet18.tv_in1k", "--weights", str(path_a), str(path_b), "--results", str(tmp_path)
    )
    assert code == 1 and result["verdict"] == "different"
    assert [d["name"] for d in result["weights"]["differing"]] == ["layer3.0.conv2.weight"]
    assert result["first_divergence"]["node"].startswith("layer3.0.conv2")
    assert result["a"]["weights_sha256"] and not result["random_weights"]


def test_cli_different_architectures_exit_2_naming_both(capsys):
    from zoocheck.cli import main

    assert main(["compare", f"torchvision:{TV18}", "ppcls:ResNet50_vd", "--random-weights"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "resnet18" in err and "resnet50_d" in err


def test_cli_model_without_source_is_a_usage_error(capsys):
    from zoocheck.cli import main

    assert main(["compare", "resnet18", "timm:resnet18", "--random-weights"]) == 2
    assert "SRC:MODEL" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize(
    "pair",
    [
        ("timm:resnet50d.ra2_in1k", "mmpretrain:resnetv1d50_8xb32_in1k"),
        ("timm:resnet50d.ra2_in1k", "ppcls:ResNet50_vd"),
        ("mmpretrain:resnetv1d50_8xb32_in1k", "ppcls:ResNet50_vd"),
    ],
)
def test_resnet50_d_from_timm_mmpretrain_and_ppcls_is_identical(tmp_path, capsys, pair):
    code, result = _compare_json(capsys, *pair, "--random-weights", "--results", str(tmp_path))
    assert code == 0 and result["verdict"] == "identical", result


@pytest.mark.slow
def test_a_new_users_densenet121_compare_prints_its_verdict_first(tmp_path, capsys):
    """Issue 22's first try (`compare torchvision:densenet121.IMAGENET1K_V1 timm:densenet121.tv_in1k
    --random-weights`, once a NameError), as text: the verdict line, then weights, function and
    preprocessing. Default-suite counterparts: the resnet18 self-test above, the DenseNet canonical
    graph tests (test_canonical_vgg_densenet.py) and the failure tests below."""
    from zoocheck.cli import main

    code = main(
        ["compare", "torchvision:densenet121.IMAGENET1K_V1", "timm:densenet121.tv_in1k", "--random-weights", "--results", str(tmp_path)]
    )
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert code == 0 and "internal error" not in captured.err, captured.err
    assert lines[0].startswith("COMPARE IDENTICAL torchvision/densenet121.IMAGENET1K_V1 vs timm/densenet121.tv_in1k [densenet121]")
    assert "RANDOM WEIGHTS" in lines[0] and [line.split(":")[0].strip() for line in lines[1:4]] == ["weights", "function", "preprocessing"]


@pytest.mark.slow
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_onnx_zoo_resnet_files_are_gluons_and_only_the_preprocessing_differs(tmp_path, capsys, version):
    """The ONNX zoo's top-1 differs from Gluon's on the same photographs with the same random
    weights: the files are identical (weights and function), the preprocessings are not (the zoo's
    256x256 squash against Gluon's short side 256; test_registry checks the presets)."""
    code, result = _compare_json(
        capsys, f"gluon:resnet18_{version}", f"onnx-zoo:resnet18-{version}-7", "--random-weights", "--results", str(tmp_path)
    )
    assert code == 0 and result["verdict"] == "identical", result
    assert result["weights"]["identical"] and result["function"]["max_rel_err"] == 0
    assert result["preprocessing"]["max_pixel_diff"] > 100 and result["preprocessing"]["effect"]["top1_flips"]


# -- a side that cannot be compared: one line in zoocheck's words, exit 2 for bad input -----------


def _compare_error(capsys, *argv) -> tuple[int, str]:
    from zoocheck.cli import main

    code = main(["compare", *argv])
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "internal error" not in err and "Traceback" not in err, err
    return code, err


def test_cli_a_file_that_is_not_weights_as_side_b_is_bad_input(tmp_path, capsys):
    from conftest import at_size, random_checkpoint

    weights_a = random_checkpoint(at_size(get_entry("torchvision", TV18), 64), tmp_path / "r18.pth", seed=0)
    not_weights = tmp_path / "notweights.txt"
    not_weights.write_text("not weights\n")
    code, err = _compare_error(
        capsys, "torchvision:resnet18", "timm:resnet18.tv_in1k", "--weights", str(weights_a), str(not_weights), "--results", str(tmp_path)
    )
    assert code == 2 and "notweights.txt" in err and "timm/resnet18.tv_in1k" in err


def test_cli_weights_of_another_architecture_are_bad_input_naming_the_model_they_fit(tmp_path, capsys):
    from conftest import at_size, random_checkpoint

    resnet34 = random_checkpoint(at_size(get_entry("torchvision", "resnet34.IMAGENET1K_V1"), 64), tmp_path / "r34.pth", seed=0)
    code, err = _compare_error(
        capsys, "torchvision:resnet18", "timm:resnet18.tv_in1k", "--weights", str(resnet34), str(resnet34), "--results", str(tmp_path)
    )
    assert code == 2 and "r34.pth fits --model resnet34.IMAGENET1K_V1 (arch resnet34)" in err


def test_cli_an_architecture_without_a_canonical_graph_is_refused_before_any_work(tmp_path, capsys):
    # timm's TF-ported MobileNetV3 ("same" padding) stays native; one entry, named twice
    code, err = _compare_error(
        capsys, "timm:tf_mobilenetv3_large_100.in1k", "timm:tf_mobilenetv3_large_100", "--random-weights", "--results", str(tmp_path)
    )
    assert code == 2 and "mobilenet_v3_large_100_bneps1e-3_samepad" in err and "canonical graph" in err
    assert not (tmp_path / "results.jsonl").exists()  # nothing was converted or stored


def test_cli_a_side_that_cannot_be_converted_is_a_failed_comparison(tmp_path, capsys, monkeypatch):
    from zoocheck.checks import compare
    from zoocheck.records import Failure

    def refused(entry_a, entry_b, **_):
        return Failure(entry_b.source, entry_b.name, "export", "RuntimeError", "the exporter refused the model")

    monkeypatch.setattr(compare, "compare_entries", refused)
    code, err = _compare_error(capsys, "torchvision:resnet18", "timm:resnet18.tv_in1k", "--random-weights", "--results", str(tmp_path))
    assert code == 1 and "timm/resnet18.tv_in1k: export failed: the exporter refused the model" in err and "failures.jsonl" in err


def test_cli_a_side_without_a_random_weights_file_is_named_with_the_fix(tmp_path, capsys):
    """The ONNX zoo writes no random-weights file of its Caffe2 DenseNet-121: side a's failure (not
    side b's), with the compare that still works; nothing was converted."""
    code, err = _compare_error(
        capsys, "onnx-zoo:densenet-12", "torchvision:densenet121.IMAGENET1K_V1", "--random-weights", "--results", str(tmp_path)
    )
    assert code == 1 and err.startswith("zoocheck: error: onnx-zoo/densenet-12: build failed: ") and "--weights A B" in err, err
    assert "failures.jsonl" in err and not list(tmp_path.rglob("*.onnx"))


def test_cli_options_are_checked_like_every_other_command(capsys):
    code, err = _compare_error(capsys, "torchvision:resnet18", "timm:resnet18.tv_in1k", "--random-weights", "--seed", "-1")
    assert code == 2 and "--seed -1" in err
