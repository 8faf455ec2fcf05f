"""Entries for models the registry does not list but torchvision or timm knows by name: built at
run time from the library's own tables (torchvision's weights enums, timm's pretrained_cfg), so any
classifier of those libraries converts by its own name. Imported only when a name is resolved, so
importing it may import the library."""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

from zoocheck.zoo_registry.names import timm_style
from zoocheck.zoo_registry.types import Checksum, Entry, Preprocess, Published, Weights


def _label_space(num_classes: int) -> str:
    return {1000: "imagenet-1k", 11821: "imagenet-12k", 21841: "imagenet-21k", 21843: "imagenet-21k"}.get(
        num_classes, f"{num_classes}-classes"
    )


def torchvision_resolve(name: str) -> Entry | None:
    """``resnet50`` (default weights) or ``resnet50.IMAGENET1K_V2``, any case, for any
    torchvision classification builder; preprocessing and accuracy from the weights enum."""
    import torchvision.models as tvm

    builder_name, _, tag = name.strip().partition(".")
    builders = {b.lower(): b for b in tvm.list_models(module=tvm)}
    builder = builders.get(builder_name.lower())
    if builder is None:
        return None
    try:
        enum = tvm.get_model_weights(builder)
    except (ValueError, KeyError):
        enum = None
    if enum is None or not list(enum):
        if tag:
            return None
        return Entry(
            source="torchvision",
            name=builder,
            arch=timm_style(builder, "torchvision"),
            builder=builder,
            preprocess=Preprocess(resize=256, crop=224),
            notes="torchvision publishes no weights for this builder",
        )
    members = {m.name.lower(): m for m in enum}
    weights = enum.DEFAULT if not tag else members.get(tag.lower())
    if weights is None:
        return None
    return torchvision_entry(builder, weights, is_default=weights is enum.DEFAULT)


def torchvision_entry(builder: str, weights, is_default: bool) -> Entry:
    """An Entry from a torchvision weights enum member (what ``resolve`` builds)."""
    from torchvision.transforms import InterpolationMode

    t = weights.transforms()
    interpolation = {InterpolationMode.BILINEAR: "bilinear", InterpolationMode.BICUBIC: "bicubic", InterpolationMode.NEAREST: "nearest"}[
        t.interpolation
    ]
    preprocess = Preprocess(
        resize=int(t.resize_size[0]),
        crop=int(t.crop_size[0]),
        interpolation=interpolation,
        image_library="pil",
        antialias=True,
        resize_mode="short",
        size_rounding="floor",
        crop_rounding="round",
        mean=tuple(float(v) for v in t.mean),
        std=tuple(float(v) for v in t.std),
    )
    meta = weights.meta
    num_classes = len(meta.get("categories") or []) or 1000
    file_name = weights.url.rsplit("/", 1)[-1]
    m = re.search(r"-([0-9a-f]{8,})\.pth$", file_name)
    checksum = Checksum("sha256", m[1], kind="prefix") if m else None
    published = []
    for dataset, metrics in (meta.get("_metrics") or {}).items():
        if "acc@1" in metrics:
            published.append(
                Published(
                    top1=float(metrics["acc@1"]),
                    top5=float(metrics["acc@5"]) if "acc@5" in metrics else None,
                    reference=f"torchvision {type(weights).__name__}.{weights.name} meta ({dataset}); recipe {meta.get('recipe', '')}".strip(),
                    params_m=round(meta["num_params"] / 1e6, 3) if "num_params" in meta else None,
                    flops_g=meta.get("_ops"),
                    flops_unit="MACs" if "_ops" in meta else None,
                    input_size=preprocess.crop,
                )
            )
    return Entry(
        source="torchvision",
        name=f"{builder}.{weights.name}",
        arch=timm_style(builder, "torchvision", num_classes),
        builder=builder,
        preprocess=preprocess,
        weights=Weights(url=weights.url, file_name=file_name, format="torch-state-dict", checksum=checksum),
        aliases=(builder,) if is_default else (),
        published=tuple(published),
        label_space=_label_space(num_classes),
        input_size=preprocess.crop,
    )


def timm_resolve(name: str) -> Entry | None:
    """``resnet50d`` (default tag), ``resnet50d.gluon_in1k`` or a deprecated name
    (``gluon_resnet50_v1d``), any case; preprocessing from timm's pretrained_cfg."""
    import timm
    from timm.models import get_deprecated_models, get_pretrained_cfg, split_model_name_tag

    key = name.strip().lower()
    deprecated = {k.lower(): v for k, v in get_deprecated_models().items()}
    alias = None
    if key in deprecated:
        alias, key = name.strip(), deprecated[key].lower()
    arch_name, tag = split_model_name_tag(key)
    archs = {a.lower(): a for a in timm.list_models()}
    arch = archs.get(arch_name)
    if arch is None:
        return None
    try:
        cfg = get_pretrained_cfg(f"{arch}.{tag}" if tag else arch, allow_unregistered=False)
    except RuntimeError:  # a tag the architecture does not have
        return None
    if cfg is None:
        if tag:
            return None
        # an architecture without any pretrained tag: the defaults it is built with
        cfg = SimpleNamespace(**timm.create_model(arch, pretrained=False).pretrained_cfg)
    return timm_entry(arch, cfg, alias=alias)


def timm_entry(arch: str, cfg, alias: str | None = None) -> Entry:
    """An Entry from a timm PretrainedCfg (what ``resolve`` builds)."""
    from timm.models import get_arch_pretrained_cfgs

    tags = list(get_arch_pretrained_cfgs(arch))
    tag = getattr(cfg, "tag", None) or ""
    crop = int(cfg.input_size[-1])
    crop_pct = float(getattr(cfg, "crop_pct", None) or 0.875)
    crop_mode = getattr(cfg, "crop_mode", None) or "center"
    interpolation = getattr(cfg, "interpolation", None) or "bilinear"
    if interpolation not in ("bilinear", "bicubic", "nearest"):
        interpolation = "bilinear"  # timm's eval transform maps anything else to bilinear
    resize = math.floor(crop / crop_pct)
    preprocess = Preprocess(
        resize=resize,
        crop=crop,
        interpolation=interpolation,
        image_library="pil",
        antialias=True,
        # 'squash' resizes both sides to floor(crop / crop_pct); 'border' (letterbox) is not
        # expressible and is approximated by 'center' (said in notes).
        resize_mode="squash" if crop_mode == "squash" else "short",
        size_rounding="floor",
        crop_rounding="round",
        mean=tuple(float(v) for v in cfg.mean),
        std=tuple(float(v) for v in cfg.std),
    )
    num_classes = int(getattr(cfg, "num_classes", None) or 1000)
    weights = None
    hf = getattr(cfg, "hf_hub_id", None)
    if hf:
        file_name = getattr(cfg, "hf_hub_filename", None) or "model.safetensors"
        weights = Weights(
            url=f"https://huggingface.co/{hf}/resolve/main/{file_name}",
            file_name=f"{arch}.{tag}.{file_name.rsplit('.', 1)[-1]}",
            format="torch-state-dict",
        )
    elif getattr(cfg, "url", None):
        weights = Weights(url=cfg.url, file_name=cfg.url.rsplit("/", 1)[-1], format="torch-state-dict")
    name = f"{arch}.{tag}" if tag else arch
    aliases = []
    if tag and tags and tags[0] == name:
        aliases.append(arch)
    if alias and alias.lower() != name.lower():
        aliases.append(alias)
    return Entry(
        source="timm",
        name=name,
        arch=timm_style(arch, "timm", num_classes),
        builder=arch,
        preprocess=preprocess,
        weights=weights,
        aliases=tuple(aliases),
        label_space=_label_space(num_classes),
        input_size=crop,
        notes=f"from timm pretrained_cfg (crop_pct {crop_pct}, crop_mode {crop_mode})",
    )
