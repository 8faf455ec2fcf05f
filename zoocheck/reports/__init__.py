"""Reports render stored results (parity tables, comparison tables, failure logs); they never compute."""
