"""Entries of source timm (filled in by the registry work)."""
ENTRIES: tuple = ()
