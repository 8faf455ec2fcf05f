from tiny_family.entries import ENTRIES_SEQ as ENTRIES  # noqa: F401  (the tiny-seq source's registry module)
