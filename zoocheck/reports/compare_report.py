"""Terminal rendering of a comparison of two zoos' versions of one architecture
(``templates/compare.txt``), verdict first. Renders only; computes nothing."""

from __future__ import annotations

from functools import cache

from zoocheck.records import Comparison
from zoocheck.reports.lines import divergence_line

#: differing tensors named in the terminal lines
TENSORS_SHOWN = 3


@cache
def _template():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("zoocheck.reports", "templates"),
        autoescape=False,  # terminal text
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(fmt=format, divergence_line=divergence_line)
    return env.get_template("compare.txt")


def compare_lines(comparison: Comparison) -> list[str]:
    """The terminal report of a comparison, one string per line."""
    return _template().render(comparison=comparison, tensors_shown=TENSORS_SHOWN).splitlines()


__all__ = ["TENSORS_SHOWN", "compare_lines"]
