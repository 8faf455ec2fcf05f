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
    return Preprocess(resize=crop + padding, crop=crop, interpolation="bicubic", image_library=library,  # type: ignore[arg-type]
                      antialias=library == "pil", resize_mode="crop_first", mean=MEAN_255, std=STD_255, scale=1.0)  # fmt: skip


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
    short = make_entry("mmpretrain", "resize-edge-test", input_size=224,
                       preprocess=Preprocess(**{**crop_first.preprocess.to_dict(), "resize_mode": "short",
                                                "mean": MEAN_255, "std": STD_255}))  # fmt: skip
    try:
        transform = mmpretrain_transform(short)
    except LibraryUnavailable as exc:
        pytest.skip(str(exc))
    rows = compare_with_library(crop_first, photos, transform)
    assert max(r.max_pixel_diff for r in rows) > 10 * PIXEL_TOLERANCE


# --- each zoo's names -> one id per function ---------------------------------------------------


@pytest.mark.parametrize(("family", "scheme", "name", "arch_id"), [
    # mmpretrain's MobileNetV2 and V3 are torchvision's networks
    ("mobilenet_v2", "mmpretrain", "mobilenet-v2_8xb32_in1k", "mobilenet_v2_100"),
    ("mobilenet_v3", "mmpretrain", "mobilenet-v3-large_3rdparty_in1k", "mobilenet_v3_large_100_linearhead_bneps1e-3"),
    ("mobilenet_v3", "mmpretrain", "mobilenet-v3-small-050_3rdparty_in1k", "mobilenet_v3_small_050_stem16_linearhead"),
    # PaddleClas truncates channels and expands the first block; x2_0 and x1_0 truncate nothing
    ("mobilenet_v2", "paddleclas", "MobileNetV2_x0_25", "mobilenet_v2_025_truncated_expandfirst"),
    ("mobilenet_v2", "paddleclas", "MobileNetV2_ssld", "mobilenet_v2_100_expandfirst"),
    ("mobilenet_v2", "paddleclas", "MobileNetV2_x2_0", "mobilenet_v2_200_expandfirst"),
    ("mobilenet_v3", "paddleclas", "MobileNetV3_large_x1_0_ssld",
     "mobilenet_v3_large_100_headnobias_segate0.2_sefloor_expandalways_evaldropout0.8"),
    ("mobilenet_v2", "gluoncv", "mobilenetv2_1.0", "mobilenet_v2_100_convclassifier"),
    ("mobilenet_v2", "onnx_zoo", "mobilenetv2", "mobilenet_v2_100_convclassifier"),
    ("mobilenet_v3", "gluoncv", "mobilenetv3_small", "mobilenet_v3_small_100_head1280_headnobias_convclassifier"),
    # TF "same" padding and eps 1e-3: mmpretrain, PaddleClas and the ONNX zoo's Lite4 are timm's tf_ ports
    ("efficientnet", "mmpretrain", "efficientnet-b3_3rdparty_8xb32-aa-advprop_in1k", "efficientnet_b3_bneps1e-3_samepad"),
    ("efficientnet", "paddleclas", "EfficientNetB3", "efficientnet_b3_bneps1e-3_samepad"),
    ("efficientnet", "paddleclas", "EfficientNetB0_small", "efficientnet_b0_bneps1e-3_nose"),
    ("efficientnet", "onnx_zoo", "efficientnet-lite4", "efficientnet_lite4_bneps1e-3_samepad"),
    ("efficientnet_v2", "mmpretrain", "efficientnetv2-xl_in21k-pre_3rdparty_in1k", "efficientnet_v2_xl_bneps1e-3_samepad"),
    ("densenet", "mmpretrain", "densenet161_3rdparty_in1k", "densenet161"),
    ("densenet", "paddleclas", "DenseNet264", "densenet264"),
    ("densenet", "gluoncv", "densenet121", "densenet121"),
    ("vgg", "mmpretrain", "vgg16bn_8xb32_in1k", "vgg16_bn"),
    ("vgg", "paddleclas", "VGG16", "vgg16_convnobias_evaldropout0.5"),
    ("vgg", "onnx_zoo", "vgg19-caffe2", "vgg19"),
])  # fmt: skip
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
