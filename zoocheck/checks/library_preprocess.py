"""zoocheck's spec-driven preprocessing against the source library's own transform.

zoocheck never calls a zoo's preprocessing code to feed a model: it derives the transform from the
registry's ``Preprocess`` spec (``checks/preprocess.py``). This check proves the two agree on real
photographs, with the library's own objects built from the library's own metadata where it has any
(torchvision's ``Weights.transforms()``, timm's ``pretrained_cfg``), and from the spec's parameters
where the library keeps them only in config files (mmpretrain, PaddleClas, MXNet Gluon).

Each library is imported only when its transform is built; one that is not installed makes that
entry's check ``skipped`` with the reason, never a failure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoocheck.checks.preprocess import ImageDecodeError, preprocess_image
from zoocheck.records import ImagePixelDifference, LibraryPreprocessCheck, LogitEffect, PreprocessingDifference
from zoocheck.zoo_registry.types import Entry, Preprocess

#: one pixel step on the 0-255 scale: below this, two preprocessings round to the same image
PIXEL_TOLERANCE = 0.5


class LibraryUnavailable(RuntimeError):
    """The source's own preprocessing library cannot be imported here; the message says which."""


#: pip's name for a module that a library installed ``--no-deps`` imports, where the two differ
PIP_NAMES = {"sklearn": "scikit-learn", "faiss": "faiss-cpu", "yaml": "PyYAML", "cv2": "opencv-python-headless", "PIL": "pillow"}


def _import_failure(what: str, exc: Exception, package: str, install: str) -> LibraryUnavailable:
    """Why ``what`` cannot be imported, and the command that fixes it: for a missing module other than
    ``package`` itself (a dependency a ``--no-deps`` install left out), that module's own pip install."""
    if isinstance(exc, ModuleNotFoundError) and exc.name and exc.name.split(".")[0] != package:
        module = exc.name.split(".")[0]
        return LibraryUnavailable(f"{what} cannot be imported: module {module!r} is missing; pip install {PIP_NAMES.get(module, module)}")
    return LibraryUnavailable(f"{what} cannot be imported ({type(exc).__name__}: {exc}); {install}")


@dataclass(frozen=True)
class LibraryTransform:
    """The source library's evaluation transform: image path -> float32 CHW tensor."""

    description: str  # what was built, e.g. "torchvision 0.29.1 ResNet50_Weights.IMAGENET1K_V1.transforms()"
    apply: Callable[[Path], np.ndarray]


def _pil_rgb(path: Path):
    from PIL import Image

    with Image.open(path) as img:
        return img.convert("RGB")


def torchvision_transform(entry: Entry) -> LibraryTransform:
    try:
        import torchvision
    except ImportError as exc:
        raise LibraryUnavailable(f"torchvision is not installed ({exc}); pip install zoocheck[torch]") from None
    builder, tag = entry.name.split(".", 1)
    weights = torchvision.models.get_model_weights(builder)[tag]
    transform = weights.transforms()
    return LibraryTransform(
        f"torchvision {torchvision.__version__} {type(weights).__name__}.{tag}.transforms()",
        lambda path: transform(_pil_rgb(path)).numpy(),
    )


def timm_transform(entry: Entry) -> LibraryTransform:
    try:
        import timm
        from timm.data import create_transform, resolve_data_config
    except ImportError as exc:
        raise LibraryUnavailable(f"timm is not installed ({exc}); pip install zoocheck[torch]") from None
    config = resolve_data_config(pretrained_cfg=timm.models.get_pretrained_cfg(entry.name).to_dict())
    transform = create_transform(**config)
    return LibraryTransform(
        f"timm {timm.__version__} create_transform(pretrained_cfg of {entry.name})",
        lambda path: transform(_pil_rgb(path)).numpy(),
    )


def _short_side_spec(spec: Preprocess, library: str) -> None:
    if spec.resize_mode != "short":
        raise LibraryUnavailable(f"{library}'s transform is built for short-side resizing only, not {spec.resize_mode!r}")


def mmpretrain_transform(entry: Entry) -> LibraryTransform:
    """mmpretrain's test pipeline (ResizeEdge + CenterCrop, or EfficientNetCenterCrop for a
    'crop_first' spec) and its ClsDataPreprocessor's normalisation."""
    spec = entry.preprocess
    if spec.resize_mode != "crop_first":
        _short_side_spec(spec, "mmpretrain")
    try:
        import mmpretrain
        from mmcv.transforms import CenterCrop
        from mmpretrain.datasets.transforms import EfficientNetCenterCrop, ResizeEdge
    except Exception as exc:  # mmpretrain installed --no-deps may miss a module it imports
        raise LibraryUnavailable(f"mmpretrain's transforms cannot be imported ({type(exc).__name__}: {exc})") from None
    backend = "pillow" if spec.image_library == "pil" else "cv2"
    if spec.resize_mode == "crop_first":
        steps = [
            EfficientNetCenterCrop(
                crop_size=spec.crop, crop_padding=spec.resize - spec.crop, interpolation=spec.interpolation, backend=backend
            )
        ]
        described = "EfficientNetCenterCrop"
    else:
        steps = [
            ResizeEdge(scale=spec.resize, edge="short", backend=backend, interpolation=spec.interpolation),
            CenterCrop(crop_size=spec.crop),
        ]
        described = "ResizeEdge + CenterCrop"
    mean, std = np.asarray(spec.mean, np.float32), np.asarray(spec.std, np.float32)

    def apply(path: Path) -> np.ndarray:
        import mmcv

        results = {"img": mmcv.imread(str(path), backend="pillow" if spec.image_library == "pil" else "cv2")}
        for step in steps:
            results = step(results)
        img = results["img"]
        rgb = img[..., ::-1].astype(np.float32)  # ClsDataPreprocessor(to_rgb=True)
        if spec.scale != 1.0:
            rgb = rgb * np.float32(spec.scale)
        out = (rgb - mean) / std
        return np.ascontiguousarray((out[..., ::-1] if spec.channel_order == "BGR" else out).transpose(2, 0, 1))

    return LibraryTransform(f"mmpretrain {mmpretrain.__version__} {described} + ClsDataPreprocessor", apply)


def mxnet_transform(entry: Entry) -> LibraryTransform:
    """MXNet Gluon's evaluation transforms (Resize, CenterCrop, ToTensor, Normalize) on mx.image.imread."""
    spec = entry.preprocess
    from zoocheck.converters.mxnet_compat import import_mxnet

    try:
        mx = import_mxnet()
        from mxnet.gluon.data.vision import transforms
    except Exception as exc:
        raise LibraryUnavailable(f"mxnet cannot be imported ({type(exc).__name__}: {exc}); pip install zoocheck[mxnet]") from None
    if spec.scale != 1.0 / 255.0 or spec.channel_order != "RGB":
        raise LibraryUnavailable("MXNet's ToTensor scales by 1/255 into RGB; this entry's spec does otherwise")
    interpolation = {"nearest": 0, "bilinear": 1, "bicubic": 2}[spec.interpolation]
    pipeline = transforms.Compose(
        [
            transforms.Resize(spec.resize, keep_ratio=spec.resize_mode == "short", interpolation=interpolation),
            transforms.CenterCrop(spec.crop, interpolation=interpolation),
            transforms.ToTensor(),
            transforms.Normalize(mean=list(spec.mean), std=list(spec.std)),
        ]
    )
    return LibraryTransform(
        f"mxnet {mx.__version__} gluon.data.vision.transforms Resize + CenterCrop + ToTensor + Normalize",
        lambda path: pipeline(mx.image.imread(str(path))).asnumpy(),
    )


def paddleclas_transform(entry: Entry, ops=None) -> LibraryTransform:
    """PaddleClas's deploy operators (DecodeImage, ResizeImage, CropImage, NormalizeImage, ToCHWImage).

    ``ops`` is PaddleClas's ``deploy/python/preprocess.py`` module; by default imported from a full
    paddleclas install (the tests pass the file of the wheel installed without its dependencies)."""
    spec = entry.preprocess
    _short_side_spec(spec, "PaddleClas")
    if ops is None:
        try:
            from paddleclas.deploy.python import preprocess as ops
        except Exception as exc:  # paddleclas installed --no-deps may miss a module it imports
            raise _import_failure(
                "PaddleClas's deploy operators", exc, "paddleclas", "run ./setup.sh (it installs paddleclas --no-deps with what it imports)"
            ) from None
    pipeline = [
        ops.DecodeImage(to_rgb=spec.channel_order == "RGB"),
        ops.ResizeImage(resize_short=spec.resize, interpolation=None),
        ops.CropImage(size=spec.crop),
        ops.NormalizeImage(scale=spec.scale, mean=list(spec.mean), std=list(spec.std), order=""),
        ops.ToCHWImage(),
    ]

    def apply(path: Path) -> np.ndarray:
        data = path.read_bytes()
        for op in pipeline:
            data = op(data)
        return np.asarray(data, dtype=np.float32)

    return LibraryTransform("PaddleClas deploy/python/preprocess.py DecodeImage + ResizeImage + CropImage + NormalizeImage", apply)


def to_pixels(tensor: np.ndarray, spec: Preprocess) -> np.ndarray:
    """A preprocessed CHW tensor back on the 0-255 RGB pixel scale (undoing mean/std/scale/order)."""
    x = tensor.astype(np.float64)
    if spec.channel_order == "BGR":
        x = x[::-1]
    std, mean = np.asarray(spec.std, np.float64).reshape(3, 1, 1), np.asarray(spec.mean, np.float64).reshape(3, 1, 1)
    return (x * std + mean) / spec.scale


def pixel_difference(name: str, a: np.ndarray, spec_a: Preprocess, b: np.ndarray, spec_b: Preprocess) -> ImagePixelDifference:
    """How far two preprocessings of one image are apart, in 0-255 pixel steps."""
    if a.shape != b.shape:
        return ImagePixelDifference(name, math.inf, math.inf, (tuple(a.shape), tuple(b.shape)))
    diff = np.abs(to_pixels(a, spec_a) - to_pixels(b, spec_b))
    return ImagePixelDifference(name, float(diff.max()), float(diff.mean()))


def compare_with_library(entry: Entry, images: Sequence[Path], transform: LibraryTransform) -> list[ImagePixelDifference]:
    """zoocheck's preprocessing of each image against ``transform``'s, in 0-255 pixel units."""
    rows = []
    for path in images:
        try:
            ours = preprocess_image(path, entry.preprocess)
            theirs = transform.apply(Path(path))
        except (ImageDecodeError, OSError, ValueError) as exc:
            rows.append(ImagePixelDifference(Path(path).name, math.nan, math.nan, error=f"{type(exc).__name__}: {exc}"))
            continue
        rows.append(pixel_difference(Path(path).name, ours, entry.preprocess, theirs, entry.preprocess))
    return rows


def logit_effect(onnx_path: str | Path, names: Sequence[str], batch_a: np.ndarray, batch_b: np.ndarray) -> LogitEffect:
    """Feed both preprocessings of the same images through the ONNX model at ``onnx_path``."""
    from zoocheck.checks.parity import compare_batches
    from zoocheck.converters.onnx_runtime import run_first_output, session

    sess = session(onnx_path)
    comparisons = compare_batches(names, run_first_output(sess, batch_a), run_first_output(sess, batch_b))
    return LogitEffect(
        str(onnx_path),
        max((c.max_rel_err for c in comparisons), default=0.0),
        tuple(c.input for c in comparisons if not c.top1_agree),
    )


def check_library_preprocessing(entry: Entry, images: Sequence[Path], *, onnx_path: str | Path | None = None) -> LibraryPreprocessCheck:
    """Compare ``entry``'s spec-driven preprocessing of ``images`` with its source library's own
    transform; with ``onnx_path``, also what a non-zero difference does to that model's logits."""
    import importlib

    from zoocheck.sources import get_source

    where = get_source(entry.source).library_transform
    if where is None:
        return LibraryPreprocessCheck(entry.source, entry.name, f"source {entry.source!r} declares no library transform", "skipped")
    module, _, function = where.partition(":")
    build = getattr(importlib.import_module(module), function)
    try:
        transform = build(entry)
    except LibraryUnavailable as exc:
        return LibraryPreprocessCheck(entry.source, entry.name, str(exc), "skipped")
    rows = tuple(compare_with_library(entry, images, transform))
    usable = [r for r in rows if r.error is None]
    if not usable:
        return LibraryPreprocessCheck(entry.source, entry.name, transform.description, "error", rows)
    worst = max(r.max_pixel_diff for r in usable)
    effect = None
    if onnx_path is not None and worst > 0 and all(r.shapes is None for r in usable):
        paths = [p for p, r in zip(images, rows) if r.error is None]
        ours = np.stack([preprocess_image(p, entry.preprocess) for p in paths])
        theirs = np.stack([transform.apply(Path(p)) for p in paths]).astype(np.float32)
        effect = logit_effect(onnx_path, [r.image for r in usable], theirs, ours)
    return LibraryPreprocessCheck(
        entry.source, entry.name, transform.description, "ok" if worst <= PIXEL_TOLERANCE else "failed", rows, effect=effect
    )


def preprocessing_difference(
    entry_a: Entry, entry_b: Entry, images: Sequence[Path], *, onnx_path_a: str | Path | None = None
) -> PreprocessingDifference:
    """Each entry's own preprocessing of ``images``: pixel differences (both undone to 0-255 RGB)
    and, with ``onnx_path_a``, the logit difference and top-1 flips b's preprocessing causes in a's model."""
    rows, names, batch_a, batch_b = [], [], [], []
    for path in images:
        name = Path(path).name
        try:
            a, b = preprocess_image(path, entry_a.preprocess), preprocess_image(path, entry_b.preprocess)
        except (ImageDecodeError, OSError, ValueError) as exc:
            rows.append(ImagePixelDifference(name, math.nan, math.nan, error=f"{type(exc).__name__}: {exc}"))
            continue
        rows.append(pixel_difference(name, a, entry_a.preprocess, b, entry_b.preprocess))
        if a.shape == b.shape:
            names.append(name), batch_a.append(a), batch_b.append(b)
    effect = None
    if onnx_path_a is not None and names:
        effect = logit_effect(onnx_path_a, names, np.stack(batch_a), np.stack(batch_b))
    return PreprocessingDifference(entry_a.key, entry_b.key, tuple(rows), effect)


__all__ = [
    "LibraryPreprocessCheck",
    "LogitEffect",
    "check_library_preprocessing",
    "logit_effect",
    "ImagePixelDifference",
    "LibraryTransform",
    "LibraryUnavailable",
    "PIXEL_TOLERANCE",
    "compare_with_library",
    "mmpretrain_transform",
    "mxnet_transform",
    "paddleclas_transform",
    "pixel_difference",
    "preprocessing_difference",
    "to_pixels",
    "timm_transform",
    "torchvision_transform",
]
