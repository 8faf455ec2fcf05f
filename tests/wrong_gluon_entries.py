"""Registry module of the test-only source ``wrong-gluon`` (``wrong_initializer_converter``):
MXNet Gluon's resnet18_v2 (pre-activation) as data, at 64 px so that parity runs fast."""

from small_entries import small_entry

from zoocheck.zoo_registry import get_entry

ENTRIES = (small_entry(get_entry("gluon", "resnet18_v2"), "wrong-gluon"),)
