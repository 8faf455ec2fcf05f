"""Read a pickled checkpoint without running any code from it.

``pickle.load`` calls whatever callable a file names, so a crafted checkpoint can run anything
(``paddle.load`` is a bare ``pickle.load``). :func:`load_state_pickle` admits only the few globals a
state dict of arrays needs (numpy's array and dtype reconstructors, containers, and Paddle's one
``eval('data', {'data': array})`` idiom, replaced by a function that does only that) and refuses
every other global before it is called.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from zoocheck.errors import BadInput


class UnsafePickleError(pickle.UnpicklingError, BadInput):
    """The pickle names a global outside the state-dict allow-list; nothing of it was called."""


def _paddle_tensor_eval(expression: str, namespace: dict) -> Any:
    """Stands in for ``eval`` where Paddle pickles a dense tensor as ``eval('data', {'data': array})``."""
    if expression != "data" or not isinstance(namespace, dict) or set(namespace) != {"data"}:
        raise UnsafePickleError("the file calls eval() on something other than Paddle's tensor idiom")
    return namespace["data"]


_ALLOWED: dict[tuple[str, str], Any] = {
    ("builtins", "dict"): dict,
    ("builtins", "list"): list,
    ("builtins", "tuple"): tuple,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "bytearray"): bytearray,
    ("builtins", "eval"): _paddle_tensor_eval,
    ("collections", "OrderedDict"): __import__("collections").OrderedDict,
    # protocol 2 writes bytes as _codecs.encode(text, 'latin1')
    ("_codecs", "encode"): __import__("codecs").encode,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}
# numpy 1.x pickles name numpy.core, numpy 2.x numpy._core; both resolve to this numpy's functions.
for _package in ("numpy.core", "numpy._core"):
    _ALLOWED[(f"{_package}.multiarray", "_reconstruct")] = np.core.multiarray._reconstruct
    _ALLOWED[(f"{_package}.multiarray", "scalar")] = np.core.multiarray.scalar
    _ALLOWED[(f"{_package}.numeric", "_frombuffer")] = np.core.numeric._frombuffer


class _StateDictUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(f"it names {module}.{name}, which a state dict of arrays never holds") from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("it refers to persistent objects, which a state dict of arrays never holds")


def _check_arrays(obj: Any) -> None:
    """Object arrays could smuggle arbitrary objects through numpy; a checkpoint has numbers only."""
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise UnsafePickleError("it holds an array of Python objects, not of numbers")
    elif isinstance(obj, dict):
        for value in obj.values():
            _check_arrays(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            _check_arrays(value)


def load_state_pickle(path: str | Path) -> Any:
    """Unpickle ``path`` admitting only arrays, dtypes, containers, scalars and strings.

    Raises UnsafePickleError (nothing of the file has run) for any other global, and
    pickle.UnpicklingError / EOFError / ValueError for a file that is not a pickle at all."""
    with open(path, "rb") as fh:
        obj = _StateDictUnpickler(fh, encoding="latin1").load()
    _check_arrays(obj)
    return obj


__all__ = ["UnsafePickleError", "load_state_pickle"]
