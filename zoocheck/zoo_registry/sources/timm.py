"""timm: one entry per pretrained tag of the resnet / resnext / wide_resnet families (data/timm.csv) and
of mobilenetv2 / mobilenetv3 / efficientnet / efficientnetv2 / densenet / vgg / convnext / convnextv2
(data/families_timm.csv).

Entry name ``<arch>.<tag>`` (``resnet50d.gluon_in1k``), builder the timm architecture name. The default
tag (what ``timm.create_model(arch, pretrained=True)`` loads) also answers to the bare arch name; old
names from timm's deprecation table (``gluon_resnet50_v1d``, ``tv_resnext50_32x4d``,
``ig_resnext101_32x8d``, ...) are aliases. Every results row of a tag (timm evaluates many weights at
two image sizes) is one Published with its input size; the entry's preprocessing is the tag's
``pretrained_cfg`` (input size, crop_pct, interpolation, crop_mode: 'squash' resizes both sides).
Weights only on the Hugging Face Hub, or published elsewhere only as a JAX ``.npz``, are named by
hub id and file. The default tag of a ResNet is in
DEFAULT_TAGS, of the other families in their table's ``default_tag`` column. A row of a network no
family's parser reads yet (CLIP, SigLIP, register-token, RoPE, relative-position and hybrid ViTs) is
``EXCLUDED`` with the reason in its ``excluded`` column.
"""

from __future__ import annotations

import math

from zoocheck.zoo_registry.names import timm_style
from zoocheck.zoo_registry.sources._common import (
    Row,
    extras_for,
    file_name_of,
    flag,
    located,
    parse_checksum,
    published,
    read_rows,
    triple,
    with_relations,
)
from zoocheck.zoo_registry.sources._families import excluded, family_architecture
from zoocheck.zoo_registry.types import Architecture, Entry, Excluded, Preprocess, Weights

SOURCE = "timm"
REFERENCE = "timm results/results-imagenet.csv @aa4b5850 (img_size {size}, crop_pct {crop_pct})"

#: what timm.create_model(arch, pretrained=True) loads (timm 1.0.31 ``_model_default_cfgs[arch].tags[0]``;
#: checked against the installed timm by tests/test_registry.py)
DEFAULT_TAGS: dict[str, str] = {
    "resnet10t": "c3_in1k", "resnet14t": "c3_in1k", "resnet18": "a1_in1k", "resnet18d": "ra2_in1k",
    "resnet26": "bt_in1k", "resnet26d": "bt_in1k", "resnet26t": "ra2_in1k", "resnet32ts": "ra2_in1k",
    "resnet33ts": "ra2_in1k", "resnet34": "a1_in1k", "resnet34d": "ra2_in1k", "resnet50": "a1_in1k",
    "resnet50_gn": "a1h_in1k", "resnet50c": "gluon_in1k", "resnet50d": "ra2_in1k", "resnet50s": "gluon_in1k",
    "resnet51q": "ra2_in1k", "resnet61q": "ra2_in1k", "resnet101": "a1h_in1k", "resnet101c": "gluon_in1k",
    "resnet101d": "ra2_in1k", "resnet101s": "gluon_in1k", "resnet152": "a1h_in1k", "resnet152c": "gluon_in1k",
    "resnet152d": "ra2_in1k", "resnet152s": "gluon_in1k", "resnet200d": "ra2_in1k",
    "resnetaa50": "a1h_in1k", "resnetaa50d": "sw_in12k_ft_in1k", "resnetaa101d": "sw_in12k_ft_in1k",
    "resnetblur50": "bt_in1k",
    "resnetrs50": "tf_in1k", "resnetrs101": "tf_in1k", "resnetrs152": "tf_in1k", "resnetrs200": "tf_in1k",
    "resnetrs270": "tf_in1k", "resnetrs350": "tf_in1k", "resnetrs420": "tf_in1k",
    "resnetv2_18": "ra4_e3600_r224_in1k", "resnetv2_18d": "ra4_e3600_r224_in1k",
    "resnetv2_34": "ra4_e3600_r224_in1k", "resnetv2_34d": "ra4_e3600_r224_in1k",
    "resnetv2_50": "a1h_in1k", "resnetv2_50d_evos": "ah_in1k", "resnetv2_50d_gn": "ah_in1k",
    "resnetv2_101": "a1h_in1k", "resnetv2_50x1_bit": "goog_distilled_in1k",
    "resnetv2_50x3_bit": "goog_in21k_ft_in1k", "resnetv2_101x1_bit": "goog_in21k_ft_in1k",
    "resnetv2_101x3_bit": "goog_in21k_ft_in1k", "resnetv2_152x2_bit": "goog_teacher_in21k_ft_in1k",
    "resnetv2_152x4_bit": "goog_in21k_ft_in1k",
    "resnext26ts": "ra2_in1k", "resnext50_32x4d": "a1h_in1k", "resnext50d_32x4d": "bt_in1k",
    "resnext101_32x4d": "fb_ssl_yfcc100m_ft_in1k", "resnext101_32x8d": "tv_in1k",
    "resnext101_32x16d": "fb_wsl_ig1b_ft_in1k", "resnext101_32x32d": "fb_wsl_ig1b_ft_in1k",
    "resnext101_64x4d": "c1_in1k", "wide_resnet50_2": "racm_in1k", "wide_resnet101_2": "tv_in1k",
}  # fmt: skip

#: timm's crop_mode -> how the image is resized before the center crop ('border' is not expressible)
_RESIZE_MODES = {"center": "short", "squash": "squash"}


def _preprocess(row: Row) -> Preprocess:
    """The tag's pretrained_cfg (the cfg_* columns): resize = floor(size / crop_pct) as
    timm/data/transforms_factory.py."""
    size, crop_pct = int(row["cfg_input_size"]), float(row["cfg_crop_pct"])
    if row["crop_mode"] not in _RESIZE_MODES:
        raise ValueError(f"crop_mode {row['crop_mode']!r} is not one of {', '.join(_RESIZE_MODES)}")
    return Preprocess(
        resize=math.floor(size / crop_pct),
        crop=size,
        interpolation=row["cfg_interpolation"],  # type: ignore[arg-type]
        resize_mode=_RESIZE_MODES[row["crop_mode"]],  # type: ignore[arg-type]
        image_library="pil",
        antialias=True,
        size_rounding="floor",
        crop_rounding="round",
        mean=triple(row["mean"], (0.485, 0.456, 0.406)),
        std=triple(row["std"], (0.229, 0.224, 0.225)),
    )


def _deprecated_aliases(by_name: dict[str, list[Row]]) -> dict[str, list[str]]:
    """entry name -> old names from timm's deprecation table (the deprecated_aliases column).

    The reference CSV lists ``ig_resnext101_32x{16,32,48,8}d`` together on one row; each goes to the
    ``fb_wsl_ig1b_ft_in1k`` tag of its own architecture (32x48d is no longer in timm: dropped).
    """
    out: dict[str, list[str]] = {}
    for name, rows in by_name.items():
        with located(rows[0]):
            tag = name.split(".", 1)[1]
            old = [d for d in rows[0]["deprecated_aliases"].split("|") if d]
            for d in old:
                target = name if len(old) == 1 else f"{d.split('_', 1)[1]}.{tag}"
                if target in by_name:
                    out.setdefault(target, []).append(d)
    return out


def _weights(name: str, row: Row) -> Weights | None:
    url, hub = row["weights_url"], row["hf_hub_id"]
    # the augreg/SAM ViTs' url is Google's JAX .npz, which only timm's own npz loader reads; timm
    # itself loads the tag's hub copy (torch tensors) whenever the tag has one
    if url and not (url.endswith(".npz") and hub):
        return Weights(url=url, file_name=file_name_of(url), format="torch-state-dict", checksum=parse_checksum(row["checksum_or_sha"]))
    if hub:  # newer tags live only on the Hugging Face hub, as safetensors, without a published hash
        return Weights(
            url=f"https://huggingface.co/{hub}/resolve/main/model.safetensors", file_name=f"{name}.safetensors", format="torch-state-dict"
        )
    return None


def _architecture(row: Row, arch: str) -> Architecture:
    """A ResNet (data/timm.csv) by timm's ResNet names, another family's by that family's parser."""
    return family_architecture(row["family"], SOURCE, arch) if "family" in row else timm_style(arch)


def _is_default_tag(row: Row, arch: str, tag: str) -> bool:
    return flag(row["default_tag"]) if "default_tag" in row else DEFAULT_TAGS.get(arch) == tag


def _entries(file_name: str) -> tuple[Entry, ...]:
    by_name: dict[str, list[Row]] = {}
    for row in read_rows(file_name):
        if not row.get("excluded"):
            by_name.setdefault(row["model"], []).append(row)
    deprecated = _deprecated_aliases(by_name)
    entries = []
    for name, rows in by_name.items():
        arch, tag = name.split(".", 1)
        first = rows[0]
        with located(first):
            preprocess = _preprocess(first)
            is_default = _is_default_tag(first, arch, tag)
            architecture = _architecture(first, arch)
        pubs = []
        for row in rows:
            pubs.append(published(row, REFERENCE.format(size=row["input_size"], crop_pct=row["eval_crop_pct"]), flops_unit=None))
        entries.append(
            Entry(
                source=SOURCE,
                name=name,
                aliases=((arch,) if is_default else ()) + tuple(deprecated.get(name, ())),
                arch=architecture,
                builder=arch,
                preprocess=preprocess,
                weights=_weights(name, first),
                published=(*pubs, *extras_for(SOURCE, name)),
                input_size=preprocess.crop,
                notes=f"pretrained tag {tag}" + (" (default tag)" if is_default else ""),
                licence=first["license"] or None,
                hub_id=first["hf_hub_id"] or None,
                origin_url=first["origin_url"] or None,
                table_family=first.get("family", ""),
            )
        )
    return tuple(entries)


ENTRIES: tuple[Entry, ...] = with_relations(_entries("timm.csv") + _entries("families_timm.csv"))

EXCLUDED: tuple[Excluded, ...] = excluded(SOURCE, "families_timm.csv")
