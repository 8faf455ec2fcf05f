"""Entries of source mmpretrain (filled in by the registry work)."""
ENTRIES: tuple = ()
