"""A test-only converter that crashes, hangs, balloons or hoards memory for a moment for real inside the process that runs it,
or works (builder ``linear``: a numpy model whose ONNX export is a few operators), with no
framework to import.

It is the test-only source ``crash-test``, registered through the public descriptor alone (the
``registered_source`` fixture, or ``register_source(SOURCE)``): the pipeline and a sweep's workers
hand the descriptors registered beyond the built-in ones to every child they start, so the child
finds this converter too. This module is the source's registry module (no entries: the tests build
their own) and its converter module.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
from pathlib import Path

import numpy as np

from zoocheck.converters.base import Converter, NativeModel
from zoocheck.sources import Source

ENTRIES = ()
HOARD_BYTES = 256 * 2**20
SOURCE = Source(name="crash-test", registry=__name__, converter=f"{__name__}:CrashConverter", frameworks=(), runtime="test")


class CrashConverter(Converter):
    def load(self, entry, weights, *, random_seed=None):
        if entry.builder == "abort":
            os.abort()  # SIGABRT, as a failed C++ assertion inside a framework does
        if entry.builder == "segfault":
            ctypes.string_at(0)  # a real SIGSEGV: reads address 0
        if entry.builder == "kill":
            os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's OOM killer does
        if entry.builder == "hang":
            time.sleep(3600)
        if entry.builder == "balloon":  # touches 64 MiB a step until someone kills it
            hoard = []
            while True:
                hoard.append(np.ones(1 << 23))
                time.sleep(0.01)
        if entry.builder == "hoard":  # touches 256 MiB, lets it go, then loads like linear
            hoard = np.ones(HOARD_BYTES // 8)
            del hoard
            return LinearModel(random_seed or 0)
        if entry.builder == "linear":
            return LinearModel(random_seed or 0)
        if entry.builder == "off":  # exports weights 10% off: a conversion that changes the function
            return LinearModel(random_seed or 0, export_scale=1.1)
        if entry.builder == "export-abort":  # loads, then the exporter dies (a C++ abort inside it)
            return LinearModel(random_seed or 0, export_abort=True)
        raise RuntimeError(f"unknown crash {entry.builder!r}")


class LinearModel(NativeModel):
    """Logits = channel means @ W: enough of a classifier for the pipeline, parity and a sweep."""

    versions = {"test": "1"}

    def __init__(self, seed: int, export_scale: float = 1.0, export_abort: bool = False):
        self.weight = np.random.default_rng(seed).standard_normal((3, 1000)).astype(np.float32)
        self.export_scale, self.export_abort = export_scale, export_abort

    def forward(self, batch: np.ndarray) -> np.ndarray:
        return batch.mean(axis=(2, 3)) @ self.weight

    def export_onnx(self, path: Path, opset: int) -> None:
        if self.export_abort:
            os.abort()
        import onnx
        from onnx import TensorProto, helper, numpy_helper

        graph = helper.make_graph(
            [
                helper.make_node("ReduceMean", ["input"], ["pooled"], axes=[2, 3], keepdims=0),
                helper.make_node("MatMul", ["pooled", "weight"], ["logits"]),
            ],
            "linear",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, None, None])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000])],
            [numpy_helper.from_array(self.weight * np.float32(self.export_scale), "weight")],
        )
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", min(opset, 17))]), str(path))
