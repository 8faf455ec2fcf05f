"""A family's canonical weights under a framework's own parameter names, and where a framework's
network computes each tensor of the canonical graph. The renames themselves are the family's
(``Family.layouts``: the ResNet family's in ``families/resnet/layouts.py``); a framework the family lists no layout for uses the
canonical names themselves (torchvision, timm)."""

from __future__ import annotations

import numpy as np

from zoocheck.families.registry import Family, family_of
from zoocheck.zoo_registry.types import Architecture


def _family(arch: Architecture) -> Family:
    family = family_of(arch)
    if family is None:
        raise ValueError(f"{arch.id} belongs to no registered architecture family: no canonical weights")
    return family


#: a canonical batch norm's parameter -> its name in MXNet (Gluon, GluonCV)
MXNET_BN = {"weight": "gamma", "bias": "beta", "running_mean": "running_mean", "running_var": "running_var"}


def renamed(params: dict[str, np.ndarray], modules: dict[str, str]) -> dict[str, np.ndarray]:
    """``params`` with each ``<module>.<leaf>`` under ``modules[module]``: a family layout that
    renames modules one to one (``families/<family>/layouts.py``)."""
    out = {}
    for name, value in params.items():
        module, leaf = name.rsplit(".", 1)
        out[f"{modules[module]}.{leaf}"] = value
    return out


def to_layout(params: dict[str, np.ndarray], arch: Architecture, framework: str, naming: str = "") -> dict[str, np.ndarray]:
    """Canonical ``params`` of ``arch`` under ``framework``'s names (``naming``: the source's
    parameter-naming scheme where it has several, ``Entry.naming``)."""
    return _family(arch).layout(framework)(params, arch, naming)


def layer_modules(arch: Architecture, framework: str | None = None, naming: str = "") -> dict[str, str]:
    """Canonical graph tensor -> the module of a framework's network whose output it is (the
    family's ``layer_outputs``), in network order, under ``framework``'s layout (None: the
    canonical names), or the family's ``tap_modules`` where it names the tap's module itself.
    {} for an architecture whose family does not map its layers."""
    family = family_of(arch)
    if family is None or family.layer_outputs is None:
        return {}
    try:
        taps = family.part("layer_outputs")(arch)
    except ValueError:  # a variant the family's canonical form does not draw yet (timm's ConvNeXt RMS norm)
        return {}
    if framework is None or not taps:
        return taps
    own = family.part("tap_modules")(arch, framework) if family.tap_modules else {}
    renamed_taps = {tensor: module for tensor, module in taps.items() if module not in own}
    # a layout renames parameters one to one, in order: one parameter per module names it (a batch
    # norm's running variance, which tells the layout it is one; a convolution's weight)
    parameters = family.part("parameters")(arch)
    stand_ins = {
        f"{module}.running_var" if f"{module}.running_var" in parameters else f"{module}.weight": np.zeros(1, np.float32)
        for module in renamed_taps.values()
    }
    # a layout may append constants the framework's file holds besides (MXNet's un-learned input
    # batch norm's gamma and beta): the renames come first
    renamed = list(to_layout(stand_ins, arch, framework, naming))[: len(renamed_taps)]
    modules = {tensor: name.rsplit(".", 1)[0] for tensor, name in zip(renamed_taps, renamed, strict=True)}
    return {tensor: own[module] if module in own else modules[tensor] for tensor, module in taps.items()}


def channels_first_layers(arch: Architecture, framework: str | None = None) -> frozenset[str]:
    """The taps of ``layer_modules(arch, framework)`` whose module hands its output channels first
    [N, C, H, W] where the canonical graph's tensor is channels last [N, H, W, C] (the family's
    ``channels_first_taps``: timm's ConvNeXt ``conv_mlp`` 1x1 convolutions), which a transpose
    cannot be told from by shape (H == C); none under the canonical names themselves."""
    family = family_of(arch)
    # no taps: a variant the family's canonical form does not draw
    if framework is None or family is None or family.channels_first_taps is None or not layer_modules(arch):
        return frozenset()
    return frozenset(family.part("channels_first_taps")(arch, framework))


def recognised_layout(shapes: dict[str, tuple[int, ...]], arch: Architecture) -> tuple[str, dict[str, str]] | None:
    """The layout of the family of ``arch`` whose parameters are exactly ``shapes`` (a
    checkpoint's names and shapes, BatchNorm step counters aside), with its map from each of its
    names to the canonical one; None where no layout of the family matches, by names and shapes
    (a layout that reshapes a tensor never matches: the caller only renames)."""
    family = family_of(arch)
    if family is None or family.parameters is None:
        return None
    given = {name: tuple(shape) for name, shape in shapes.items() if not name.endswith("num_batches_tracked")}
    canonical = family.part("parameters")(arch)
    stand_ins = {name: np.zeros(1, np.float32) for name in canonical}
    for framework, _ in family.layouts:
        try:
            under = list(family.layout(framework)(stand_ins, arch, ""))  # a layout renames one to one, in order
        except (KeyError, ValueError, IndexError):  # it needs a source's naming scheme, or reshapes: not a rename
            continue
        if set(under) != set(given) or len(under) != len(canonical):
            continue
        names = dict(zip(under, canonical, strict=True))
        if all(given[name] == tuple(canonical[names[name]]) for name in under):
            return framework, names
    return None
