"""The evaluation transform derived from a ``Preprocess`` spec, with each source library's semantics.

Decode -> resize -> centre crop -> scale/mean/std -> CHW float32, reproducing the arithmetic of the
library the source itself uses (PIL for torchvision/timm, OpenCV for mmpretrain/PaddleClas/MXNet),
including how each rounds the resized size and the crop offset, so that zoocheck feeds a converted
model exactly what the zoo fed it when it published its numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoocheck.zoo_registry.types import Preprocess


class ImageDecodeError(ValueError):
    """An image file that the source's image library cannot decode."""


def decode_image(path: str | Path, library: str) -> np.ndarray:
    """Decode to an RGB uint8 HWC array the way ``library`` does (greyscale and CMYK made RGB)."""
    path = Path(path)
    if library == "pil":
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as img:
                # torchvision/timm loaders: img.convert('RGB') (PIL's own CMYK->RGB formula).
                return np.asarray(img.convert("RGB"))
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            raise ImageDecodeError(f"{path}: cannot decode with PIL: {exc}") from exc
    if library == "cv2":
        import cv2

        data = np.fromfile(path, dtype=np.uint8)
        # IMREAD_COLOR: what mmcv.imfrombytes, PaddleClas DecodeImage and mxnet imdecode ask for;
        # libjpeg inside OpenCV converts CMYK/greyscale JPEGs to BGR.
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
        if bgr is None:
            raise ImageDecodeError(f"{path}: cannot decode with OpenCV")
        return np.ascontiguousarray(bgr[:, :, ::-1])
    raise ValueError(f"unknown image library {library!r}")


def resized_size(height: int, width: int, spec: Preprocess) -> tuple[int, int]:
    """(height, width) after the resize step."""
    if spec.resize_mode == "squash":
        return spec.resize, spec.resize
    short, long = (height, width) if height <= width else (width, height)
    if spec.size_rounding == "floor":
        # torchvision: int(size * long / short); mmpretrain ResizeEdge and mxnet Resize(keep_ratio) alike.
        new_long = int(spec.resize * long / short)
    else:
        # PaddleClas ResizeImage: int(round(side * resize_short / min(h, w))).
        new_long = int(round(long * (spec.resize / short)))
    return (spec.resize, new_long) if height <= width else (new_long, spec.resize)


_PIL_FILTERS = {"bilinear": 2, "bicubic": 3, "nearest": 0}  # PIL.Image.Resampling values
_CV2_FLAGS = {"bilinear": 1, "bicubic": 2, "nearest": 0}  # cv2.INTER_LINEAR / CUBIC / NEAREST


def resize(rgb: np.ndarray, spec: Preprocess) -> np.ndarray:
    height, width = rgb.shape[:2]
    return _resize_to(rgb, *resized_size(height, width, spec), spec)


def _resize_to(rgb: np.ndarray, new_h: int, new_w: int, spec: Preprocess) -> np.ndarray:
    if (new_h, new_w) == rgb.shape[:2]:
        return rgb
    if spec.image_library == "pil":
        from PIL import Image

        if not spec.antialias:
            raise ValueError("PIL resizes always antialias; use image_library='cv2' for antialias=False")
        return np.asarray(Image.fromarray(rgb).resize((new_w, new_h), _PIL_FILTERS[spec.interpolation]))
    import cv2

    if spec.antialias:
        raise ValueError("OpenCV resizes do not antialias; use image_library='pil' for antialias=True")
    return cv2.resize(rgb, (new_w, new_h), interpolation=_CV2_FLAGS[spec.interpolation])


def crop_then_resize(rgb: np.ndarray, spec: Preprocess) -> np.ndarray:
    """mmpretrain's EfficientNetCenterCrop (resize_mode 'crop_first'): a centred square of side
    crop / (crop + crop_padding) x the short side, cut as ``mmcv.imcrop`` cuts a float box (offsets
    rounded, the far corner truncated), then resized to crop x crop."""
    height, width = rgb.shape[:2]
    side = spec.crop / spec.resize * min(height, width)
    top, left = max(0, int(round((height - side) / 2.0))), max(0, int(round((width - side) / 2.0)))
    bottom, right = min(int(top + side - 1), height - 1), min(int(left + side - 1), width - 1)
    return _resize_to(rgb[top : bottom + 1, left : right + 1], spec.crop, spec.crop, spec)


def center_crop(img: np.ndarray, size: int, rounding: str) -> np.ndarray:
    height, width = img.shape[:2]
    if height < size or width < size:
        # torchvision pads with zeros when the image is smaller than the crop.
        pad_h, pad_w = max(size - height, 0), max(size - width, 0)
        img = np.pad(img, ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
        height, width = img.shape[:2]
    if rounding == "round":
        # Python's round (half to even), as torchvision and mmpretrain call it.
        top, left = int(round((height - size) / 2.0)), int(round((width - size) / 2.0))
    else:
        top, left = (height - size) // 2, (width - size) // 2
    return img[top : top + size, left : left + size]


def normalize(rgb: np.ndarray, spec: Preprocess) -> np.ndarray:
    """HWC uint8 RGB -> CHW float32 in the channel order the model expects."""
    x = rgb.astype(np.float32)
    if spec.scale != 1.0:
        x *= np.float32(spec.scale)
    x -= np.asarray(spec.mean, dtype=np.float32)
    x /= np.asarray(spec.std, dtype=np.float32)
    if spec.channel_order == "BGR":
        x = x[:, :, ::-1]
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def geometry(rgb: np.ndarray, spec: Preprocess) -> np.ndarray:
    """The resized and cropped uint8 image (what the crop cache keeps): crop x crop."""
    if spec.resize_mode == "crop_first":
        return crop_then_resize(rgb, spec)
    return center_crop(resize(rgb, spec), spec.crop, spec.crop_rounding)


def preprocess_array(rgb: np.ndarray, spec: Preprocess) -> np.ndarray:
    """Resize, crop and normalise an already decoded RGB uint8 image."""
    return normalize(geometry(rgb, spec), spec)


def preprocess_image(path: str | Path, spec: Preprocess) -> np.ndarray:
    """The float32 CHW tensor the source's own pipeline feeds its model for the image at ``path``."""
    return preprocess_array(decode_image(path, spec.image_library), spec)
