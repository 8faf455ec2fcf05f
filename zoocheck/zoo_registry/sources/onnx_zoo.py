"""Entries of source onnx_zoo (filled in by the registry work)."""
ENTRIES: tuple = ()
