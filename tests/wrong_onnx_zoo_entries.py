"""Registry module of the test-only source ``wrong-onnx-zoo`` (``wrong_initializer_converter``):
the ONNX model zoo's resnet18-v2-7 (exported from MXNet Gluon's resnet18_v2) as data, at 64 px so that parity runs fast."""

from small_entries import small_entry

from zoocheck.zoo_registry import get_entry

ENTRIES = (small_entry(get_entry("onnx-zoo", "resnet18-v2-7"), "wrong-onnx-zoo"),)
