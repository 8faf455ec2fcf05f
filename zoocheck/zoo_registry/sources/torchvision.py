"""torchvision: every ``*_Weights`` enum value of resnet / resnext / wide_resnet (data/torchvision.csv).

Entry name ``<builder>.<enum value>`` (``resnet50.IMAGENET1K_V2``). Aliases: the enum's own spelling
(``ResNet50_Weights.IMAGENET1K_V2``); the DEFAULT value also answers to ``<builder>.DEFAULT`` and
``ResNet50_Weights.DEFAULT``. The bare builder name (``resnet50``) names the weights
``resnet50(pretrained=True)`` loads, which is IMAGENET1K_V1 (torchvision's legacy interface, and what
every page written before the weights API, such as the vendor ResNeXt card, means by the name).
"""

from __future__ import annotations

from zoocheck.zoo_registry.sources._common import (
    located,
    IMAGENET_MEAN,
    IMAGENET_STD,
    extras_for,
    file_name_of,
    flag,
    parse_checksum,
    published,
    read_rows,
    with_relations,
)
from zoocheck.zoo_registry.names import timm_style
from zoocheck.zoo_registry.types import Entry, Preprocess, Weights

SOURCE = "torchvision"
REFERENCE = "torchvision 0.28.0 torchvision/models/resnet.py {enum} meta (acc@1/acc@5, _ops as GMACs)"

#: ImageClassification(crop_size=224, resize_size=256): PIL, antialias, short side floor, crop round
TORCHVISION_V1 = Preprocess(
    resize=256, crop=224, interpolation="bilinear", image_library="pil", antialias=True,
    size_rounding="floor", crop_rounding="round", mean=IMAGENET_MEAN, std=IMAGENET_STD,
)  # fmt: skip
#: the new-recipe weights (IMAGENET1K_V2): resize_size=232
TORCHVISION_V2 = Preprocess(
    resize=232, crop=224, interpolation="bilinear", image_library="pil", antialias=True,
    size_rounding="floor", crop_rounding="round", mean=IMAGENET_MEAN, std=IMAGENET_STD,
)  # fmt: skip

PRESETS = {256: TORCHVISION_V1, 232: TORCHVISION_V2}


def _entries() -> tuple[Entry, ...]:
    entries = []
    for row in read_rows("torchvision.csv"):
        with located(row):
            builder, value = row["model"], row["variant"]
            enum = row["weights_enum"]  # ResNet50_Weights.IMAGENET1K_V1
            is_default = flag(row["default_weights"])
            enum_class = enum.split(".")[0]
            preprocess = PRESETS[int(row["resize"])]
            aliases = [enum]
            if value == "IMAGENET1K_V1":
                aliases.append(builder)
            if is_default:
                aliases += [f"{builder}.DEFAULT", f"{enum_class}.DEFAULT"]
            url = row["weights_url"]
            entries.append(
                Entry(
                    source=SOURCE,
                    name=f"{builder}.{value}",
                    aliases=tuple(aliases),
                    arch=timm_style(builder, "torchvision"),
                    builder=builder,
                    preprocess=preprocess,
                    weights=Weights(url=url, file_name=file_name_of(url), format="torch-state-dict",
                                    checksum=parse_checksum(row["checksum_or_sha"])),  # fmt: skip
                    published=(published(row, REFERENCE.format(enum=enum)), *extras_for(SOURCE, f"{builder}.{value}")),
                    input_size=preprocess.crop,
                    notes=f"weights enum {enum}" + (" (DEFAULT)" if is_default else ""),
                )
            )
    return tuple(entries)


ENTRIES: tuple[Entry, ...] = with_relations(_entries())
