"""What the per-source tables of the new families share (data/families_<source>.csv, one row per
published weights of MobileNetV2/V3, EfficientNet, EfficientNetV2, DenseNet, VGG, ConvNeXt and
ConvNeXt-V2): the
architecture, from the family's own name parser (``zoocheck/families/<family>/names.py``). A row
that cannot be an entry has its reason in the ``excluded`` column and becomes an ``Excluded``.
"""

from __future__ import annotations

import dataclasses

from zoocheck.families.registry import get_family
from zoocheck.zoo_registry.sources._common import Row, read_rows
from zoocheck.zoo_registry.types import Architecture, Excluded

FAMILIES = ("mobilenet_v2", "mobilenet_v3", "efficientnet", "efficientnet_v2", "densenet", "vgg", "vit", "swin", "convnext", "convnext_v2")

#: the tables' families that are a spec field of another family: DeiT (the distillation token) and
#: DeiT-III (layer scale) are ViTs, Swin V2 is a Swin (``SwinSpec.v2``)
TABLE_FAMILIES = {"deit": "vit", "deit3": "vit", "swin_v2": "swin"}


def family_architecture(family: str, scheme: str, name: str) -> Architecture:
    """The architecture ``name`` denotes in ``family`` (a table's family column) under the naming
    ``scheme`` (the parser of that name in the family's names.py: 'torchvision', 'timm', ...);
    ValueError for a name the parser does not read."""
    family = TABLE_FAMILIES.get(family, family)
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r} (known: {', '.join(FAMILIES)})")
    return Architecture(get_family(family).parse(scheme, name))


def at_input_size(arch: Architecture, size: int) -> Architecture:
    """``arch`` built for a ``size``-pixel input where its parameters depend on it (a ViT's position
    embedding: the spec's ``image_size``), as torchvision builds its ViTs at their weights' size
    (``vit_b_16(image_size=384)``); any other architecture as it is."""
    structure = arch.structure
    if getattr(structure, "image_size", size) == size:
        return arch
    return dataclasses.replace(arch, structure=dataclasses.replace(structure, image_size=size))


def discrepancies(row: Row) -> tuple[str, ...]:
    """The row's ``discrepancies`` column: the DISCREPANCY notes of the shared table, ' | '-separated."""
    return tuple(text.strip() for text in row["discrepancies"].split(" | ") if text.strip())


def excluded(source: str, file_name: str) -> tuple[Excluded, ...]:
    """The rows of ``file_name`` with a reason in their ``excluded`` column, as ``Excluded``."""
    return tuple(
        Excluded(source=source, model=row["model"], family=row["family"], reason=row["excluded"])
        for row in read_rows(file_name)
        if row["excluded"]
    )
