"""ImageNet evaluation: exact top-1/top-5 with a model whose predictions are known, every layout,
CMYK/greyscale/corrupt/missing images, resume, the preprocessed cache and the ``eval`` command."""

from __future__ import annotations

import dataclasses
import importlib.util
import json

import numpy as np
import pytest
from imagenet_sets import SPEC, build_layouts, cmyk_item, grey_item, input_mean, photo_items, prototype_model, synthetic_items

from zoocheck.checks.eval_feed import crop_image, normalize_batch
from zoocheck.checks.evaluate import evaluate
from zoocheck.checks.imagenet import read_dataset
from zoocheck.checks.preprocess import preprocess_image
from zoocheck.cli import main
from zoocheck.converters.onnx_runtime import session
from zoocheck.records import EvalResult
from zoocheck.reports.lines import eval_line
from zoocheck.store import ResultsStore
from zoocheck.zoo_registry.types import Preprocess

CORRUPT_LABEL = 900


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Real photographs, synthetic, CMYK and greyscale JPEGs plus one corrupt file, in all four
    layouts, and a prototype model that gets exactly top-1 = (n-3)/n and top-5 = (n-1)/n right."""
    base = tmp_path_factory.mktemp("eval")
    items = photo_items() + synthetic_items(4) + [cmyk_item(), grey_item()]
    assert len({it.label for it in items}) == len(items)
    roots = build_layouts(base / "sets", items, corrupt_label=CORRUPT_LABEL)
    means = {it.name: input_mean(it.data, base) for it in items}
    prototypes = {}
    # chelsea, cmyk: a wrong class sits exactly on the image, the true one just behind: top-1 miss, top-5 hit.
    decoys = {"chelsea": 3, "cmyk": 4}
    for it in items:
        if it.name in decoys:
            prototypes[decoys[it.name]] = means[it.name]
            prototypes[it.label] = means[it.name] + np.array([0.1, 0.0, 0.0])
        elif it.name == "rocket":
            continue  # the true class stays far away: top-1 and top-5 miss
        else:
            prototypes[it.label] = means[it.name]
    model = prototype_model(base / "prototype.onnx", prototypes)
    n = len(items)
    return dict(items=items, roots=roots, model=model, base=base, top1=100.0 * (n - 3) / n, top5=100.0 * (n - 1) / n)


def _predict(model_path, counter=None):
    sess = session(model_path, threads=1)

    def predict(batch):
        if counter is not None:
            counter.append(len(batch))
        return sess.run(None, {"input": batch})[0]

    return predict


def _eval(world, layout="list", spec=SPEC, **kwargs):
    kwargs.setdefault("predict", _predict(world["model"]))
    return evaluate(read_dataset(world["roots"][layout]), spec, source="timm", model="prototype_test", **kwargs)


@pytest.mark.parametrize("layout", ["imagefolder", "list", "kaggle", "devkit"])
def test_exact_top1_top5_in_every_layout(world, layout):
    result = _eval(world, layout, batch_size=3)
    assert result.images == len(world["items"])
    assert result.top1 == pytest.approx(world["top1"]) and result.top5 == pytest.approx(world["top5"])
    assert len(result.skipped) == 1
    assert "corrupt" in result.skipped[0].path or result.skipped[0].path.endswith(f"{len(world['items']) + 1:08d}.JPEG")
    assert result.skipped[0].reason.startswith("cannot decode")
    assert result.dataset["layout"] == layout and len(result.dataset_fingerprint) == 64
    assert Preprocess(**{k: tuple(v) if isinstance(v, list) else v for k, v in result.preprocess.items()}) == SPEC


def test_identical_across_layouts_and_batch_sizes(world):
    results = [_eval(world, layout, batch_size=bs) for layout in ("imagefolder", "list", "kaggle", "devkit") for bs in (1, 4, 64)]
    assert len({(r.top1, r.top5, r.images, len(r.skipped)) for r in results}) == 1


def test_batches_are_the_source_transform_bit_for_bit(world):
    """The pipeline's crop + batched normalisation equals preprocess_image per file, for PIL and
    OpenCV specs (greyscale and CMYK decoded as each library decodes them)."""
    cv2_bgr = Preprocess(
        resize=64,
        crop=56,
        image_library="cv2",
        antialias=False,
        mean=(123.675, 116.28, 103.53),
        std=(58.395, 57.12, 57.375),
        scale=1.0,
        channel_order="BGR",
    )
    ds = read_dataset(world["roots"]["list"])
    for spec in (SPEC, cv2_bgr):
        for s in ds.samples[:-1]:  # the last is the corrupt file
            ours = normalize_batch(crop_image(s.path, spec)[None], spec)[0]
            np.testing.assert_array_equal(ours, preprocess_image(s.path, spec))


@pytest.mark.parametrize(
    "spec",
    [
        SPEC,
        Preprocess(resize=8, crop=8, mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375), scale=1.0, channel_order="BGR"),
        Preprocess(resize=8, crop=8, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)),
    ],
)
def test_batched_normalisation_is_bit_identical_for_every_pixel_value(spec):
    from zoocheck.checks.preprocess import normalize

    crops = np.random.default_rng(0).integers(0, 256, size=(3, 16, 16, 3), dtype=np.uint8)
    crops[0].reshape(-1)[:768] = np.arange(768) % 256  # every value in every channel
    np.testing.assert_array_equal(normalize_batch(crops, spec), np.stack([normalize(c, spec) for c in crops]))


def test_cmyk_and_greyscale_are_evaluated_with_opencv_too(world):
    cv2_spec = Preprocess(resize=64, crop=56, image_library="cv2", antialias=False)
    result = _eval(world, spec=cv2_spec, predict=lambda b: np.zeros((len(b), 1000), np.float32))
    assert result.images == len(world["items"]) and len(result.skipped) == 1


def test_missing_file_is_skipped_and_listed(world, tmp_path):
    listing = (world["roots"]["list"] / "val_list.txt").read_text() + "val/ILSVRC2012_val_00099999.JPEG 5\n"
    root = world["roots"]["list"]
    (tmp_path / "val").symlink_to(root / "val")
    (tmp_path / "val_list.txt").write_text(listing)
    result = evaluate(read_dataset(tmp_path), SPEC, _predict(world["model"]), source="timm", model="m")
    assert result.skipped[0].reason.startswith("cannot decode") and result.skipped[1].reason == "missing file"
    assert result.skipped[1].path == str(tmp_path / "val" / "ILSVRC2012_val_00099999.JPEG")
    assert result.images == len(world["items"]) and len(result.skipped) == 2
    assert result.top1 == pytest.approx(world["top1"])


def test_limit_evaluates_the_first_images(world):
    result = _eval(world, limit=3)
    assert result.images == 3 and result.limit == 3 and result.dataset["evaluated_from"] == 3


def test_interrupted_run_resumes_without_recomputing(world, tmp_path):
    checkpoint = tmp_path / "ckpt.npz"

    def stop_after_two(batches):
        if batches == 2:
            raise KeyboardInterrupt

    first = []
    with pytest.raises(KeyboardInterrupt):
        _eval(
            world,
            batch_size=2,
            checkpoint=checkpoint,
            checkpoint_every=1,
            on_batch=stop_after_two,
            run_key="m1",
            predict=_predict(world["model"], first),
        )
    assert checkpoint.is_file() and sum(first) == 4

    second = []
    resumed = _eval(world, batch_size=2, checkpoint=checkpoint, run_key="m1", predict=_predict(world["model"], second))
    assert sum(second) == len(world["items"]) - 4  # no finished image ran again
    assert resumed.resumed_images == 4 and not checkpoint.exists()
    whole = _eval(world, batch_size=2)
    assert (resumed.top1, resumed.top5, resumed.images, resumed.skipped) == (whole.top1, whole.top5, whole.images, whole.skipped)


def test_checkpoint_of_another_model_is_not_resumed(world, tmp_path):
    checkpoint = tmp_path / "ckpt.npz"

    def stop(batches):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _eval(world, batch_size=2, checkpoint=checkpoint, checkpoint_every=1, on_batch=stop, run_key="model-a")
    calls = []
    result = _eval(world, batch_size=2, checkpoint=checkpoint, run_key="model-b", predict=_predict(world["model"], calls))
    assert result.resumed_images == 0 and sum(calls) == len(world["items"])


def test_second_pass_with_the_same_geometry_decodes_nothing(world, tmp_path):
    cache = tmp_path / "cache"
    first = _eval(world, cache_dir=cache, batch_size=4)
    assert first.decoded_images == len(world["items"]) + 1 and first.cached_images == 0
    # Another model with other mean/std and channel order but the same resize/crop: no decoding.
    other = dataclasses.replace(SPEC, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), channel_order="BGR")
    second = _eval(world, spec=other, cache_dir=cache, batch_size=4)
    assert second.decoded_images == 0 and second.cached_images == len(world["items"])
    uncached = _eval(world, spec=other, batch_size=4)
    assert (second.top1, second.top5, second.skipped) == (uncached.top1, uncached.top5, uncached.skipped)
    # The cache holds crops, and the batches made from them equal the direct transform.
    again = _eval(world, cache_dir=cache, batch_size=4)
    assert again.decoded_images == 0 and (again.top1, again.top5) == (first.top1, first.top5)
    # A different crop is a different cache.
    third = _eval(world, spec=dataclasses.replace(SPEC, crop=48), cache_dir=cache, predict=lambda b: np.zeros((len(b), 1000), np.float32))
    assert third.decoded_images == len(world["items"]) + 1


def test_a_model_with_the_wrong_output_is_an_error(world):
    with pytest.raises(ValueError, match="needs \\[N, 1000\\]"):
        _eval(world, predict=lambda b: np.zeros((len(b), 1001), np.float32))


def test_result_round_trips_through_json(world):
    result = _eval(world)
    record = json.loads(json.dumps(result.to_json()))
    assert record["kind"] == "eval"
    assert EvalResult.from_json(record) == result
    assert "EVAL timm/prototype_test" in eval_line(result)


# ---------------------------------------------------------------------------------------------
# the command


def test_eval_command_on_an_onnx_file(world, tmp_path, capsys):
    results = tmp_path / "results"
    code = main(
        [
            "eval",
            "--onnx",
            str(world["model"]),
            "--data",
            str(world["roots"]["devkit"]),
            "--json",
            "--results",
            str(results),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--no-progress",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["top1"] == pytest.approx(world["top1"]) and out["top5"] == pytest.approx(world["top5"])
    assert out["images"] == len(world["items"]) and len(out["skipped"]) == 1
    stored = ResultsStore(results).results("eval")
    assert len(stored) == 1 and stored[0].dataset_fingerprint == out["dataset_fingerprint"]
    assert stored[0].preprocess == SPEC.to_dict() and stored[0].model == "prototype_test"


def test_eval_command_prints_a_table(world, tmp_path, capsys):
    code = main(
        ["eval", "--onnx", str(world["model"]), "--data", str(world["roots"]["imagefolder"]), "--results", str(tmp_path), "--no-cache"]
    )
    out = capsys.readouterr().out
    assert code == 0 and "top-1" in out and "skipped" in out and "EVAL timm/prototype_test" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--data", "{tmp}/nope", "--onnx", "{model}"], "no such data folder"),
        (["--data", "{data}", "--onnx", "{tmp}/missing.onnx"], "no such ONNX file"),
        (["--data", "{data}"], "--src and --model"),
        (["--data", "{data}", "--onnx", "{model}", "--backend", "native"], "cannot be combined"),
        (["--data", "{data}", "--onnx", "{model}", "--limit", "0"], "--limit"),
    ],
)
def test_eval_command_usage_errors(world, tmp_path, capsys, argv, message):
    fill = dict(tmp=tmp_path, model=world["model"], data=world["roots"]["list"])
    code = main(["eval", "--results", str(tmp_path), *[a.format(**fill) for a in argv]])
    assert code == 2 and message in capsys.readouterr().err


@pytest.mark.skipif(
    importlib.util.find_spec("zoocheck.converters.torch_hub") is None or importlib.util.find_spec("timm") is None,
    reason="timm converter not available",
)
@pytest.mark.parametrize("backend", ["onnx", "native"])
def test_eval_command_converts_a_registry_model(world, tmp_path, capsys, monkeypatch, backend):
    results = tmp_path / "results"
    argv = [
        "eval",
        "--src",
        "timm",
        "--model",
        "resnet18",
        "--random-weights",
        "--data",
        str(world["roots"]["list"]),
        "--limit",
        "4",
        "--backend",
        backend,
        "--results",
        str(results),
        "--json",
        "--no-progress",
        "--no-cache",
    ]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["random_weights"] is True and out["images"] == 4 and out["backend"] == ("onnxruntime" if backend == "onnx" else "native")
    if backend == "onnx":
        assert ResultsStore(results).results("conversion")[0].status == "ok"
        # A second run reuses the conversion made from the same (random) weights ...
        assert main(argv) == 0
        assert len(ResultsStore(results).results("conversion")) == 1
        # ... by the same zoocheck code: an edit (another code digest) converts again
        monkeypatch.setattr("zoocheck.checks.eval_runs.code_digest", lambda: "edited")
        assert main(argv) == 0
        assert len(ResultsStore(results).results("conversion")) == 2


def test_cache_chunks_and_predictions_get_the_umask_mode_not_0600(world, tmp_path):
    """The crop cache's chunks and the per-image predictions (a sweep's eval step) are written by
    store.write_atomic like every whole file: 0644 under umask 022, as open() would make them."""
    import os
    import stat

    cache, predictions = tmp_path / "cache", tmp_path / "top5.npz"
    previous = os.umask(0o022)
    try:
        _eval(world, cache_dir=cache, predictions=predictions, batch_size=4)
    finally:
        os.umask(previous)
    written = [predictions, *(p for p in cache.rglob("*") if p.is_file())]
    assert {p.suffix for p in written} == {".npz", ".npy", ".json"}
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in written} == {p.name: 0o644 for p in written}
    with np.load(predictions) as saved:
        assert saved["top5"].shape == (len(world["items"]) + 1, 5)
        assert saved["labels"].shape == saved["images"].shape == (len(world["items"]) + 1,)
