"""mmpretrain, PaddleClas, GluonCV and ONNX-zoo rows of the new families (MobileNetV2/V3,
EfficientNet, EfficientNetV2, DenseNet, VGG): every row of the shared tables is an entry or an
excluded record with its reason, with the row's numbers and preprocessing; mmpretrain's
EfficientNetCenterCrop against mmpretrain's own transform."""

from __future__ import annotations

import pytest
from conftest import make_entry

from zoocheck.checks.library_preprocess import PIXEL_TOLERANCE, LibraryUnavailable, compare_with_library, mmpretrain_transform
from zoocheck.zoo_registry.types import Preprocess

MEAN_255, STD_255 = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)


# --- mmpretrain's EfficientNetCenterCrop -------------------------------------------------------


def _crop_first(crop: int, padding: int, library: str = "cv2") -> Preprocess:
    return Preprocess(
        resize=crop + padding,
        crop=crop,
        interpolation="bicubic",
        image_library=library,  # type: ignore[arg-type]
        antialias=library == "pil",
        resize_mode="crop_first",
        mean=MEAN_255,
        std=STD_255,
        scale=1.0,
    )


@pytest.mark.parametrize(("crop", "padding", "library"), [(224, 32, "cv2"), (380, 32, "cv2"), (384, 0, "cv2"), (260, 32, "pil")])
def test_crop_first_is_mmpretrains_efficientnet_center_crop(photos, crop, padding, library):
    """zoocheck's 'crop_first' transform equals mmpretrain's own EfficientNetCenterCrop (crop a
    centred square of crop/(crop+padding) of the short side, then resize) on real photographs."""
    entry = make_entry("mmpretrain", "efficientnet-test", preprocess=_crop_first(crop, padding, library), input_size=crop)
    try:
        transform = mmpretrain_transform(entry)
    except LibraryUnavailable as exc:
        pytest.skip(str(exc))
    assert "EfficientNetCenterCrop" in transform.description
    rows = compare_with_library(entry, photos, transform)
    assert all(r.error is None and r.max_pixel_diff <= PIXEL_TOLERANCE for r in rows), rows


def test_crop_first_is_not_a_short_side_resize(photos):
    """Cropping first and resizing the crop is another image than resizing the short side to the
    same equivalent size and cropping: the mode matters."""
    crop_first = make_entry("mmpretrain", "efficientnet-test", preprocess=_crop_first(224, 32), input_size=224)
    short = make_entry(
        "mmpretrain",
        "resize-edge-test",
        input_size=224,
        preprocess=Preprocess(**{**crop_first.preprocess.to_dict(), "resize_mode": "short", "mean": MEAN_255, "std": STD_255}),
    )
    try:
        transform = mmpretrain_transform(short)
    except LibraryUnavailable as exc:
        pytest.skip(str(exc))
    rows = compare_with_library(crop_first, photos, transform)
    assert max(r.max_pixel_diff for r in rows) > 10 * PIXEL_TOLERANCE


# --- each zoo's names -> one id per function ---------------------------------------------------


@pytest.mark.parametrize(
    ("family", "scheme", "name", "arch_id"),
    [
        # mmpretrain's MobileNetV2 and V3 are torchvision's networks
        ("mobilenet_v2", "mmpretrain", "mobilenet-v2_8xb32_in1k", "mobilenet_v2_100"),
        ("mobilenet_v3", "mmpretrain", "mobilenet-v3-large_3rdparty_in1k", "mobilenet_v3_large_100_linearhead_bneps1e-3"),
        ("mobilenet_v3", "mmpretrain", "mobilenet-v3-small-050_3rdparty_in1k", "mobilenet_v3_small_050_stem16_linearhead"),
        # PaddleClas truncates channels and expands the first block; x2_0 and x1_0 truncate nothing
        ("mobilenet_v2", "paddleclas", "MobileNetV2_x0_25", "mobilenet_v2_025_truncated_expandfirst"),
        ("mobilenet_v2", "paddleclas", "MobileNetV2_ssld", "mobilenet_v2_100_expandfirst"),
        ("mobilenet_v2", "paddleclas", "MobileNetV2_x2_0", "mobilenet_v2_200_expandfirst"),
        (
            "mobilenet_v3",
            "paddleclas",
            "MobileNetV3_large_x1_0_ssld",
            "mobilenet_v3_large_100_headnobias_segate0.2_sefloor_expandalways_evaldropout0.8",
        ),
        ("mobilenet_v2", "gluoncv", "mobilenetv2_1.0", "mobilenet_v2_100_convclassifier"),
        ("mobilenet_v2", "onnx_zoo", "mobilenetv2-7", "mobilenet_v2_100_expandfirst_convclassifier"),
        ("mobilenet_v2", "onnx_zoo", "mobilenetv2-12-qdq", "mobilenet_v2_100"),
        ("mobilenet_v3", "gluoncv", "mobilenetv3_small", "mobilenet_v3_small_100_head1280_headnobias_convclassifier"),
        # TF "same" padding and eps 1e-3: mmpretrain, PaddleClas and the ONNX zoo's Lite4 are timm's tf_ ports
        ("efficientnet", "mmpretrain", "efficientnet-b3_3rdparty_8xb32-aa-advprop_in1k", "efficientnet_b3_bneps1e-3_samepad"),
        ("efficientnet", "paddleclas", "EfficientNetB3", "efficientnet_b3_bneps1e-3_samepad"),
        ("efficientnet", "paddleclas", "EfficientNetB0_small", "efficientnet_b0_bneps1e-3_nose"),
        ("efficientnet", "onnx_zoo", "efficientnet-lite4-11-int8", "efficientnet_lite4_bneps1e-3_samepad"),
        ("efficientnet_v2", "mmpretrain", "efficientnetv2-xl_in21k-pre_3rdparty_in1k", "efficientnet_v2_xl_bneps1e-3_samepad"),
        ("densenet", "mmpretrain", "densenet161_3rdparty_in1k", "densenet161"),
        ("densenet", "paddleclas", "DenseNet264", "densenet264"),
        ("densenet", "gluoncv", "densenet121", "densenet121"),
        ("vgg", "mmpretrain", "vgg16bn_8xb32_in1k", "vgg16_bn"),
        ("vgg", "paddleclas", "VGG16", "vgg16_convnobias_evaldropout0.5"),
        ("vgg", "onnx_zoo", "vgg19-caffe2-9", "vgg19"),
        ("vgg", "onnx_zoo", "vgg16-bn-7", "vgg16_bn"),
        ("densenet", "onnx_zoo", "densenet-12-int8", "densenet121"),
    ],
)
def test_zoo_names_parse_to_one_id_per_function(family, scheme, name, arch_id):
    import importlib

    assert getattr(importlib.import_module(f"zoocheck.families.{family}.names"), scheme)(name).id == arch_id


def test_the_same_function_shares_the_id_of_torchvision_or_timm():
    from zoocheck.families.densenet import names as densenet
    from zoocheck.families.efficientnet import names as efficientnet
    from zoocheck.families.mobilenet_v3 import names as mobilenet_v3

    assert mobilenet_v3.mmpretrain("mobilenet-v3-small_3rdparty_in1k") == mobilenet_v3.torchvision("mobilenet_v3_small")
    assert efficientnet.paddleclas("EfficientNetB5") == efficientnet.timm("tf_efficientnet_b5")
    assert densenet.paddleclas("DenseNet264").id != densenet.timm("densenet264d").id


# --- every row of the shared tables: an entry or an excluded record ----------------------------

from pathlib import Path  # noqa: E402

from zoocheck.cli import main  # noqa: E402
from zoocheck.zoo_registry import get_entry, list_entries, list_excluded  # noqa: E402
from zoocheck.zoo_registry.sources._common import parse_checksum, read_rows  # noqa: E402
from zoocheck.zoo_registry.sources._families import TABLE_FAMILIES  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "reference" / "published" / "families"
FAMILIES = (
    "mobilenet_v2",
    "mobilenet_v3",
    "efficientnet",
    "efficientnet_v2",
    "densenet",
    "vgg",
    "vit",
    "deit",
    "deit3",
    "swin",
    "swin_v2",
    "convnext",
    "convnext_v2",
)
#: packaged table -> (registry source, the shared table it copies, the column naming the entry)
TABLES = {
    "families_mmpretrain.csv": ("mmpretrain", "mmpretrain.csv", "model"),
    "families_paddleclas.csv": ("ppcls", "paddleclas.csv", "model"),
    "families_gluoncv.csv": ("gluoncv", "gluoncv.csv", "model"),
    "families_onnx_model_zoo.csv": ("onnx-zoo", "onnx-model-zoo.csv", "variant"),
}
#: the shared tables' columns, copied verbatim
COPIED = ("source", "family", "model", "variant", "top1", "top5", "params_m", "flops_g", "input_size", "resize", "crop",
          "interpolation", "mean", "std", "weights_url", "checksum_or_sha", "notes")  # fmt: skip


def _entry_name(table: str, row) -> str:
    """The entry a row is: PaddleClas's 22k fine-tunes are ``<model>_22kto1k`` (their own file)."""
    name = row[TABLES[table][2]]
    return f"{name}_22kto1k" if table == "families_paddleclas.csv" and row["variant"] == "22kto1k" else name


ROWS = [pytest.param(table, row, id=f"{TABLES[table][0]}/{_entry_name(table, row)}") for table in TABLES for row in read_rows(table)]


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/reference not present (not a workplace checkout)")
@pytest.mark.parametrize("table", list(TABLES))
def test_the_packaged_rows_are_the_shared_tables_rows_of_these_families(table):
    import csv

    _, shared, _ = TABLES[table]
    with open(SHARED / shared, encoding="utf-8", newline="") as f:
        expected = [{k: (r[k] or "").strip() for k in COPIED} for r in csv.DictReader(f) if r["family"] in FAMILIES]
    assert [{k: row[k] for k in COPIED} for row in read_rows(table)] == expected


def _pixel_scale(cell: str) -> tuple[float, ...]:
    values = tuple(float(x) for x in cell.split())
    return tuple(v * 255 for v in values) if max(values) <= 1 else values


@pytest.mark.parametrize("table, row", ROWS)
def test_every_row_is_an_entry_with_its_numbers_and_preprocessing_or_excluded(table, row):
    source = TABLES[table][0]
    if row.get("excluded"):
        assert any(x.model == row["model"] and x.reason == row["excluded"] for x in list_excluded(source))
        return
    entry = get_entry(source, _entry_name(table, row))
    assert entry.arch.family == TABLE_FAMILIES.get(row["family"], row["family"])
    numbers = {field: float(row[field]) if row[field] else None for field in ("top1", "top5", "params_m", "flops_g")}
    if any(numbers.values()):
        assert {field: getattr(entry.published[0], field) for field in numbers} == numbers
    else:
        assert entry.published == ()
    assert entry.weights.url == row["weights_url"]
    assert entry.weights.checksum == parse_checksum(row["checksum_or_sha"])
    pre = entry.preprocess
    if row["resize"]:
        assert (pre.resize, pre.crop, pre.interpolation) == (int(row["resize"].split("x")[0]), int(row["crop"]), row["interpolation"])
        mean, std = tuple(m / pre.scale for m in pre.mean), tuple(s / pre.scale for s in pre.std)
        assert mean == pytest.approx(_pixel_scale(row["mean"])) and std == pytest.approx(_pixel_scale(row["std"]))
    assert entry.input_size == int(row["input_size"] or pre.crop)
    # the zoo's own conflicting statements are the entry's discrepancies, one each
    assert len(entry.discrepancies) == row["notes"].count("DISCREPANCY")
    assert all(text in row["notes"] for text in entry.discrepancies)


def test_preprocessing_as_each_zoo_evaluates():
    efficientnet = get_entry("mmpretrain", "efficientnet-b4_3rdparty_8xb32_in1k").preprocess
    assert (efficientnet.resize_mode, efficientnet.resize, efficientnet.crop, efficientnet.image_library) == ("crop_first", 412, 380, "cv2")
    v2 = get_entry("mmpretrain", "efficientnetv2-s_3rdparty_in1k").preprocess
    assert (v2.resize_mode, v2.resize, v2.crop, v2.mean) == ("crop_first", 384, 384, (127.5, 127.5, 127.5))
    assert get_entry("mmpretrain", "vgg16_8xb32_in1k").preprocess.image_library == "pil"  # backend='pillow'
    assert get_entry("mmpretrain", "densenet121_3rdparty_in1k").preprocess.image_library == "cv2"
    paddle = get_entry("ppcls", "EfficientNetB3").preprocess
    assert (paddle.image_library, paddle.size_rounding, paddle.crop_rounding, paddle.resize, paddle.crop) == (
        "cv2",
        "round",
        "floor",
        332,
        300,
    )
    # the ONNX zoo's numbers come from a notebook that squashes; Lite4's README code resizes the short side
    assert get_entry("onnx-zoo", "VGG 16").preprocess.resize_mode == "squash"
    lite4 = get_entry("onnx-zoo", "efficientnet-lite4-11")
    assert (lite4.preprocess.resize_mode, lite4.preprocess.mean, lite4.softmax_output) == ("short", (127.0, 127.0, 127.0), True)


def test_rows_that_cannot_be_entries_are_listed_with_their_reason(capsys):
    import json

    assert main(["list", "--excluded", "--src", "ppcls", "--json"]) == 0
    listed = {d["model"]: d["reason"] for d in json.loads(capsys.readouterr().out)}
    assert "no weights" in listed["MobileNetV3_large_x1_0_ssld_int8"]
    assert {"EfficientNetV2_S", "EfficientNetV2_M", "EfficientNetV2_L", "EfficientNetV2_XL"} <= set(listed)


@pytest.mark.parametrize("pattern", ["mobilenet_v2_*", "mobilenet_v3_*", "efficientnet_[bl]*", "efficientnet_v2_*", "densenet*", "vgg*"])
def test_list_arch_finds_every_entry_of_these_zoos(capsys, pattern):
    import fnmatch
    import json

    ours = {
        e.key: e
        for source in ("mmpretrain", "ppcls", "gluoncv", "onnx-zoo")
        for e in list_entries(source)
        if e.arch.family != "resnet" and fnmatch.fnmatch(e.arch.id, pattern)
    }
    assert ours
    assert main(["list", "--arch", pattern, "--json"]) == 0
    listed = {f"{d['source']}/{d['name']}": d for d in json.loads(capsys.readouterr().out)}
    assert set(ours) <= set(listed)
    for key, entry in ours.items():
        assert [p["top1"] for p in listed[key]["published"]] == [p.top1 for p in entry.published]


# --- converting: the ONNX zoo's files convert, the other zoos' networks are refused at build ---


def _published_as(entry, path: Path):
    """``entry`` whose published checksum is that of ``path`` (a file made here stands in for the
    zoo's, which the tests cannot download)."""
    import dataclasses

    from zoocheck.digests import file_digest
    from zoocheck.zoo_registry.types import Checksum

    return dataclasses.replace(entry, weights=dataclasses.replace(entry.weights, checksum=Checksum("sha256", file_digest(path))))


@pytest.mark.parametrize(
    ("model", "why"),
    [
        ("densenet-12", "the zoo's file was converted from Caffe2, which zoocheck does not have"),
        ("vgg19-caffe2-9", "the zoo's file was converted from Caffe2, which zoocheck does not have"),
        ("resnet50-caffe2-v1-9", "the zoo's file was converted from Caffe2, which zoocheck does not have"),
        ("efficientnet-lite4-11", "the zoo's file was converted from TensorFlow (tf2onnx), which zoocheck does not have"),
        ("vgg16-12-int8", "the zoo's file is int8, quantised by Intel Neural Compressor"),
    ],
)
def test_a_zoo_file_zoocheck_cannot_write_fails_at_build_with_one_line(tmp_path, model, why):
    """Random weights of an ONNX-zoo file made by a framework zoocheck does not have, or quantised:
    refused at build with the reason and the fix, before anything is drawn or written."""
    from zoocheck.converters.pipeline import convert

    entry = get_entry("onnx-zoo", model)
    conversion = convert(entry, output=tmp_path / "out.onnx", random_seed=0, isolate=False)
    failure = conversion.failure
    assert failure is not None and failure.stage == "build" and failure.exception_type == "NoBuilder"
    assert failure.message.startswith(f"{entry.key} ({entry.arch.id}): {why}")
    assert f"zoocheck fetch --src onnx-zoo --model {model}" in failure.message
    assert "\n" not in failure.message and not list(tmp_path.iterdir())


def test_an_onnx_zoo_mobilenet_file_converts(tmp_path):
    """A file made as the zoo's mobilenetv2-10.onnx is (torchvision's MobileNetV2 through
    torch.onnx at opset 10, input ``input`` [batch_size, 3, 224, 224]) converts through the
    onnx-zoo converter as the published file would, and the converted file computes the original's
    logits."""
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    import numpy as np
    from conftest import inputs_for, run_onnx

    from zoocheck.converters.pipeline import convert

    torch.manual_seed(0)
    network = torchvision.models.mobilenet_v2(weights=None).eval()
    published = tmp_path / "mobilenetv2-10.onnx"
    torch.onnx.export(
        network,
        torch.zeros(1, 3, 224, 224),
        str(published),
        opset_version=10,
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "batch_size"}, "output": {0: "batch_size"}},
        dynamo=False,
    )
    entry = _published_as(get_entry("onnx-zoo", "mobilenetv2-10"), published)
    batch = inputs_for(entry)
    conversion = convert(entry, output=tmp_path / "converted.onnx", weights=published, inputs=batch, isolate=False)
    assert conversion.failure is None, conversion.failure
    with torch.no_grad():
        expected = network(torch.from_numpy(batch)).numpy()
    np.testing.assert_allclose(conversion.native_outputs, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(run_onnx(tmp_path / "converted.onnx", batch), expected, rtol=1e-4, atol=1e-4)


def test_an_nhwc_zoo_file_is_refused_at_build(tmp_path):
    """EfficientNet-Lite4's files take NHWC [1, 224, 224, 3]: refused in one line, not fed NCHW."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from zoocheck.converters.pipeline import convert

    graph = helper.make_graph(
        [
            helper.make_node("Transpose", ["images:0"], ["nchw"], perm=[0, 3, 1, 2]),
            helper.make_node("GlobalAveragePool", ["nchw"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"]),
            helper.make_node("Gemm", ["flat", "w"], ["scores"]),
            helper.make_node("Softmax", ["scores"], ["Softmax:0"]),
        ],
        "lite4_like",
        [helper.make_tensor_value_info("images:0", TensorProto.FLOAT, [1, 224, 224, 3])],
        [helper.make_tensor_value_info("Softmax:0", TensorProto.FLOAT, [1, 1000])],
        [numpy_helper.from_array(np.zeros((3, 1000), np.float32), "w")],
    )
    published = tmp_path / "efficientnet-lite4-11.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)]), str(published))
    entry = _published_as(get_entry("onnx-zoo", "efficientnet-lite4-11"), published)
    failure = convert(entry, output=tmp_path / "out.onnx", weights=published, isolate=False).failure
    assert (failure.stage, failure.exception_type) == ("build", "NoBuilder")
    assert "input images:0 is NHWC" in failure.message


def test_a_caffe2_densenet_file_converts_to_n_by_classes_logits(tmp_path):
    """The zoo's DenseNet-121 files end in a 1x1 conv ([1, 1000, 1, 1]): the converted file's
    first output is [N, 1000] like every file zoocheck writes, the same numbers. The file here is
    the zoo's head only, so it is converted as its native graph (the canonical DenseNet graph
    needs the whole network)."""
    import numpy as np
    import onnx
    from conftest import inputs_for, run_onnx
    from onnx import TensorProto, helper, numpy_helper

    from zoocheck.converters.pipeline import convert

    weights = np.random.default_rng(0).standard_normal((1000, 3, 1, 1)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["data_0"], ["pooled"]), helper.make_node("Conv", ["pooled", "w"], ["fc6_1"])],
        "densenet_like",
        [helper.make_tensor_value_info("data_0", TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info("fc6_1", TensorProto.FLOAT, [1, 1000, 1, 1])],
        [numpy_helper.from_array(weights, "w")],
    )
    published = tmp_path / "densenet-9.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9)], ir_version=4), str(published))
    entry = _published_as(get_entry("onnx-zoo", "densenet-9"), published)
    batch = inputs_for(entry)
    conversion = convert(entry, output=tmp_path / "converted.onnx", weights=published, inputs=batch, isolate=False, graph="native")
    assert conversion.failure is None, conversion.failure
    converted = run_onnx(tmp_path / "converted.onnx", batch)
    assert converted.shape == (len(batch), 1000)
    np.testing.assert_allclose(converted, conversion.native_outputs, rtol=1e-5, atol=1e-5)
