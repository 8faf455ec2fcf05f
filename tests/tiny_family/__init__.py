"""A test-only architecture family, ``tiny`` (tests/test_families.py): a 2-conv + batch norm + ReLU
+ global-average-pool + linear classifier declared with the public ``Family`` descriptor alone, and
two test-only sources of it whose torch networks name their parameters differently."""
