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
