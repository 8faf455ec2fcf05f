"""A test-only converter that crashes for real inside the converter child process.

The pipeline runs converters in a *spawned* child, which imports zoocheck afresh, so patching
``zoocheck.converters._CONVERTERS`` in the test process alone would not reach it. ``Register``
is put into the Entry the child receives: unpickling it there registers this module's converter
under source ``crash-test`` in the child too (and ``register()`` does it in the test process).
"""

from __future__ import annotations

import ctypes
import os
import signal

from zoocheck.converters.base import Converter

SOURCE = "crash-test"


def register() -> str:
    from zoocheck import converters

    converters._CONVERTERS[SOURCE] = (__name__, "CrashConverter")
    return SOURCE


class Register:
    """Pickles as a call to ``register()``: whoever unpickles it gets the converter registered."""

    def __reduce__(self):
        return (register, ())


class CrashConverter(Converter):
    sources = (SOURCE,)
    extra = "test"

    def check_available(self) -> None:
        pass

    def load(self, entry, weights, *, random_seed=None):
        if entry.builder == "abort":
            os.abort()  # SIGABRT, as a failed C++ assertion inside a framework does
        if entry.builder == "segfault":
            ctypes.string_at(0)  # a real SIGSEGV: reads address 0
        if entry.builder == "kill":
            os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's OOM killer does
        raise RuntimeError(f"unknown crash {entry.builder!r}")
