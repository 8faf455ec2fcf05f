"""Bad input, in zoocheck's own words: one line naming what is wrong, the file, and the fix.

The library raises ``BadInput``; the CLI prints its message as one line and exits 2. Framework
text (what torch, Paddle or MXNet said) never goes into that line: it stays in the failure log and
is shown with --verbose.
"""

from __future__ import annotations


class BadInput(ValueError):
    """Input that zoocheck refuses before doing any work (exit 2)."""


__all__ = ["BadInput"]
