"""Entries of source gluon (filled in by the registry work)."""
ENTRIES: tuple = ()
