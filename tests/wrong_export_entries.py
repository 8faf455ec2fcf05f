"""Registry module of the test-only source ``wrong-export``: torchvision's resnet18 as data, once
as a model whose export is right and once as one whose export is wrong in one layer
(``wrong_export_converter``), at 64 px so that parity runs fast."""

import dataclasses

from zoocheck.zoo_registry import get_entry

_RESNET18 = get_entry("torchvision", "resnet18.IMAGENET1K_V1")

ENTRIES = tuple(
    dataclasses.replace(
        _RESNET18,
        source="wrong-export",
        name=name,
        aliases=(),
        weights=None,
        published=(),
        same_weights_as=(),
        input_size=64,
        preprocess=dataclasses.replace(_RESNET18.preprocess, resize=73, crop=64),
    )
    for name in ("resnet18-right", "resnet18-wrong-layer2.1.conv1")
)
