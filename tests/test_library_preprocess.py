"""zoocheck's spec-driven preprocessing equals each source library's own transform on real photographs."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from zoocheck.checks.images import bundled_photos
from zoocheck.checks.library_preprocess import (
    PIXEL_TOLERANCE,
    check_library_preprocessing,
    compare_with_library,
    paddleclas_transform,
    preprocessing_difference,
)
from zoocheck.cli import main
from zoocheck.reports.lines import preprocess_line
from zoocheck.zoo_registry import get_entry, list_entries

PHOTOS = bundled_photos()
pytestmark = pytest.mark.skipif(not PHOTOS, reason="scikit-image's bundled photographs are not installed")


#: distinct preprocessing specs per source checked in the default run; the rest are slow
DEFAULT_SPECS = 6


def _distinct_specs(source: str):
    """One entry per distinct preprocessing spec of ``source`` (the transform depends on nothing
    else), so checking these checks every entry of the source: the first ``DEFAULT_SPECS`` in the
    default run, the others marked slow."""
    seen, out = set(), []
    for entry in list_entries(source):
        if entry.preprocess not in seen:
            seen.add(entry.preprocess)
            out.append(entry if len(out) < DEFAULT_SPECS else pytest.param(entry, marks=pytest.mark.slow))
    return out


def _key(entry) -> str:
    return entry.key


#: ONNX-zoo entries fed by their README's own code rather than MXNet's transforms (EfficientNet-Lite4:
#: cv2, NHWC, (x - 127) / 128): no library object exists to compare with, and the check says so
README_CODE_ENTRIES = ("onnx-zoo/efficientnet-lite4-11",)
EVERY_SPEC = [
    e
    for s in ("torchvision", "timm", "mmpretrain", "gluon", "gluoncv", "onnx-zoo")
    for e in _distinct_specs(s)
    if getattr(e, "values", (e,))[0].key not in README_CODE_ENTRIES
]


@pytest.mark.parametrize("entry", EVERY_SPEC, ids=_key)
def test_spec_preprocessing_equals_the_library_transform(entry):
    check = check_library_preprocessing(entry, PHOTOS)
    assert check.status == "ok", preprocess_line(check)
    assert len(check.images) == len(PHOTOS) and all(r.error is None for r in check.images)
    # the same decode, resize and crop: only float rounding of the normalisation remains
    assert check.max_pixel_diff < 1e-3, preprocess_line(check)


@pytest.mark.parametrize("key", README_CODE_ENTRIES)
def test_an_entry_no_library_transform_covers_is_skipped_with_the_reason(key):
    check = check_library_preprocessing(get_entry(key.split("/")[0], key.split("/")[1]), PHOTOS)
    assert check.status == "skipped" and "this entry's spec does otherwise" in preprocess_line(check)


@pytest.mark.parametrize("entry", _distinct_specs("ppcls"), ids=_key)
def test_spec_preprocessing_equals_paddleclas_operators(entry):
    from paddle_fixtures import PREPROCESS_MODULE, import_paddleclas

    pytest.importorskip("paddle")
    ops = import_paddleclas(PREPROCESS_MODULE)
    rows = compare_with_library(entry, PHOTOS, paddleclas_transform(entry, ops))
    assert all(r.error is None and r.shapes is None for r in rows)
    assert max(r.max_pixel_diff for r in rows) < 1e-3


def test_a_wrong_interpolation_is_a_failed_check_with_its_pixel_difference():
    entry = get_entry("torchvision", "resnet50.IMAGENET1K_V1")
    wrong = dataclasses.replace(entry, preprocess=dataclasses.replace(entry.preprocess, interpolation="bicubic"))
    check = check_library_preprocessing(wrong, PHOTOS)
    assert check.status == "failed"
    assert check.max_pixel_diff > 10 * PIXEL_TOLERANCE
    assert "FAILED" in preprocess_line(check) and "torchvision" in preprocess_line(check)


def test_a_missing_library_is_skipped_with_the_reason(monkeypatch):
    monkeypatch.setitem(sys.modules, "paddleclas.deploy.python", None)  # import raises ImportError
    check = check_library_preprocessing(get_entry("ppcls", "ResNet50_vd"), PHOTOS)
    assert check.status == "skipped" and "PaddleClas" in check.library and check.images == ()
    assert preprocess_line(check).startswith("PREPROCESS SKIPPED ppcls/ResNet50_vd")


@pytest.mark.parametrize("module, install", [("prettytable", "pip install prettytable"), ("sklearn", "pip install scikit-learn")])
def test_a_missing_dependency_of_the_library_is_named_with_its_install_command(monkeypatch, module, install):
    """paddleclas installed --no-deps: the skip names the module its import lacks, not paddleclas."""
    real_import = __import__

    def import_without_dependency(name, *args, **kwargs):
        if name.startswith("paddleclas"):
            raise ModuleNotFoundError(f"No module named {module!r}", name=module)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr("builtins.__import__", import_without_dependency)
    check = check_library_preprocessing(get_entry("ppcls", "ResNet18"), PHOTOS)
    assert check.status == "skipped"
    assert f"module {module!r} is missing; {install}" in check.library and "pip install paddleclas" not in check.library


def test_the_set_up_gives_what_the_paddleclas_check_needs(tmp_path):
    """After ./setup.sh (paddleclas --no-deps plus what its import needs) the ppcls check runs.
    A fresh interpreter: the other tests register paddleclas's packages without running its __init__."""
    from paddle_fixtures import paddleclas_root

    if paddleclas_root() is None:
        pytest.skip("paddleclas is not installed (./setup.sh installs it)")
    command = [
        sys.executable,
        "-m",
        "zoocheck",
        "preprocess",
        "--src",
        "ppcls",
        "--model",
        "ResNet18",
        "--json",
        "--results",
        str(tmp_path),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    (check,) = json.loads(done.stdout)
    assert check["status"] == "ok", check["library"]


def test_torchvision_vs_ppcls_preprocessing_differs_and_moves_the_logits(torchvision_resnet18_onnx):
    """PIL antialiased resize with floor rounding vs OpenCV bilinear with rounding: same photos, other pixels."""
    tv, pp = get_entry("torchvision", "resnet18.IMAGENET1K_V1"), get_entry("ppcls", "ResNet18")
    difference = preprocessing_difference(tv, pp, PHOTOS, onnx_path_a=torchvision_resnet18_onnx)
    assert all(r.error is None and r.shapes is None for r in difference.images)
    assert difference.max_pixel_diff > 1.0  # whole pixel steps, not rounding
    assert all(r.mean_pixel_diff > 0 for r in difference.images)
    assert difference.effect is not None and difference.effect.max_rel_err > 1e-4
    same = preprocessing_difference(tv, tv, PHOTOS, onnx_path_a=torchvision_resnet18_onnx)
    assert same.max_pixel_diff == 0 and same.effect.max_rel_err == 0 and same.effect.top1_flips == ()


def test_cli_preprocess_reports_each_model_and_exits_by_status(capsys):
    assert main(["preprocess", "--src", "timm", "--model", "resnet50d.gluon_in1k", "resnet18d.ra2_in1k", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["model"] for r in rows] == ["resnet50d.gluon_in1k", "resnet18d.ra2_in1k"]
    assert all(r["status"] == "ok" and r["max_pixel_diff"] < 1e-3 and len(r["images"]) == len(PHOTOS) for r in rows)


def test_a_stored_check_reads_back_as_it_was(tmp_path):
    from zoocheck.records import LibraryPreprocessCheck
    from zoocheck.store import ResultsStore

    assert main(["preprocess", "--src", "timm", "--model", "resnet50d.gluon_in1k", "--results", str(tmp_path)]) == 0
    (stored,) = ResultsStore(tmp_path).results("preprocess")
    assert isinstance(stored, LibraryPreprocessCheck) and stored.status == "ok" and len(stored.images) == len(PHOTOS)
    assert LibraryPreprocessCheck.from_json(stored.to_json()) == stored


def test_cli_preprocess_with_onnx_of_two_models_is_a_usage_error(tmp_path, capsys):
    onnx_file = tmp_path / "m.onnx"
    onnx_file.write_bytes(b"x")
    assert main(["preprocess", "--src", "timm", "--model", "resnet50*", "--onnx", str(onnx_file)]) == 2
    assert "--onnx takes one model" in capsys.readouterr().err


def test_logit_effect_feeds_both_preprocessings_through_the_model(torchvision_resnet18_onnx):
    entry = get_entry("torchvision", "resnet18.IMAGENET1K_V1")
    wrong = dataclasses.replace(entry, preprocess=dataclasses.replace(entry.preprocess, resize=320))
    check = check_library_preprocessing(wrong, PHOTOS, onnx_path=torchvision_resnet18_onnx)
    assert check.status == "failed" and check.effect is not None
    assert check.effect.max_rel_err > 1e-3
    assert np.isfinite(check.effect.max_rel_err)
