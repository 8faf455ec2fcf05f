"""PaddleClas: the ResNet / ResNet_vc / ResNet_vd / ssld / ResNeXt / ResNeXt_vd / ResNeXt101_wsl models
(data/paddleclas.csv).

Entry name = PaddleClas's own name (``ResNeXt101_vd_32x4d``); lookups are case-insensitive, so the
vendor card's ``resnext101_vd_32x4d`` finds it. Builder = that name too (it picks PaddleClas's
parameter-naming scheme); the converter builds from ``entry.arch``.

PaddleClas publishes each model twice: the README model list (4-digit accuracy, FLOPs counted as
multiply-adds) and the per-family page (ResNet.md / ResNeXt.md / ResNeXt101_wsl.md: 3-digit accuracy,
FLOPs = 2 x MACs, for ResNeXt lower parameter counts). Both are kept, each with its reference; the
per-family numbers are read from the CSV notes where the reference table quotes them.
"""

from __future__ import annotations

import re

from zoocheck.zoo_registry.sources._common import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    extras_for,
    file_name_of,
    integer,
    note_field,
    published,
    read_rows,
)
from zoocheck.zoo_registry.names import paddleclas
from zoocheck.zoo_registry.types import Entry, Preprocess, Published, Weights

SOURCE = "ppcls"
README_REF = "PaddleClas @d178931f docs/zh_CN/models/ImageNet1k/README.md (model list; FLOPs = MACs via paddle.flops)"
FAMILY_REF = "PaddleClas @d178931f docs/zh_CN/models/ImageNet1k/{page} (per-family table; FLOPs = 2 x MACs)"

#: ppcls/configs/ImageNet/ResNet/*.yaml DataLoader.Eval: DecodeImage(to_rgb) ResizeImage(resize_short=256)
#: [cv2 INTER_LINEAR, short side int(round())] CropImage(224) [offset (w - 224) // 2] NormalizeImage(1/255)
PPCLS = Preprocess(
    resize=256, crop=224, interpolation="bilinear", image_library="cv2", antialias=False,
    size_rounding="round", crop_rounding="floor", mean=IMAGENET_MEAN, std=IMAGENET_STD, scale=1.0 / 255.0,
)  # fmt: skip
#: FixRes models: fine-tuned at 320; PaddleClas's speed tables give "Crop Size 320, Resize Short Size 320"
#: (docs/en/models/ResNet_and_vd_en.md, Fix_ResNet50_vd_ssld_v2); no eval config ships in ppcls/configs
PPCLS_FIX320 = Preprocess(
    resize=320, crop=320, interpolation="bilinear", image_library="cv2", antialias=False,
    size_rounding="round", crop_rounding="floor", mean=IMAGENET_MEAN, std=IMAGENET_STD, scale=1.0 / 255.0,
)  # fmt: skip

_FAMILY_TABLE = re.compile(
    r"docs/zh_CN/models/ImageNet1k/(\w+\.md) table: Top1=([\d.]*) Top5=([\d.]*) "
    r"Reference top1=([\d.]*) Reference top5=([\d.]*) FLOPs\(G\)=([\d.]*) Params\(M\)=([\d.]*)"
)
#: older names PaddleClas used for the same weights
OLD_NAMES = {"Fix_ResNet50_vd_ssld": ("Fix_ResNet50_vd_ssld_v2",)}


def _pct(fraction: str) -> float | None:
    return round(float(fraction) * 100, 4) if fraction else None


def _family_published(row: dict[str, str]) -> tuple[tuple[Published, ...], tuple[tuple[str, str], ...]]:
    """The per-family page's numbers (quoted in the CSV notes) and its 'Reference' columns."""
    m = _FAMILY_TABLE.search(row["notes"])
    if not m:
        return (), ()
    page, top1, top5, ref1, ref5, flops, params = m.groups()
    pub = Published(top1=_pct(top1), top5=_pct(top5), params_m=float(params) if params else None,
                    flops_g=float(flops) if flops else None, flops_unit="FLOPs" if flops else None,
                    input_size=integer(row["input_size"]), reference=FAMILY_REF.format(page=page))  # fmt: skip
    extra = ((f"{page} reference top1/top5 (other implementation, not these weights)", f"{_pct(ref1)}/{_pct(ref5)}"),) if ref1 else ()
    return (pub,), extra


def _entries() -> tuple[Entry, ...]:
    entries = []
    for row in read_rows("paddleclas.csv"):
        name = row["model"]
        in_readme = "README.md section" in row["notes"]
        family_pubs, family_extra = _family_published(row)
        pubs = ((published(row, README_REF),) if in_readme else ()) + family_pubs + extras_for(SOURCE, name)
        fix = name.startswith("Fix_")
        parsed = paddleclas(name)
        preprocess = PPCLS_FIX320 if fix else PPCLS
        if row["resize"]:
            assert (preprocess.resize, preprocess.crop) == (int(row["resize"]), int(row["crop"])), name
        url = row["weights_url"]
        notes = []
        extra = list(family_extra)
        if inference := note_field(row["notes"], "inference_model"):
            extra.append(("inference_model", inference))
        if m := re.search(r"DISCREPANCY: MODEL_URLS has (\S+) but README links (\S+);", row["notes"]):
            url, docs_url = m.groups()
            extra.append(("docs_weights_url", docs_url))
            notes.append(f"README links {file_name_of(docs_url)}; MODEL_URLS (what pretrained=True fetches) "
                         f"has {file_name_of(url)}, used here")  # fmt: skip
        weights = Weights(url=url, file_name=file_name_of(url), format="paddle-pdparams") if url else None
        if not row["resize"] and not fix:
            notes.append("no eval config in this PaddleClas snapshot: preprocessing of the ResNet family assumed")
        if fix:
            notes.append("FixRes: fine-tuned at 320x320; eval resize/crop 320/320 from PaddleClas's speed tables")
        if not url:
            notes.append("no weights link published")
        entries.append(
            Entry(
                source=SOURCE,
                name=name,
                aliases=OLD_NAMES.get(name, ()),
                arch=parsed.arch,
                naming=parsed.naming,
                builder=name,
                preprocess=preprocess,
                weights=weights,
                published=pubs,
                input_size=preprocess.crop,
                notes="; ".join(notes),
                extra=tuple(extra),
            )
        )
    return tuple(entries)


ENTRIES: tuple[Entry, ...] = _entries()
