"""Registry module of the test-only source ``wrong-gluon`` (``wrong_initializer_converter``):
MXNet Gluon's resnet18_v2 (pre-activation) as data, at 64 px so that parity runs fast."""

import dataclasses

from zoocheck.zoo_registry import get_entry

_V2 = get_entry("gluon", "resnet18_v2")

ENTRIES = (
    dataclasses.replace(
        _V2,
        source="wrong-gluon",
        aliases=(),
        weights=None,
        published=(),
        same_weights_as=(),
        input_size=64,
        preprocess=dataclasses.replace(_V2.preprocess, resize=73, crop=64),
    ),
)
