"""Every source zoocheck converts from, declared once.

A ``Source`` names where its registry entries are declared, which converter serves it, which
frameworks that converter needs (and the pip extra installing them), how parity reports name its
runtime, and where reports place and colour it. The registry's source list and aliases, the
converter lookup, the CLI's help, the "install zoocheck[...]" messages and the report order are
all derived from these descriptors.

Adding a source is a registry module (``ENTRIES``), a converter module and one call::

    register_source(Source(name="my-zoo", registry="my_pkg.entries", converter="my_pkg.convert:MyConverter",
                           frameworks=(Framework("torch", extra="torch"),), runtime="torch"))

(``tests/test_new_source.py`` does exactly that and runs list, convert, parity and table on it.)
This module imports nothing of zoocheck but the records, so every layer may use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: when a converter needs a framework: for every model, only for seeded random weights (the
#: ONNX zoo's random files are exported from MXNet), or only for some of its models (the
#: converter's ``frameworks_needed`` decides which: GluonCV's v1/v2 models run in MXNet)
Need = Literal["always", "random-weights", "some-models"]


@dataclass(frozen=True)
class Framework:
    """A package a converter imports, the pip extra that installs it, and when it is needed."""

    module: str  # the import name: 'torch', 'paddle', 'mxnet', ...
    extra: str | None = None  # ``pip install zoocheck[<extra>]``; None: a core dependency
    needed: Need = "always"
    # 'module:function' that imports it when a plain import is not enough (a shim, a quiet import)
    importer: str | None = None

    @property
    def install(self) -> str:
        return f"pip install 'zoocheck[{self.extra}]'" if self.extra else "pip install zoocheck"

    def load(self):
        """Import the framework (through its importer where it has one); the module."""
        import importlib

        if self.importer:
            module_name, _, function = self.importer.partition(":")
            return getattr(importlib.import_module(module_name), function)()
        return importlib.import_module(self.module)


@dataclass(frozen=True)
class Source:
    name: str  # canonical, lower case: what --src takes and what records store
    registry: str  # module whose ENTRIES (registry entries) this source declares
    converter: str  # 'module:Class' of its Converter (imported on first use)
    frameworks: tuple[Framework, ...]
    runtime: str  # what the native forward runs in, as parity reports name it ('torch', 'paddle', ...)
    aliases: tuple[str, ...] = ()  # other spellings users and the zoos' pages use
    title: str = ""  # one line for --help: what the source is
    order: int = 100  # position in reports (lower first)
    colour: str = "#444444"  # its points in the HTML plot
    # 'module:function' building the source library's own evaluation transform for an entry
    # (``zoocheck preprocess`` compares zoocheck's spec-driven preprocessing with it); None: unknown
    library_transform: str | None = None
    # the format of the source's weights files (``Weights.format``), for entries listed without one
    weights_format: str = ""
    # (format, 'module:function') of each format zoocheck writes canonical weights in for this
    # source's converter to read back (``converters/weights/formats.py``; tests, compare
    # --random-weights); each writer lives with its framework's converter
    checkpoint_writers: tuple[tuple[str, str], ...] = ()

    @property
    def extras(self) -> tuple[str, ...]:
        """The pip extras that install every framework this source may need."""
        return tuple(dict.fromkeys(f.extra for f in self.frameworks if f.extra))

    def converter_path(self) -> tuple[str, str]:
        module, _, cls = self.converter.partition(":")
        if not module or not cls:
            raise ValueError(f"source {self.name!r}: converter must be 'module:Class', not {self.converter!r}")
        return module, cls


class UnknownSourceError(LookupError):
    pass


_SOURCES: dict[str, Source] = {}
_ALIASES: dict[str, str] = {}


def register_source(source: Source) -> Source:
    """Make ``source`` known to the registry, the converters, the CLI and the reports.

    A name or alias claimed twice raises (re-registering an equal descriptor is a no-op, so a
    module that registers on import may be imported again)."""
    if _SOURCES.get(source.name) == source:
        return source
    if source.name != source.name.strip().lower() or not source.name:
        raise ValueError(f"source name {source.name!r} must be lower case without spaces")
    for name in (source.name, *source.aliases):
        key = name.lower()
        owner = _ALIASES.get(key)
        if owner is not None and owner != source.name:
            raise ValueError(f"source name {name!r} is already used by source {owner!r}")
        if key in _SOURCES and key != source.name:
            raise ValueError(f"alias {name!r} of {source.name!r} is the name of source {key!r}")
    if source.name in _SOURCES:
        raise ValueError(f"source {source.name!r} is already registered with another descriptor")
    source.converter_path()
    _SOURCES[source.name] = source
    for name in (source.name, *source.aliases):
        _ALIASES[name.lower()] = source.name
    return source


def unregister_source(name: str) -> None:
    """Forget a source registered at run time (a test's, a plugin's); built-in ones stay."""
    source = get_source(name)
    if source.name in _BUILTIN_NAMES:
        raise ValueError(f"{source.name!r} is a built-in source")
    del _SOURCES[source.name]
    for alias in (source.name, *source.aliases):
        _ALIASES.pop(alias.lower(), None)


def all_sources() -> tuple[Source, ...]:
    """Every registered source in report order."""
    return tuple(sorted(_SOURCES.values(), key=lambda s: (s.order, s.name)))


def source_names() -> tuple[str, ...]:
    return tuple(s.name for s in all_sources())


def get_source(name: str) -> Source:
    """The source called ``name`` or one of its aliases (case-insensitive)."""
    key = _ALIASES.get(name.strip().lower())
    if key is None:
        raise UnknownSourceError(f"unknown source {name!r}; known sources: {', '.join(sorted(_SOURCES))}")
    return _SOURCES[key]


def registered_extra_sources() -> tuple[Source, ...]:
    """Sources registered beyond the built-in ones (a child process must register them again)."""
    return tuple(s for s in all_sources() if s.name not in _BUILTIN_NAMES)


# ---------------------------------------------------------------------------------------------
# the built-in sources

_TORCH = Framework("torch", extra="torch")
_TIMM = Framework("timm", extra="torch")
_MXNET = Framework("mxnet", extra="mxnet", importer="zoocheck.converters.mxnet_compat:import_mxnet")
_REG = "zoocheck.zoo_registry.sources."
_CONV = "zoocheck.converters."
_LIB = "zoocheck.checks.library_preprocess:"
_TORCH_WRITER = (("torch-state-dict", _CONV + "torch_common:write_torch_state_dict"),)
_GLUON_WRITER = (("gluon-params", _CONV + "gluon:write_gluon_params"),)

_BUILTIN = (
    Source("torchvision", _REG + "torchvision", _CONV + "torch_hub:TorchvisionConverter", (_TORCH, Framework("torchvision", extra="torch")),
           runtime="torch", aliases=("tv",), title="torchvision.models", order=0, colour="#e15759",
           library_transform=_LIB + "torchvision_transform", weights_format="torch-state-dict", checkpoint_writers=_TORCH_WRITER),
    Source("timm", _REG + "timm", _CONV + "torch_hub:TimmConverter", (_TORCH, _TIMM),
           runtime="torch", title="PyTorch Image Models", order=1, colour="#4e79a7", library_transform=_LIB + "timm_transform",
           weights_format="torch-state-dict", checkpoint_writers=_TORCH_WRITER),
    Source("mmpretrain", _REG + "mmpretrain", _CONV + "mmpretrain:MMPretrainConverter", (_TORCH,),
           runtime="torch", aliases=("mmcls", "mmclassification"), title="OpenMMLab mmpretrain (mmcls) checkpoints", order=2, colour="#59a14f",
           library_transform=_LIB + "mmpretrain_transform", weights_format="mmpretrain-checkpoint",
           checkpoint_writers=(("mmpretrain-checkpoint", _CONV + "mmpretrain:write_mmpretrain_checkpoint"),)),
    Source("ppcls", _REG + "ppcls", _CONV + "paddle:PaddleClasConverter",
           (Framework("paddle", extra="paddle", importer=_CONV + "paddle_export:import_paddle"), Framework("paddle2onnx", extra="paddle")),
           runtime="paddle", aliases=("paddleclas", "paddle"), title="PaddleClas", order=3, colour="#f28e2b",
           library_transform=_LIB + "paddleclas_transform", weights_format="paddle-pdparams",
           checkpoint_writers=(("paddle-pdparams", _CONV + "paddle:write_pdparams"), ("paddle-inference", _CONV + "paddle:write_paddle_inference"))),
    Source("gluon", _REG + "gluon", _CONV + "gluon:GluonConverter", (_MXNET,),
           runtime="mxnet", aliases=("mxnet", "mxnet-gluon-model-zoo"), title="MXNet Gluon model zoo", order=4, colour="#76b7b2",
           library_transform=_LIB + "mxnet_transform", weights_format="gluon-params", checkpoint_writers=_GLUON_WRITER),
    Source("gluoncv", _REG + "gluoncv", _CONV + "gluoncv:GluonCVConverter",
           (_TORCH, _TIMM, Framework("mxnet", extra="mxnet", needed="some-models", importer=_MXNET.importer)),
           runtime="torch", title="GluonCV (v1b/v1c/v1d/v1s/ResNeXt rebuilt in timm; v1/v2, MobileNetV2/V3, DenseNet, VGG in MXNet)", order=5, colour="#b07aa1",
           library_transform=_LIB + "mxnet_transform", weights_format="gluoncv-params",
           checkpoint_writers=(("gluoncv-params", _CONV + "gluoncv:write_gluoncv_params"), *_GLUON_WRITER)),
    Source("onnx-zoo", _REG + "onnx_zoo", _CONV + "onnx_zoo:OnnxZooConverter",
           (Framework("onnx"), Framework("onnxruntime"), Framework("mxnet", extra="mxnet", needed="random-weights", importer=_MXNET.importer),
            Framework("torch", extra="torch", needed="random-weights"), Framework("torchvision", extra="torch", needed="random-weights")),
           runtime="onnxruntime", aliases=("onnx", "onnx_zoo", "onnx-model-zoo"), title="ONNX model zoo files", order=6, colour="#9c755f",
           library_transform=_LIB + "mxnet_transform", weights_format="onnx", checkpoint_writers=(("onnx", _CONV + "onnx_zoo:write_onnx_zoo_file"),)),
)  # fmt: skip
_BUILTIN_NAMES = frozenset(s.name for s in _BUILTIN)
for _source in _BUILTIN:
    register_source(_source)


__all__ = [
    "Framework",
    "Need",
    "Source",
    "UnknownSourceError",
    "all_sources",
    "get_source",
    "register_source",
    "registered_extra_sources",
    "source_names",
    "unregister_source",
]
