"""mmpretrain (formerly mmcls): the ImageNet-1k ResNet / ResNeXt configs (data/mmpretrain.csv) and
those of MobileNetV2/V3, EfficientNet, EfficientNetV2, DenseNet, VGG, ConvNeXt and ConvNeXt-V2
(data/families_mmpretrain.csv).

Entry name = the config name (``resnetv1d50_8xb32_in1k``); builder = the config name too; the
converter builds from ``entry.arch``. Aliases: the short model name (``resnet50``, ``resnetv1d50``,
``resnext101_32x4d`` as the vendor card spells mmcls models) for the plain 8xb32 configs, and the
mmcls 0.x checkpoint stem (``resnext101_32x4d_b32x8_imagenet``).

The new families' rows carry their test pipeline as typed columns: ``resize_mode`` ('short':
ResizeEdge + CenterCrop; 'crop_first': EfficientNetCenterCrop, whose ``resize`` is crop + crop_padding;
'squash': the 384/512-px configs' ``Resize(scale=384)``, whose ``resize`` cell reads ``384x384``)
and ``image_library`` (the resize backend: pillow or cv2); the architecture comes from the family's
``mmpretrain`` name parser.
"""

from __future__ import annotations

import re

from zoocheck.zoo_registry.names import mmpretrain_config
from zoocheck.zoo_registry.sources._common import (
    Row,
    extras_for,
    file_name_of,
    located,
    parse_checksum,
    published,
    read_rows,
    triple,
    with_relations,
)
from zoocheck.zoo_registry.sources._families import discrepancies, family_architecture
from zoocheck.zoo_registry.types import Entry, Preprocess, Weights

SOURCE = "mmpretrain"
REFERENCE = "mmpretrain @ee7f2e88 configs/{family}/metafile.yml (= configs/{family}/README.md ImageNet-1k table)"

MEAN_255 = (123.675, 116.28, 103.53)
STD_255 = (58.395, 57.12, 57.375)

#: configs/_base_/datasets/imagenet_bs32.py: ResizeEdge(256, edge='short') backend cv2 bilinear (long side
#: int()), CenterCrop(224) (offset round), mean/std on 0-255, to_rgb
MMPRETRAIN_CV2 = Preprocess(
    resize=256,
    crop=224,
    interpolation="bilinear",
    image_library="cv2",
    antialias=False,
    size_rounding="floor",
    crop_rounding="round",
    mean=MEAN_255,
    std=STD_255,
    scale=1.0,
)
#: imagenet_bs32_pil_resize.py: the same with backend='pillow' (PIL's resize filters when downscaling)
MMPRETRAIN_PIL = Preprocess(
    resize=256,
    crop=224,
    interpolation="bilinear",
    image_library="pil",
    antialias=True,
    size_rounding="floor",
    crop_rounding="round",
    mean=MEAN_255,
    std=STD_255,
    scale=1.0,
)
#: imagenet_bs256_rsb_a12.py / _a3.py: ResizeEdge(236, backend='pillow', interpolation='bicubic'), crop 224
MMPRETRAIN_RSB = Preprocess(
    resize=236,
    crop=224,
    interpolation="bicubic",
    image_library="pil",
    antialias=True,
    size_rounding="floor",
    crop_rounding="round",
    mean=MEAN_255,
    std=STD_255,
    scale=1.0,
)

#: dataset config named in the CSV notes -> preset
PRESETS = {
    "imagenet_bs32.py": MMPRETRAIN_CV2,
    "imagenet_bs32_pil_resize.py": MMPRETRAIN_PIL,
    "imagenet_bs256_rsb_a12.py": MMPRETRAIN_RSB,
    "imagenet_bs256_rsb_a3.py": MMPRETRAIN_RSB,
}

_DATE_HASH = re.compile(r"_\d{8}-[0-9a-f]{8}\.pth$")


def _entries() -> tuple[Entry, ...]:
    entries = []
    for row in read_rows("mmpretrain.csv"):
        with located(row):
            name = row["model"]
            config = mmpretrain_config(name)
            arch, short, family = config.arch, config.short_name, config.family
            base = row["dataset_config"]
            preprocess = PRESETS[base]
            url = row["weights_url"]
            stem = _DATE_HASH.sub("", file_name_of(url))
            aliases = tuple(a for a in dict.fromkeys((short, stem)) if a and a != name)
            entries.append(
                Entry(
                    source=SOURCE,
                    name=name,
                    aliases=aliases,
                    arch=arch,
                    builder=name,
                    preprocess=preprocess,
                    weights=Weights(
                        url=url,
                        file_name=file_name_of(url),
                        format="mmpretrain-checkpoint",
                        checksum=parse_checksum(row["checksum_or_sha"]),
                    ),
                    published=(published(row, REFERENCE.format(family=family)), *extras_for(SOURCE, name)),
                    input_size=preprocess.crop,
                    notes="; ".join(filter(None, (row["caveat"], f"config configs/{family}/{name}.py, dataset {base}"))),
                )
            )
    return tuple(entries)


def _family_preprocess(row: Row) -> Preprocess:
    """The config's test pipeline: ResizeEdge (long side int()) + CenterCrop (offset round),
    EfficientNetCenterCrop, or a squash (mmcv's Resize to a square, the 384-pixel transformers);
    mean/std on 0-255 (ClsDataPreprocessor, to_rgb)."""
    library = row["image_library"]
    return Preprocess(
        resize=_resize_edge(row["resize"]),
        crop=int(row["crop"]),
        interpolation=row["interpolation"],  # type: ignore[arg-type]
        image_library=library,
        antialias=library == "pil",
        resize_mode=row["resize_mode"],  # type: ignore[arg-type]
        size_rounding="floor",
        crop_rounding="round",
        mean=triple(row["mean"], MEAN_255),
        std=triple(row["std"], STD_255),
        scale=1.0,
    )


def _resize_edge(cell: str) -> int:
    """The ``resize`` cell: the short side (``256``), or a square squash's side (``384x384``: the
    ``Resize(scale=384)`` of the 384-px configs, ``resize_mode`` 'squash')."""
    sides = {int(side) for side in cell.split("x")}
    if len(sides) != 1:
        raise ValueError(f"resize {cell!r} is not one side or a square")
    return sides.pop()


def _family_entries() -> tuple[Entry, ...]:
    entries = []
    for row in read_rows("families_mmpretrain.csv"):
        with located(row):
            name, family, url = row["model"], row["family"], row["weights_url"]
            preprocess = _family_preprocess(row)
            stem = file_name_of(url)
            notes = [f"configs/{family}/metafile.yml {name}"]
            if row["converted_from"]:
                notes.append(f"converted from {row['converted_from']}")
            if preprocess.resize_mode == "crop_first":
                notes.append(f"EfficientNetCenterCrop(crop_size={preprocess.crop}, crop_padding={preprocess.resize - preprocess.crop})")
            entries.append(
                Entry(
                    source=SOURCE,
                    name=name,
                    aliases=tuple(a for a in [_DATE_HASH.sub("", stem)] if _DATE_HASH.search(stem) and a != name),
                    arch=family_architecture(family, "mmpretrain", name),
                    builder=name,
                    preprocess=preprocess,
                    weights=Weights(
                        url=url, file_name=stem, format="mmpretrain-checkpoint", checksum=parse_checksum(row["checksum_or_sha"])
                    ),
                    published=(published(row, REFERENCE.format(family=family)), *extras_for(SOURCE, name)),
                    input_size=preprocess.crop,
                    discrepancies=discrepancies(row),
                    notes="; ".join(notes),
                    table_family=family,
                )
            )
    return tuple(entries)


ENTRIES: tuple[Entry, ...] = with_relations(_entries() + _family_entries())
