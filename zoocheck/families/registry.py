"""Every architecture family zoocheck knows, declared once (as ``zoocheck/sources.py`` declares
sources).

A ``Family`` names its spec type (the frozen dataclass an ``Architecture.structure`` holds, with a
class attribute ``family`` and an ``id`` property), its names module (one parser per naming
scheme, a function named after the scheme: a zoo's model name -> spec), and, where zoocheck has them, its canonical parameters (names and shapes), its
canonical graph (the template), its calibrated random weights with the numpy reference forward
they are calibrated by, the map from canonical graph tensors to the canonical modules computing
them, and each framework's weight layout. Parts are ``'module:attr'`` strings imported on first
use, so importing a spec (or this module) imports no graph, numpy or framework code. The
registry's parsers, the converters, the canonical graph, ``compare`` and the reports ask
``family_of(arch)``.

Adding a family is its own modules and one call::

    register_family(Family(name="tiny", spec="my_pkg.spec:TinySpec", names="my_pkg.names",
                           template="my_pkg.template:build_template", random_weights="my_pkg.random:draw", ...))

(``tests/test_families.py`` does exactly that with ``tests/tiny_family/`` and runs it end to end.)
The built-in families are registered at the end of this module.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, replace
from typing import Any, Protocol


class FamilySpec(Protocol):
    """What every family's spec type has: which family, and the family-agnostic architecture id
    (two entries share it exactly when they compute the same function from the same weights)."""

    family: str

    @property
    def id(self) -> str: ...


def _resolve(path: str) -> Any:
    module, _, attr = path.partition(":")
    if not module or not attr:
        raise ValueError(f"a family's part is 'module:attr', not {path!r}")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class Family:
    name: str  # what its spec type's ``family`` says: 'resnet', 'mobilenet_v3', ...
    spec: str  # 'module:Class' of its spec type
    # the module holding one parser per naming scheme, named after it ('timm', 'torchvision',
    # 'mmpretrain', 'paddleclas', ...): a zoo's model name -> spec; ValueError for a name the
    # scheme's parser does not read
    names: str | None = None
    # 'module:function' (arch) -> {canonical parameter name: shape}, in network order
    parameters: str | None = None
    # 'module:function' (spec, num_classes, *, opset, graph_name) -> the canonical ONNX ModelProto,
    # initializers declared without data (``converters/graph/template.py`` has the builder); None:
    # native graphs only
    template: str | None = None
    # whether the template also takes ``input_size=`` (the side of the square input, None where
    # unknown): a graph whose structure depends on it (TF "same" padding as explicit pads)
    sized_template: bool = False
    # 'module:function' (arch, seed, input_size) -> calibrated random canonical weights (float32)
    random_weights: str | None = None
    # 'module:function' (arch, params, x, *, dtype=np.float64) -> logits: the numpy reference
    # forward of canonical weights
    forward: str | None = None
    # 'module:function' (arch) -> {canonical graph tensor: canonical module whose output it is}, in
    # network order (a framework's per-layer outputs found in the canonical graph)
    layer_outputs: str | None = None
    # 'module:function' (arch, framework) -> {canonical module of a ``layer_outputs`` tap: the
    # framework's module whose output it is}, for the taps no parameter of their canonical module
    # names there (a module of no parameters, one the network never calls); the others are named by
    # renaming one of their module's parameters through the layout
    tap_modules: str | None = None
    # 'module:function' (arch, framework) -> the ``layer_outputs`` taps (canonical graph tensors)
    # whose module in ``framework``'s network hands its output channels first [N, C, H, W] where
    # the canonical tensor is channels last [N, H, W, C]; the hooks move the channels last
    channels_first_taps: str | None = None
    # (framework layout, 'module:function' (params, arch, naming) -> params under that framework's
    # names); a layout not listed is the canonical names themselves
    layouts: tuple[tuple[str, str], ...] = ()
    # (source, 'module:function' (arch) -> the network that source's converter runs for ``arch``,
    # its parameters under the source's own names), for each source whose converter builds this
    # family's networks itself (the torchvision/timm sources build theirs in the library)
    networks: tuple[tuple[str, str], ...] = ()

    def spec_type(self) -> type:
        return _resolve(self.spec)

    def part(self, name: str) -> Any:
        """The callable behind the field ``name`` (``template``, ``random_weights``, ...); ValueError
        where the family has none."""
        path = getattr(self, name)
        if path is None:
            raise ValueError(f"the {self.name} family has no {name.replace('_', ' ')}")
        return _resolve(path)

    def parse(self, scheme: str, name: str) -> FamilySpec:
        """The spec ``name`` denotes under naming ``scheme``; ValueError where it denotes none."""
        parser = getattr(importlib.import_module(self.names), scheme, None) if self.names else None
        if parser is None:
            raise ValueError(f"the {self.name} family has no parser for {scheme!r} names")
        return parser(name)

    def layout(self, framework: str):
        """``(params, arch, naming) -> params`` under ``framework``'s names (the canonical names
        themselves where the family lists no layout for it)."""
        layouts = dict(self.layouts)
        return _resolve(layouts[framework]) if framework in layouts else _canonical_names

    def builds_network(self, source: str) -> bool:
        return source in dict(self.networks)

    def network(self, source: str):
        """``(arch) -> network``: the network ``source``'s converter runs for this family;
        ValueError where the family lists none for it."""
        networks = dict(self.networks)
        if source not in networks:
            raise ValueError(f"the {self.name} family has no network for source {source!r}")
        return _resolve(networks[source])

    @property
    def has_canonical_form(self) -> bool:
        return self.template is not None


def _canonical_names(params: dict, arch, naming: str = "") -> dict:
    return params


class UnknownFamilyError(LookupError):
    pass


_FAMILIES: dict[str, Family] = {}


def register_family(family: Family) -> Family:
    """Make ``family`` known to the registry's parsers, the converters, the graph and the reports.
    A name claimed twice raises (an equal descriptor again is a no-op)."""
    if _FAMILIES.get(family.name) == family:
        return family
    if family.name in _FAMILIES:
        raise ValueError(f"family {family.name!r} is already registered with another descriptor")
    for path in (family.spec, *(p for _, p in family.layouts), *(p for _, p in family.networks)):
        if ":" not in path:
            raise ValueError(f"family {family.name!r}: a part is 'module:attr', not {path!r}")
    _FAMILIES[family.name] = family
    return family


def unregister_family(name: str) -> None:
    """Forget a family registered at run time (a test's, a plugin's); built-in ones stay."""
    if name in _BUILTIN_NAMES:
        raise ValueError(f"{name!r} is a built-in family")
    _FAMILIES.pop(name, None)


def all_families() -> tuple[Family, ...]:
    return tuple(_FAMILIES.values())


def get_family(name: str) -> Family:
    if name not in _FAMILIES:
        raise UnknownFamilyError(f"unknown architecture family {name!r}; known: {', '.join(_FAMILIES)}")
    return _FAMILIES[name]


def family_of(arch) -> Family | None:
    """The family of an ``Architecture`` (or of a spec); None for a network only a library
    defines (``LibraryNetwork``) or of a family not registered."""
    structure = getattr(arch, "structure", arch)
    return _FAMILIES.get(structure.family)


def registered_extra_families() -> tuple[Family, ...]:
    """Families registered beyond the built-in ones (a child process must register them again)."""
    return tuple(f for f in _FAMILIES.values() if f.name not in _BUILTIN_NAMES)


# ---------------------------------------------------------------------------------------------
# the built-in families

_F = "zoocheck.families."
_RESNET = _F + "resnet."


def _spec_and_names(name: str, spec_class: str, networks: tuple[tuple[str, str], ...] = ()) -> Family:
    """A family of which zoocheck knows the structure and the names (its spec and parsers) and the
    networks some sources' converters build (source, 'module:function' inside the family's package)."""
    return Family(
        name,
        f"{_F}{name}.spec:{spec_class}",
        f"{_F}{name}.names",
        networks=tuple((source, f"{_F}{name}.{path}") for source, path in networks),
    )


def _with_canonical_form(
    family: Family,
    layer_outputs: str,
    frameworks: tuple[str, ...],
    *,
    sized_template: bool = False,
    tap_modules: bool = False,
    channels_first_taps: bool = False,
) -> Family:
    """``family`` with its canonical form, from its package: ``canonical.py`` (``parameter_shapes``,
    ``forward``, ``layer_outputs``), ``template.py`` (``build_template``, taking ``input_size=``
    where ``sized_template``), ``random.py`` (``draw``) and ``layouts.py`` (``to_<framework>`` for
    each of ``frameworks``, and ``tap_modules`` / ``channels_first_taps`` where asked)."""
    package = f"{_F}{family.name}."
    return replace(
        family,
        parameters=package + "canonical:parameter_shapes",
        template=package + "template:build_template",
        sized_template=sized_template,
        random_weights=package + "random:draw",
        forward=package + "canonical:forward",
        layer_outputs=f"{package}canonical:{layer_outputs}",
        layouts=tuple((framework, f"{package}layouts:to_{framework}") for framework in frameworks),
        tap_modules=f"{package}layouts:tap_modules" if tap_modules else None,
        channels_first_taps=f"{package}layouts:channels_first_taps" if channels_first_taps else None,
    )


#: PaddleClas's, mmpretrain's and GluonCV's networks of a family: ``families/<family>/paddle.py``,
#: ``mmpretrain.py``, ``gluoncv.py``
_PPCLS = ("ppcls", "paddle:build_network")
_MMPRETRAIN = ("mmpretrain", "mmpretrain:build_classifier")
_GLUONCV = ("gluoncv", "gluoncv:network")

_BUILTIN = (
    Family("resnet", _RESNET + "spec:ResNetSpec", _RESNET + "names",
           parameters=_RESNET + "canonical:parameter_shapes", template=_RESNET + "template:build_template",
           random_weights=_RESNET + "random:draw", forward=_RESNET + "canonical:forward", layer_outputs=_RESNET + "canonical:layer_outputs",
           layouts=tuple((framework, f"{_RESNET}layouts:to_{framework}") for framework in ("mmpretrain", "paddle", "gluoncv", "gluon"))),
    _with_canonical_form(_spec_and_names("mobilenet_v2", "MobileNetV2Spec", (_GLUONCV, _PPCLS, _MMPRETRAIN)), "layer_outputs", ("torchvision", "timm", "gluoncv")),
    _with_canonical_form(_spec_and_names("mobilenet_v3", "MobileNetV3Spec", (_GLUONCV, _PPCLS, _MMPRETRAIN)), "layer_outputs", ("torchvision", "timm")),
    _with_canonical_form(_spec_and_names("efficientnet", "EfficientNetSpec", (_PPCLS, _MMPRETRAIN)), "layer_outputs", ("torchvision", "timm", "efficientnet_pytorch"), sized_template=True),
    _with_canonical_form(_spec_and_names("efficientnet_v2", "EfficientNetV2Spec", (_MMPRETRAIN,)), "layer_outputs", ("torchvision", "timm", "mmpretrain"), sized_template=True),
    _with_canonical_form(_spec_and_names("densenet", "DenseNetSpec", (_GLUONCV, _PPCLS, _MMPRETRAIN)), "layer_outputs", ("torchvision", "timm")),
    _with_canonical_form(_spec_and_names("vgg", "VGGSpec", (_GLUONCV, _PPCLS, _MMPRETRAIN)), "conv_outputs", ("torchvision", "timm", "gluoncv")),
    _with_canonical_form(_spec_and_names("vit", "ViTSpec", (_PPCLS, _MMPRETRAIN)), "layer_outputs", ("torchvision", "timm", "mmpretrain", "paddle"), tap_modules=True),
    _with_canonical_form(_spec_and_names("swin", "SwinSpec", (_PPCLS, _MMPRETRAIN)), "layer_outputs", ("torchvision", "timm", "mmpretrain", "paddle"), tap_modules=True),
    _with_canonical_form(_spec_and_names("convnext", "ConvNeXtSpec", (_PPCLS, _MMPRETRAIN)), "layer_outputs", ("torchvision", "timm", "mmpretrain", "paddle"), channels_first_taps=True),
    _with_canonical_form(_spec_and_names("convnext_v2", "ConvNeXtV2Spec", (_MMPRETRAIN,)), "layer_outputs", ("timm", "mmpretrain"), channels_first_taps=True),
)  # fmt: skip
_BUILTIN_NAMES = frozenset(f.name for f in _BUILTIN)
for _family in _BUILTIN:
    register_family(_family)


__all__ = [
    "Family",
    "FamilySpec",
    "UnknownFamilyError",
    "all_families",
    "family_of",
    "get_family",
    "register_family",
    "registered_extra_families",
    "unregister_family",
]
