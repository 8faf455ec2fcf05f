"""Converters, one module per framework, looked up by source name and imported lazily.

Importing this package imports no framework: ``zoocheck list`` stays instant and a broken framework
only disables the sources it serves.
"""

from __future__ import annotations

import importlib

from zoocheck.converters.base import Converter, FrameworkUnavailable, NativeModel, WeightsError

# source -> (module, class). The module is imported on first use.
_CONVERTERS: dict[str, tuple[str, str]] = {
    "torchvision": ("zoocheck.converters.torch_hub", "TorchvisionConverter"),
    "timm": ("zoocheck.converters.torch_hub", "TimmConverter"),
    "mmpretrain": ("zoocheck.converters.mmpretrain", "MMPretrainConverter"),
    "ppcls": ("zoocheck.converters.paddle", "PaddleClasConverter"),
    "gluon": ("zoocheck.converters.gluon", "GluonConverter"),
    "gluoncv": ("zoocheck.converters.gluoncv", "GluonCVConverter"),
    "onnx-zoo": ("zoocheck.converters.onnx_zoo", "OnnxZooConverter"),
}


def converter_for(source: str) -> Converter:
    """The converter serving ``source``; FrameworkUnavailable if its module cannot be imported."""
    try:
        module_name, class_name = _CONVERTERS[source]
    except KeyError:
        raise ValueError(f"no converter for source {source!r}; known: {', '.join(sorted(_CONVERTERS))}") from None
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # the converter module itself imports no framework at import time
        raise FrameworkUnavailable(f"converter for {source!r} cannot be imported: {exc}") from exc
    return getattr(module, class_name)()


__all__ = ["Converter", "FrameworkUnavailable", "NativeModel", "WeightsError", "converter_for"]
