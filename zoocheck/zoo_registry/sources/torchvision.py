"""torchvision: every ``*_Weights`` enum value of resnet / resnext / wide_resnet (data/torchvision.csv)
and of mobilenet_v2 / mobilenet_v3 / efficientnet / efficientnet_v2 / densenet / vgg
(data/families_torchvision.csv).

Entry name ``<builder>.<enum value>`` (``resnet50.IMAGENET1K_V2``). Aliases: the enum's own spelling
(``ResNet50_Weights.IMAGENET1K_V2``); the DEFAULT value also answers to ``<builder>.DEFAULT`` and
``ResNet50_Weights.DEFAULT``. The bare builder name (``resnet50``) names the weights
``resnet50(pretrained=True)`` loads, which is IMAGENET1K_V1 (torchvision's legacy interface, and what
every page written before the weights API, such as the vendor ResNeXt card, means by the name).
The preprocessing is the enum's ``transforms()`` as its row has it (efficientnet_b1 IMAGENET1K_V2
resizes to 255, efficientnet_v2_l is bicubic with mean/std 0.5). The int8 QNNPACK weights of
``torchvision.models.quantization`` are ``EXCLUDED`` with their reason. A ViT is built at its weights'
size (the SWAG end-to-end weights: 384, 512, 518; ``_families.at_input_size``).
"""

from __future__ import annotations

from zoocheck.zoo_registry.names import timm_style
from zoocheck.zoo_registry.sources._common import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Row,
    extras_for,
    file_name_of,
    flag,
    located,
    parse_checksum,
    published,
    read_rows,
    triple,
    with_relations,
)
from zoocheck.zoo_registry.sources._families import at_input_size, family_architecture
from zoocheck.zoo_registry.types import Architecture, Entry, Excluded, Preprocess, Weights

SOURCE = "torchvision"
REFERENCE = "torchvision 0.28.0 torchvision/models/resnet.py {enum} meta (acc@1/acc@5, _ops as GMACs)"
FAMILY_REFERENCE = "{defined_in} {enum} meta (acc@1/acc@5, _ops as GMACs)"

#: ImageClassification(crop_size=224, resize_size=256): PIL, antialias, short side floor, crop round
TORCHVISION_V1 = Preprocess(
    resize=256,
    crop=224,
    interpolation="bilinear",
    image_library="pil",
    antialias=True,
    size_rounding="floor",
    crop_rounding="round",
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
)


def _preprocess(row: Row) -> Preprocess:
    """``weights.transforms()``: ImageClassification(resize_size, crop_size, interpolation, mean, std)
    as the row has it, PIL with antialias, short side floor, crop offset round (TORCHVISION_V1 at
    256/224)."""
    return Preprocess(
        resize=int(row["resize"]),
        crop=int(row["crop"]),
        interpolation=row["interpolation"],  # type: ignore[arg-type]
        image_library="pil",
        antialias=True,
        size_rounding="floor",
        crop_rounding="round",
        mean=triple(row["mean"], IMAGENET_MEAN),
        std=triple(row["std"], IMAGENET_STD),
    )


def _entry(row: Row, arch: Architecture, reference: str) -> Entry:
    builder, value = row["model"], row["variant"]
    enum = row["weights_enum"]  # ResNet50_Weights.IMAGENET1K_V1
    is_default = flag(row["default_weights"])
    enum_class = enum.split(".")[0]
    preprocess = _preprocess(row)
    aliases = [enum]
    if value == "IMAGENET1K_V1":
        aliases.append(builder)
    if is_default:
        aliases += [f"{builder}.DEFAULT", f"{enum_class}.DEFAULT"]
    url = row["weights_url"]
    return Entry(
        source=SOURCE,
        name=f"{builder}.{value}",
        aliases=tuple(aliases),
        arch=arch,
        builder=builder,
        preprocess=preprocess,
        weights=Weights(url=url, file_name=file_name_of(url), format="torch-state-dict", checksum=parse_checksum(row["checksum_or_sha"])),
        published=(published(row, reference), *extras_for(SOURCE, f"{builder}.{value}")),
        input_size=preprocess.crop,
        notes=f"weights enum {enum}" + (" (DEFAULT)" if is_default else ""),
        table_family=row.get("family", ""),
    )


def _entries() -> tuple[Entry, ...]:
    entries = []
    for row in read_rows("torchvision.csv"):
        with located(row):
            entries.append(_entry(row, timm_style(row["model"], "torchvision"), REFERENCE.format(enum=row["weights_enum"])))
    for row in read_rows("families_torchvision.csv"):
        if row["excluded"]:
            continue
        with located(row):
            reference = FAMILY_REFERENCE.format(defined_in=row["defined_in"], enum=row["weights_enum"])
            arch = at_input_size(family_architecture(row["family"], SOURCE, row["model"]), int(row["crop"]))
            entries.append(_entry(row, arch, reference))
    return tuple(entries)


ENTRIES: tuple[Entry, ...] = with_relations(_entries())

EXCLUDED: tuple[Excluded, ...] = tuple(
    Excluded(source=SOURCE, model=f"{row['model']}.{row['variant']}", family=row["family"], reason=row["excluded"])
    for row in read_rows("families_torchvision.csv")
    if row["excluded"]
)
