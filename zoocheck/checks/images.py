"""Inputs for parity checks: seeded random tensors and real photographs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
# Real photographs shipped inside the scikit-image wheel, with their ImageNet-1k classes.
SKIMAGE_PHOTOS = ("chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "astronaut.png")


def bundled_photos() -> list[Path]:
    """The real photographs in the installed scikit-image package (empty if it is not installed)."""
    try:
        import skimage
    except ImportError:
        return []
    data = Path(skimage.__file__).parent / "data"
    return [data / name for name in SKIMAGE_PHOTOS if (data / name).exists()]


def images_in(directory: str | Path) -> list[Path]:
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: not a directory of images")
    found = sorted(p for p in directory.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not found:
        raise FileNotFoundError(f"{directory}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found")
    return found


def random_inputs(count: int, size: int, seed: int = 0) -> np.ndarray:
    """Standard-normal NCHW float32 tensors: roughly the range normalised images have."""
    return np.random.default_rng(seed).standard_normal((count, 3, size, size), dtype=np.float32)
