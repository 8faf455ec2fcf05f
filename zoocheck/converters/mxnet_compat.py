"""Importing MXNet 1.9.1, the last release, on today's numpy (STACK.md)."""

from __future__ import annotations

from zoocheck.converters.base import FrameworkUnavailable, framework_unavailable


def import_mxnet():
    """``import mxnet``, with the ``numpy.bool`` alias it still uses restored (removed in numpy 1.24).

    numpy 2 breaks mxnet beyond repair: say so instead of failing deep inside mxnet.
    """
    import numpy

    if int(numpy.__version__.split(".")[0]) >= 2:
        raise FrameworkUnavailable(f"mxnet 1.9.1 needs numpy<2 (found {numpy.__version__}): pip install 'zoocheck[mxnet]'")
    if "bool" not in vars(numpy):  # hasattr would trigger numpy's FutureWarning for the old alias
        numpy.bool = bool  # mxnet 1.9.1 still spells numpy's bool dtype numpy.bool
    try:
        import mxnet
    except (ImportError, OSError) as exc:
        raise framework_unavailable("mxnet", exc, "mxnet") from exc
    return mxnet
