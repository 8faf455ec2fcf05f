"""Typed, frozen data that describes one published model: a registry entry is data, declared once."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Literal

from zoocheck.families.registry import FamilySpec

ImageLibrary = Literal["pil", "cv2"]
Interpolation = Literal["bilinear", "bicubic", "nearest"]
# 'short': the short side to ``resize``, then the centre crop; 'squash': both sides to ``resize``;
# 'crop_first' (mmpretrain's EfficientNetCenterCrop, TF EfficientNet's eval): a centred square of side
# crop / resize x the short side, then resized to crop x crop, so ``resize`` = crop + crop_padding is
# the equivalent short side.
ResizeMode = Literal["short", "squash", "crop_first"]
WeightsFormat = Literal[
    "torch-state-dict",  # torchvision / timm .pth or .safetensors (optionally wrapped in state_dict/model)
    "mmpretrain-checkpoint",  # {"meta": ..., "state_dict": {"backbone.*", "head.fc.*"}}
    "paddle-pdparams",  # PaddleClas *_pretrained.pdparams, keyed by PaddleClas parameter names
    "paddle-inference",  # inference.pdmodel|inference.json + inference.pdiparams (dir or .tar)
    "gluon-params",  # mxnet save_parameters .params (or export's symbol.json + .params)
    "gluoncv-params",  # GluonCV v1b/v1c/v1d/resnext .params, converted by name mapping
    "onnx",  # a published ONNX file (ONNX model zoo)
]


@dataclass(frozen=True)
class LibraryNetwork:
    """An architecture zoocheck has no structural spec for: the network ``library`` builds under
    ``name`` (any timm / torchvision classifier by name, timm's ResNet relatives such as
    resnetv2 / resnetrs / resnet50_gn). Its id is that name."""

    library: str  # 'timm' | 'torchvision'
    name: str

    @property
    def family(self) -> str:
        return self.library

    @property
    def id(self) -> str:
        return self.name


@dataclass(frozen=True)
class Architecture:
    """What network an entry is, independent of which zoo published it.

    ``structure`` is the structural description: a family's spec (``ResNetSpec``,
    ``MobileNetV3Spec``, ...: ``zoocheck/families/<family>/spec.py``, the family registered in
    ``families/registry.py``), or a ``LibraryNetwork`` for what only a library defines. The
    family-agnostic ``id`` is derived from it, so two entries share an id exactly when their
    structures are equal, i.e. when they compute the same function given the same weights
    (PaddleClas ResNet50_vd == timm resnet50d == mmpretrain resnetv1d50 == GluonCV resnet50_v1d ->
    ``resnet50_d``).
    """

    structure: FamilySpec | LibraryNetwork
    num_classes: int = 1000

    @property
    def id(self) -> str:
        return self.structure.id

    @property
    def family(self) -> str:
        """The family's name ('resnet', 'mobilenet_v3', ...) or the library defining the network."""
        return self.structure.family


@dataclass(frozen=True)
class Preprocess:
    """Evaluation preprocessing, as the source's own pipeline does it.

    The transform in ``zoocheck.checks.preprocess`` is derived from these fields alone, and the
    spec is written into the ONNX metadata so a deployed file says what it must be fed.
    """

    resize: int  # short side ('short'), both sides ('squash') or the equivalent short side ('crop_first')
    crop: int
    interpolation: Interpolation = "bilinear"
    image_library: ImageLibrary = "pil"
    # PIL's resize filters antialias when downscaling; OpenCV's INTER_LINEAR/CUBIC do not.
    antialias: bool = True
    resize_mode: ResizeMode = "short"
    # How the long side is computed from the scale factor: torchvision truncates, PaddleClas and
    # mmcv round.
    size_rounding: Literal["floor", "round"] = "floor"
    # How the crop offset is computed: torchvision/mmpretrain round((h - c) / 2), PaddleClas and
    # MXNet floor((h - c) / 2).
    crop_rounding: Literal["floor", "round"] = "round"
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    # Pixel values are multiplied by ``scale`` before mean/std: 1/255 when mean/std are on a 0-1
    # scale, 1.0 when they are on 0-255 (mmpretrain).
    scale: float = 1.0 / 255.0
    channel_order: Literal["RGB", "BGR"] = "RGB"

    def __post_init__(self) -> None:
        if self.crop > self.resize and self.resize_mode != "squash":
            raise ValueError(f"crop {self.crop} larger than resize {self.resize}")

    def to_dict(self) -> dict:
        """The spec as JSON holds it (lists, not tuples): what records and metadata store, so a
        stored spec compares equal to this."""
        return json.loads(json.dumps(dataclasses.asdict(self)))


_HEX = re.compile(r"^[0-9a-f]+$")


@dataclass(frozen=True)
class Checksum:
    """A checksum as the zoo publishes it."""

    algorithm: Literal["sha256", "sha1", "md5"]
    value: str  # lower-case hex
    # 'full': the whole digest; 'prefix': the first hex digits (torch hub / OpenMMLab file names).
    kind: Literal["full", "prefix"] = "full"

    _FULL_LENGTH = {"sha256": 64, "sha1": 40, "md5": 32}

    def __post_init__(self) -> None:
        full = self._FULL_LENGTH[self.algorithm]
        if not _HEX.match(self.value):
            raise ValueError(f"checksum {self.value!r} is not lower-case hex")
        if self.kind == "full" and len(self.value) != full:
            raise ValueError(f"{self.algorithm} digest must have {full} hex digits: {self.value!r}")
        if self.kind == "prefix" and not 6 <= len(self.value) < full:
            raise ValueError(f"{self.algorithm} prefix must have 6..{full - 1} hex digits")

    def matches(self, hexdigest: str) -> bool:
        return hexdigest.startswith(self.value) if self.kind == "prefix" else hexdigest == self.value

    def __str__(self) -> str:
        return f"{self.algorithm}{f'[:{len(self.value)}]' if self.kind == 'prefix' else ''}={self.value}"


@dataclass(frozen=True)
class Weights:
    url: str
    file_name: str
    format: WeightsFormat
    checksum: Checksum | None = None  # PaddleClas publishes none


@dataclass(frozen=True)
class Published:
    """One published evaluation of one set of weights, with the page or table it came from."""

    top1: float | None  # percent
    top5: float | None  # percent
    reference: str
    params_m: float | None = None
    flops_g: float | None = None
    # 'MACs' (multiply-adds, ResNet-50 ~4.1) or 'FLOPs' (2 x MACs, PaddleClas per-family docs).
    flops_unit: Literal["MACs", "FLOPs"] | None = None
    input_size: int | None = None


@dataclass(frozen=True)
class Entry:
    """One (source, model) pair: what to build, which weights, how to feed it, what was published."""

    source: str  # 'torchvision', 'timm', 'mmpretrain', 'ppcls', 'gluon', 'onnx-zoo'
    name: str  # the source's own name
    arch: Architecture
    builder: str  # the source's own constructor / config name (shown to users; converters build from arch)
    preprocess: Preprocess
    weights: Weights | None = None
    aliases: tuple[str, ...] = ()
    published: tuple[Published, ...] = ()
    label_space: str = "imagenet-1k"
    input_size: int = 224
    # The published inference graph ends in softmax (some PaddleClas inference models do).
    softmax_output: bool = False
    # The parameter-naming scheme of the source's checkpoints for this network, where a source has
    # several (PaddleClas: legendary, legendary_vd, vc, resnext, resnext_vd, wsl; GluonCV: gluon,
    # resnetv1b, resnext; the ONNX zoo: the exporter that wrote the file, mxnet, pytorch, caffe2,
    # tf2onnx). Set by the source's name parser (zoo_registry/names.py) or its table.
    naming: str = ""
    # Other published files of these weights: PaddleClas's inference model (paddle-inference), a
    # README link other than what the library downloads, the ONNX zoo's old S3 link.
    alternate_weights: tuple[Weights, ...] = ()
    licence: str | None = None
    hub_id: str | None = None  # the Hugging Face Hub repository (timm)
    origin_url: str | None = None  # where the weights were first published (timm)
    # Relations to other entries, by key ('timm/resnet50.tv_in1k'), from data/relations.csv:
    # entries publishing these same weights, and the entry this file was exported from.
    same_weights_as: tuple[str, ...] = ()
    exported_from: str | None = None
    # Conflicting published values the zoo itself gives for this entry (the DISCREPANCY notes of the
    # shared tables), one sentence each: `zoocheck audit` reports every one as a finding.
    discrepancies: tuple[str, ...] = ()
    notes: str = ""
    # the family the zoo's published table files it under ('deit', 'deit3', 'swin_v2', 'vgg', ...),
    # which ``--arch`` also takes: DeiT is a ViT and Swin V2 a Swin by the function computed
    table_family: str = ""

    @property
    def key(self) -> str:
        return f"{self.source}/{self.name}"


@dataclass(frozen=True)
class Excluded:
    """A published row that cannot be an entry, kept with the reason (``zoocheck list --excluded``):
    e.g. torchvision's int8 QNNPACK MobileNet weights, which no float network loads."""

    source: str
    model: str  # the row's model name as the zoo spells it
    family: str
    reason: str

    @property
    def key(self) -> str:
        return f"{self.source}/{self.model}"
