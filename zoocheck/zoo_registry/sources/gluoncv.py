"""Entries of source gluoncv (filled in by the registry work)."""
ENTRIES: tuple = ()
