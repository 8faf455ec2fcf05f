"""Entries of source torchvision (filled in by the registry work)."""
ENTRIES: tuple = ()
