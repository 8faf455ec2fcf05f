"""Registry module of the test-only source ``tiny-zoo``: its entries, as data (see test_new_source.py)."""

from zoocheck.zoo_registry.types import Architecture, Entry, LibraryNetwork, Preprocess, Published

PREPROCESS = Preprocess(resize=64, crop=56)

ENTRIES = (
    Entry(
        source="tiny-zoo",
        name="tiny-linear",
        aliases=("TinyLinear",),
        arch=Architecture(LibraryNetwork("tiny-zoo", "tiny_linear")),
        builder="linear",
        preprocess=PREPROCESS,
        input_size=56,
        published=(Published(top1=1.5, top5=4.5, reference="https://tiny-zoo.example/tiny-linear"),),
    ),
)
