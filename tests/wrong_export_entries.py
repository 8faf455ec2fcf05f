"""Registry module of the test-only source ``wrong-export``: torchvision's resnet18 as data, once
as a model whose export is right and once as one whose export is wrong in one layer
(``wrong_export_converter``), at 64 px so that parity runs fast."""

from small_entries import small_entry

from zoocheck.zoo_registry import get_entry

_RESNET18 = get_entry("torchvision", "resnet18.IMAGENET1K_V1")

ENTRIES = tuple(small_entry(_RESNET18, "wrong-export", name) for name in ("resnet18-right", "resnet18-wrong-layer2.1.conv1"))
