from tiny_family.entries import ENTRIES_TORCH as ENTRIES  # noqa: F401  (the tiny-torch source's registry module)
