"""GluonCV ResNet v1b/v1c/v1d/v1s and ResNeXt weights, converted by parameter-name mapping;
GluonCV's ResNet v1/v2 handed to the MXNet Gluon converter.

GluonCV 0.10.5 refuses to import next to torch>=2 (STACK.md), so its networks are rebuilt in
timm, whose ResNet class with the matching stem/shortcut options IS GluonCV's architecture (timm's
``gluon_resnet50_v1d`` weights are GluonCV's, loaded into timm ``resnet50d``):

- ``resnetNN_v1b`` -> timm ResNet, 7x7 stem, stride on the 3x3 (timm ``resnetNN``);
- ``resnetNN_v1c`` -> deep 3x3 stem of width 32 (timm ``resnetNNc``);
- ``resnetNN_v1d`` -> v1c + avg-pool on the downsampling shortcut (timm ``resnetNNd``);
- ``resnetNN_v1s`` -> the deep 3x3 stem of width 64, no avg-pool (timm ``resnetNNs``); GluonCV
  builds it with the same ResNetV1b class (``deep_stem=True, stem_width=64``), so v1c's names;
- ``resnextNN_GxWd`` -> ResNeXt with G groups of width W (timm ``resnextNN_GxWd``).

GluonCV ``.params`` files are MXNet ``save_parameters`` files; they are read here without MXNet
(``read_mxnet_params``: the NDArray list format is small), so this source needs only PyTorch.
The names come from GluonCV's own model code (gluoncv/model_zoo/resnetv1b.py, resnext.py):
ResNetV1b uses torchvision-like attribute names (``conv1``, ``bn1``, ``layer1.0.conv1``,
``layer1.0.downsample.{0,1}`` or, with avg_down, ``.{1,2}``; deep stem ``conv1.{0,1,3,4,6}``;
``fc``); ResNext nests everything in ``features`` (``features.0`` conv, ``features.1`` BN,
``features.{4..7}.{block}.body.{0,1,3,4,6,7}``, ``.downsample.{0,1}``) with classifier ``output``.
MXNet BatchNorm calls its affine parameters ``gamma``/``beta``.

GluonCV's ``resnetNN_v1`` / ``resnetNN_v2`` (gluoncv/model_zoo/resnet.py) are MXNet Gluon's model
zoo ResNets: the same classes (GluonCV only adds last_gamma / SE / norm_layer options that are off
in these models), so the same parameter names and files. They go to ``GluonConverter``, which loads
them into MXNet's own network.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoocheck.converters.base import TORCH_OPSETS, NativeModel, WeightsError, refuse_unbuilt
from zoocheck.converters.mxnet_params import read_mxnet_params, write_mxnet_params
from zoocheck.converters.torch_base import TorchConverter
from zoocheck.families.registry import family_of
from zoocheck.zoo_registry.types import Entry

# ---------------------------------------------------------------------------------------------
# Architecture and name mapping


#: GluonCV's parameter-naming schemes for the networks rebuilt in timm (``Entry.naming``)
NAMINGS = ("resnetv1b", "resnext")


def _check_naming(naming: str) -> None:
    if naming not in NAMINGS:
        raise ValueError(f"GluonCV naming {naming!r} is not rebuilt in timm (known: {', '.join(NAMINGS)}; 'gluon' goes to MXNet)")


_BN_SUFFIX = {"gamma": "weight", "beta": "bias", "running_mean": "running_mean", "running_var": "running_var"}
# ResNext block body index -> timm bottleneck attribute
_RESNEXT_BODY = {"0": "conv1", "1": "bn1", "3": "conv2", "4": "bn2", "6": "conv3", "7": "bn3"}


def gluoncv_to_timm_name(name: str, naming: str) -> str | None:
    """The timm state_dict key of GluonCV parameter ``name``; None if it has no counterpart."""
    *path, leaf = name.split(".")
    leaf = _BN_SUFFIX.get(leaf, leaf)
    if naming == "resnetv1b":
        # ResNetV1b's attribute names are torchvision's, which timm keeps.
        return ".".join([*path, leaf])
    if path == ["output"]:
        return f"fc.{leaf}"
    if path[:1] != ["features"] or len(path) < 2:
        return None
    if path == ["features", "0"]:
        return f"conv1.{leaf}"
    if path == ["features", "1"]:
        return f"bn1.{leaf}"
    if len(path) == 5 and path[3] == "body" and path[4] in _RESNEXT_BODY and 4 <= int(path[1]) <= 7:
        return f"layer{int(path[1]) - 3}.{path[2]}.{_RESNEXT_BODY[path[4]]}.{leaf}"
    if len(path) == 5 and path[3] == "downsample" and 4 <= int(path[1]) <= 7:
        return f"layer{int(path[1]) - 3}.{path[2]}.downsample.{path[4]}.{leaf}"
    return None


def timm_to_gluoncv_name(key: str, naming: str, norms: frozenset[str]) -> str | None:
    """The inverse of ``gluoncv_to_timm_name`` (for writing GluonCV-format files); ``norms`` are
    the timm module paths that are BatchNorms (GroupNorms in resnet50_v1b_gn)."""
    *path, leaf = key.split(".")
    if leaf == "num_batches_tracked":
        return None
    if ".".join(path) in norms:
        leaf = {v: k for k, v in _BN_SUFFIX.items()}[leaf]
    if naming == "resnetv1b":
        return ".".join([*path, leaf])
    if path == ["fc"]:
        return f"output.{leaf}"
    if path == ["conv1"]:
        return f"features.0.{leaf}"
    if path == ["bn1"]:
        return f"features.1.{leaf}"
    stage, block, part = int(path[0][len("layer") :]), path[1], path[2]
    if part == "downsample":
        return f"features.{stage + 3}.{block}.downsample.{path[3]}.{leaf}"
    body = {v: k for k, v in _RESNEXT_BODY.items()}[part]
    return f"features.{stage + 3}.{block}.body.{body}.{leaf}"


def map_state(params: dict[str, np.ndarray], naming: str, file_name: str):
    """GluonCV arrays -> timm state_dict tensors; unknown names raise WeightsError."""
    import torch

    _check_naming(naming)
    state, unknown = {}, []
    for name, value in params.items():
        key = gluoncv_to_timm_name(name, naming)
        if key is None:
            unknown.append(name)
            continue
        state[key] = torch.from_numpy(np.asarray(value, dtype=np.float32))
    if unknown:
        raise WeightsError(f"{file_name}: {len(unknown)} parameters have no place in GluonCV {naming}: {', '.join(unknown[:4])}")
    return state


# ---------------------------------------------------------------------------------------------


def write_gluoncv_params(entry: Entry, params: dict[str, np.ndarray], path: Path) -> Path:
    """GluonCV ``.params``: MXNet's format under GluonCV's names; its v1/v2 models are the Gluon
    model zoo's networks, so their files are Gluon's."""
    if entry.naming == "gluon":
        from zoocheck.converters.gluon import write_gluon_params

        return write_gluon_params(entry, params, path)
    from zoocheck.converters.weights.layouts import to_layout

    path.parent.mkdir(parents=True, exist_ok=True)
    write_mxnet_params(path, to_layout(params, entry.arch, "gluoncv", entry.naming))
    return path


class GluonCVConverter(TorchConverter):
    """GluonCV's v1b/c/d/s and ResNeXt weights run in timm (PyTorch + timm); v1/v2 and the
    families whose networks zoocheck builds in MXNet (``Family.networks``: MobileNetV2/V3,
    DenseNet, VGG; ``converters/gluoncv_mxnet.py``) in MXNet."""

    # MXNet's networks export with mxnet.onnx (opset 12 and up), the others with torch.onnx (up to 20)
    opset_range = (12, TORCH_OPSETS[1])

    @staticmethod
    def _in_mxnet(entry: Entry | None) -> bool:
        if entry is None:
            return False
        family = family_of(entry.arch)
        return entry.naming == "gluon" or (family is not None and family.builds_network("gluoncv"))

    def frameworks_needed(self, entry: Entry | None, *, random_weights: bool) -> tuple:
        """v1/v2 models and the MXNet-built families run in MXNet, every other one in torch + timm."""
        if self._in_mxnet(entry):
            return tuple(f for f in self.source.frameworks if f.module == "mxnet")
        return tuple(f for f in self.source.frameworks if f.needed == "always")

    def runtime(self, entry: Entry) -> str:
        return "mxnet" if self._in_mxnet(entry) else self.source.runtime

    def load(self, entry: Entry, weights: Path | None, *, random_seed: int | None = None) -> NativeModel:
        from zoocheck.converters.gluon import GluonConverter

        family = family_of(entry.arch)
        if family is not None and family.builds_network("gluoncv"):
            from zoocheck.converters.gluoncv_mxnet import load_network

            GluonConverter().prepare(weights, random_seed)  # MXNet's: no torch to configure
            return load_network(entry, weights, random_seed, family.network("gluoncv"))
        refuse_unbuilt(entry, ("resnet", "timm"), "GluonCV network")
        if entry.naming == "gluon":  # GluonCV's v1/v2 are MXNet Gluon's model-zoo networks
            return GluonConverter().load(entry, weights, random_seed=random_seed)
        import timm

        from zoocheck.converters.torch_common import TorchModel, load_strict, timm_network
        from zoocheck.converters.torch_random import randomize
        from zoocheck.converters.weights import has_canonical_weights, layer_modules, random_weights, to_layout

        self.prepare(weights, random_seed)
        _check_naming(entry.naming)
        module = timm_network(entry.arch)
        what = f"GluonCV {entry.builder} (timm ResNet)"
        if weights is not None:
            weights = Path(weights)
            load_strict(module, map_state(read_mxnet_params(weights), entry.naming, weights.name), weights, what)
        elif has_canonical_weights(entry.arch):  # through GluonCV's names, as a file's weights go
            origin = f"random weights (seed {random_seed})"
            params = to_layout(random_weights(entry.arch, random_seed, entry.input_size), entry.arch, "gluoncv", entry.naming)
            load_strict(module, map_state(params, entry.naming, origin), Path(origin), what)
        else:  # resnet50_v1b_gn: GroupNorm, a library network without canonical weights
            randomize(module, random_seed, entry.input_size)
        # the network is timm's, under the canonical weights' names
        return TorchModel(module, entry.input_size, {"timm": timm.__version__}, layers=layer_modules(entry.arch))


__all__ = [
    "GluonCVConverter",
    "NAMINGS",
    "gluoncv_to_timm_name",
    "map_state",
    "timm_to_gluoncv_name",
]
