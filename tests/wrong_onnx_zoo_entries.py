"""Registry module of the test-only source ``wrong-onnx-zoo`` (``wrong_initializer_converter``):
the ONNX model zoo's resnet18-v2-7 (exported from MXNet Gluon's resnet18_v2) as data, at 64 px so that parity runs fast."""

import dataclasses

from zoocheck.zoo_registry import get_entry

_V2 = get_entry("onnx-zoo", "resnet18-v2-7")

ENTRIES = (
    dataclasses.replace(
        _V2,
        source="wrong-onnx-zoo",
        aliases=(),
        weights=None,
        published=(),
        same_weights_as=(),
        input_size=64,
        preprocess=dataclasses.replace(_V2.preprocess, resize=73, crop=64),
    ),
)
