"""The transform derived from a Preprocess spec: rounding rules, and each library's semantics."""

import dataclasses

import numpy as np
import pytest
from conftest import make_entry

from zoocheck.checks.images import bundled_photos
from zoocheck.checks.library_preprocess import mxnet_transform
from zoocheck.checks.preprocess import ImageDecodeError, center_crop, decode_image, preprocess_image, resized_size
from zoocheck.zoo_registry.types import Preprocess

PHOTOS = bundled_photos()
MXNET_STYLE = Preprocess(resize=256, crop=224, image_library="cv2", antialias=False, size_rounding="floor", crop_rounding="floor")
SQUASH_STYLE = dataclasses.replace(MXNET_STYLE, resize_mode="squash")


def test_short_side_resize_floors_or_rounds_the_long_side():
    # 300x451: 451 * 256 / 300 = 384.85 -> torchvision/mmpretrain/mxnet 384, PaddleClas 385
    assert resized_size(300, 451, Preprocess(resize=256, crop=224)) == (256, 384)
    assert resized_size(300, 451, Preprocess(resize=256, crop=224, size_rounding="round")) == (256, 385)
    assert resized_size(451, 300, Preprocess(resize=256, crop=224)) == (384, 256)
    assert resized_size(300, 451, Preprocess(resize=256, crop=224, resize_mode="squash")) == (256, 256)


def test_center_crop_rounds_half_to_even_like_python_round():
    img = np.arange(7 * 7).reshape(7, 7, 1)
    # (7 - 4) / 2 = 1.5: round -> 2 (half to even), floor -> 1
    assert center_crop(img, 4, "round")[0, 0, 0] == 2 * 7 + 2
    assert center_crop(img, 4, "floor")[0, 0, 0] == 1 * 7 + 1


def test_crop_larger_than_resize_is_rejected():
    with pytest.raises(ValueError, match="crop 256 larger than resize 224"):
        Preprocess(resize=224, crop=256)


def test_undecodable_file_raises_a_decode_error_naming_it(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    for library in ("pil", "cv2"):
        with pytest.raises(ImageDecodeError, match="broken.jpg"):
            decode_image(bad, library)


def test_cmyk_and_greyscale_jpegs_decode_to_rgb(tmp_path):
    from PIL import Image

    rgb = Image.open(PHOTOS[0]).convert("RGB")
    rgb.convert("CMYK").save(tmp_path / "cmyk.jpg")
    rgb.convert("L").save(tmp_path / "grey.jpg")
    for library in ("pil", "cv2"):
        for name in ("cmyk.jpg", "grey.jpg"):
            arr = decode_image(tmp_path / name, library)
            assert arr.shape == (rgb.height, rgb.width, 3) and arr.dtype == np.uint8
        grey = decode_image(tmp_path / "grey.jpg", library)
        assert (grey[..., 0] == grey[..., 1]).all()


@pytest.mark.parametrize("spec", [MXNET_STYLE, SQUASH_STYLE], ids=["keep-ratio", "squash"])
def test_mxnet_style_specs_match_mxnet_gluon_transforms(spec):
    """MXNet Gluon / GluonCV evaluation: Resize(256, keep_ratio=True), CenterCrop(224), ToTensor,
    Normalize; the ONNX model zoo's validation notebook: Resize(256) squashes to 256x256."""
    transform = mxnet_transform(make_entry("gluon", "spec", builder="resnet18_v1", preprocess=spec))
    for photo in PHOTOS:
        np.testing.assert_allclose(preprocess_image(photo, spec), transform.apply(photo), atol=2e-6, err_msg=photo.name)
