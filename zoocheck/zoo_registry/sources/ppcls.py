"""Entries of source ppcls (filled in by the registry work)."""
ENTRIES: tuple = ()
