"""Small ImageNet-like validation sets in every layout, and an ONNX model whose predictions are known.

Shared by test_imagenet_layouts.py, test_evaluate.py and test_table.py.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from zoocheck import __version__
from zoocheck.checks.imagenet import classes
from zoocheck.checks.images import bundled_photos
from zoocheck.records import OnnxMetadata, WeightsRef
from zoocheck.zoo_registry.types import Preprocess

# The real photographs bundled with scikit-image and their ImageNet-1k classes (../shared/STACK.md).
PHOTO_LABELS = {"chelsea": 281, "coffee": 967, "rocket": 657, "motorcycle_left": 665}

SPEC = Preprocess(resize=64, crop=56)  # PIL bilinear, ImageNet mean/std: small and fast


@dataclass(frozen=True)
class Item:
    name: str
    data: bytes  # the JPEG file's bytes
    label: int  # sorted-WNID index


def jpeg_bytes(img: Image.Image, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=92, **kwargs)
    return buf.getvalue()


def photo_items() -> list[Item]:
    """The four labelled real photographs as JPEG files."""
    items = []
    for path in bundled_photos():
        if path.stem in PHOTO_LABELS:
            items.append(Item(path.stem, jpeg_bytes(Image.open(path).convert("RGB")), PHOTO_LABELS[path.stem]))
    assert len(items) == 4, "scikit-image's photographs are needed (pip install scikit-image)"
    return items


def synthetic_items(count: int, seed: int = 0, first_label: int = 10) -> list[Item]:
    """Smooth colour gradients of assorted sizes (portrait and landscape), distinct labels."""
    rng = np.random.default_rng(seed)
    items = []
    for k in range(count):
        h, w = (int(rng.integers(60, 140)), int(rng.integers(60, 140)))
        base = rng.integers(20, 235, size=3)
        ramp = np.linspace(-20, 20, w)[None, :, None] + np.linspace(-15, 15, h)[:, None, None]
        arr = np.clip(base[None, None, :] + ramp, 0, 255).astype(np.uint8)
        items.append(Item(f"synthetic{k}", jpeg_bytes(Image.fromarray(arr)), first_label + 7 * k))
    return items


def cmyk_item(label: int = 500) -> Item:
    """A CMYK JPEG (ImageNet val has some) made from a real photograph."""
    photo = next(p for p in bundled_photos() if p.stem == "coffee")
    return Item("cmyk", jpeg_bytes(Image.open(photo).convert("CMYK")), label)


def grey_item(label: int = 501) -> Item:
    """A greyscale JPEG (ImageNet val has some) made from a real photograph."""
    photo = next(p for p in bundled_photos() if p.stem == "rocket")
    return Item("grey", jpeg_bytes(Image.open(photo).convert("L")), label)


CORRUPT = b"\xff\xd8\xff\xe0 this is not really a JPEG"


def val_name(i: int) -> str:
    return f"ILSVRC2012_val_{i:08d}.JPEG"


def build_layouts(base: Path, items: list[Item], corrupt_label: int | None = None) -> dict[str, Path]:
    """The same images in the four layouts under ``base``; returns layout -> the folder to pass.

    With ``corrupt_label``, an undecodable file with that label is added to every layout.
    """
    table = classes()
    entries = [(it.data, it.label, it.name) for it in items]
    if corrupt_label is not None:
        entries.append((CORRUPT, corrupt_label, "corrupt"))
    out = {}

    root = base / "imagefolder"
    for data, label, name in entries:
        (root / table[label].wnid).mkdir(parents=True, exist_ok=True)
        (root / table[label].wnid / f"{name}.JPEG").write_bytes(data)
    out["imagefolder"] = root

    root = base / "paddle"
    (root / "val").mkdir(parents=True)
    lines = []
    for i, (data, label, _) in enumerate(entries, 1):
        (root / "val" / val_name(i)).write_bytes(data)
        lines.append(f"val/{val_name(i)} {label}")
    (root / "val_list.txt").write_text("\n".join(lines) + "\n")
    out["list"] = root

    root = base / "kaggle"
    images = root / "ILSVRC" / "Data" / "CLS-LOC" / "val"
    images.mkdir(parents=True)
    rows = ["ImageId,PredictionString"]
    for i, (data, label, _) in enumerate(entries, 1):
        (images / val_name(i)).write_bytes(data)
        wnid = table[label].wnid
        rows.append(f"{val_name(i)[:-5]},{wnid} 10 20 100 120 {wnid} 5 5 50 60 ")
    (root / "LOC_val_solution.csv").write_text("\n".join(rows) + "\n")
    out["kaggle"] = root

    root = base / "devkit"
    (root / "val").mkdir(parents=True)
    (root / "ILSVRC2012_devkit_t12" / "data").mkdir(parents=True)
    ids = []
    for i, (data, label, _) in enumerate(entries, 1):
        (root / "val" / val_name(i)).write_bytes(data)
        ids.append(str(table[label].ilsvrc2012_id))
    (root / "ILSVRC2012_devkit_t12" / "data" / "ILSVRC2012_validation_ground_truth.txt").write_text("\n".join(ids) + "\n")
    out["devkit"] = root
    return out


def prototype_model(path: Path, prototypes: dict[int, np.ndarray], spec: Preprocess = SPEC, seed: int = 0) -> Path:
    """An ONNX classifier whose prediction is known: the logit of class c is -||m - p_c||^2 (up to a
    per-image constant), m the image's per-channel mean of the model input and p_c the prototype of
    class c: ``prototypes`` for the classes given, far-away random points for every other class.
    The nearest prototype wins, then the next nearest, and so on."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    protos = rng.uniform(50.0, 100.0, size=(1000, 3)).astype(np.float64)
    for c, p in prototypes.items():
        protos[c] = p
    weight = (2.0 * protos.T).astype(np.float32)  # [3, 1000]
    bias = (-(protos**2).sum(axis=1)).astype(np.float32)  # [1000]
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["input"], ["mean"], axes=[2, 3], keepdims=0),
            helper.make_node("Gemm", ["mean", "W", "b"], ["logits"]),
        ],
        "prototype",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, spec.crop, spec.crop])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000])],
        initializer=[numpy_helper.from_array(weight, "W"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    metadata = OnnxMetadata(
        zoocheck_version=__version__,
        source="timm",
        model="prototype_test",
        arch="prototype",
        random_weights=False,
        random_seed=None,
        weights=WeightsRef("class prototypes built by the test", None),
        published_weights_url=None,
        preprocess=spec.to_dict(),
        input_size=spec.crop,
        label_space="imagenet-1k",
        output="logits",
        opset=17,
        versions={},
    )
    helper.set_model_props(model, {"zoocheck": json.dumps(metadata.to_json())})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def input_mean(data: bytes, tmp: Path, spec: Preprocess = SPEC) -> np.ndarray:
    """The per-channel mean of the model input for an image file's bytes (float64 of the float32 tensor)."""
    from zoocheck.checks.preprocess import preprocess_image

    f = tmp / "probe.JPEG"
    f.write_bytes(data)
    return preprocess_image(f, spec).astype(np.float32).mean(axis=(1, 2), dtype=np.float32).astype(np.float64)
