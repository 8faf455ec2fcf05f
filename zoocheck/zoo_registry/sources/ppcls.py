"""PaddleClas: the ResNet / ResNet_vc / ResNet_vd / ssld / ResNeXt / ResNeXt_vd / ResNeXt101_wsl models
(data/paddleclas.csv) and the MobileNetV2/V3, EfficientNet, DenseNet, VGG and ConvNeXt models
(data/families_paddleclas.csv, whose ``image_library`` column names ResizeImage's backend, cv2 where
empty: ConvNeXt's configs resize with PIL, bicubic; its int8 row without weights and the EfficientNetV2 rows without
numbers or eval config are ``EXCLUDED`` with their reason).

Entry name = PaddleClas's own name (``ResNeXt101_vd_32x4d``); lookups are case-insensitive, so the
vendor card's ``resnext101_vd_32x4d`` finds it. Builder = that name too (it picks PaddleClas's
parameter-naming scheme); the converter builds from ``entry.arch``.

PaddleClas publishes each model twice: the README model list (4-digit accuracy, FLOPs counted as
multiply-adds) and the per-family page (ResNet.md / ResNeXt.md / ResNeXt101_wsl.md: 3-digit accuracy,
FLOPs = 2 x MACs, for ResNeXt lower parameter counts). Both are kept, each with its reference; the
per-family numbers are the CSV's ``family_*`` columns. The new families' rows hold the per-family
page's numbers (FLOPs about 2 x MACs for these CNNs, the unit unstated) and the README/model_list
disagreements as ``discrepancies``.
"""

from __future__ import annotations

import dataclasses

from zoocheck.zoo_registry.names import paddleclas
from zoocheck.zoo_registry.sources._common import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    extras_for,
    file_name_of,
    flag,
    integer,
    located,
    num,
    published,
    read_rows,
    triple,
    with_relations,
)
from zoocheck.zoo_registry.sources._families import discrepancies, excluded, family_architecture
from zoocheck.zoo_registry.types import Entry, Excluded, Preprocess, Published, Weights

SOURCE = "ppcls"
README_REF = "PaddleClas @d178931f docs/zh_CN/models/ImageNet1k/README.md (model list; FLOPs = MACs via paddle.flops)"
FAMILY_REF = "PaddleClas @d178931f docs/zh_CN/models/ImageNet1k/{page} (per-family table; FLOPs = 2 x MACs)"

#: ppcls/configs/ImageNet/ResNet/*.yaml DataLoader.Eval: DecodeImage(to_rgb) ResizeImage(resize_short=256)
#: [cv2 INTER_LINEAR, short side int(round())] CropImage(224) [offset (w - 224) // 2] NormalizeImage(1/255)
PPCLS = Preprocess(
    resize=256,
    crop=224,
    interpolation="bilinear",
    image_library="cv2",
    antialias=False,
    size_rounding="round",
    crop_rounding="floor",
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    scale=1.0 / 255.0,
)
#: FixRes models: fine-tuned at 320; PaddleClas's speed tables give "Crop Size 320, Resize Short Size 320"
#: (docs/en/models/ResNet_and_vd_en.md, Fix_ResNet50_vd_ssld_v2); no eval config ships in ppcls/configs
PPCLS_FIX320 = Preprocess(
    resize=320,
    crop=320,
    interpolation="bilinear",
    image_library="cv2",
    antialias=False,
    size_rounding="round",
    crop_rounding="floor",
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    scale=1.0 / 255.0,
)

#: older names PaddleClas used for the same weights
OLD_NAMES = {"Fix_ResNet50_vd_ssld": ("Fix_ResNet50_vd_ssld_v2",)}


def _pct(fraction: str) -> float | None:
    return round(float(fraction) * 100, 4) if fraction else None


def _family_published(row: dict[str, str]) -> tuple[Published, ...]:
    """The per-family page's numbers (the CSV's family_* columns)."""
    if not row["family_page"]:
        return ()
    return (
        Published(
            top1=_pct(row["family_top1"]),
            top5=_pct(row["family_top5"]),
            params_m=num(row["family_params_m"]),
            flops_g=num(row["family_flops_g"]),
            flops_unit="FLOPs" if row["family_flops_g"] else None,
            input_size=integer(row["input_size"]),
            reference=FAMILY_REF.format(page=row["family_page"]),
        ),
    )


def _entries() -> tuple[Entry, ...]:
    entries = []
    for row in read_rows("paddleclas.csv"):
        with located(row):
            name = row["model"]
            pubs = ((published(row, README_REF),) if flag(row["in_readme"]) else ()) + _family_published(row) + extras_for(SOURCE, name)
            fix = name.startswith("Fix_")
            parsed = paddleclas(name)
            preprocess = PPCLS_FIX320 if fix else PPCLS
            url, docs_url = row["weights_url"], row["docs_weights_url"]
            notes = []
            alternates = []
            if row["inference_url"]:
                alternates.append(
                    Weights(url=row["inference_url"], file_name=file_name_of(row["inference_url"]), format="paddle-inference")
                )
            if docs_url:
                alternates.append(Weights(url=docs_url, file_name=file_name_of(docs_url), format="paddle-pdparams"))
                notes.append(
                    f"README links {file_name_of(docs_url)}; MODEL_URLS (what pretrained=True fetches) has {file_name_of(url)}, used here"
                )
            if row["family_reference_top1"]:
                notes.append(
                    f"{row['family_page']} also lists another implementation's top-1/top-5 "
                    f"{_pct(row['family_reference_top1'])}/{_pct(row['family_reference_top5']) or '-'} (not these weights)"
                )
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
                    alternate_weights=tuple(alternates),
                    published=pubs,
                    input_size=preprocess.crop,
                    notes="; ".join(notes),
                )
            )
    return tuple(entries)


#: family -> its per-family page (docs/zh_CN/models/ImageNet1k/)
FAMILY_PAGES = {"mobilenet_v2": "MobileNetV2.md", "mobilenet_v3": "MobileNetV3.md", "efficientnet": "EfficientNet.md",
                "densenet": "DenseNet.md", "vgg": "VGG.md", "vit": "ViT.md", "deit": "DeiT.md",
                "swin": "SwinTransformer.md", "swin_v2": "SwinTransformerV2.md", "convnext": "ConvNeXt.md"}  # fmt: skip
FAMILIES_REF = (
    "PaddleClas @d178931f docs/zh_CN/models/ImageNet1k/{page} (per-family table; FLOPs about 2 x MACs for these CNNs, the unit unstated)"
)
TRANSFORMERS_REF = (
    "PaddleClas @d178931f docs/zh_CN/models/ImageNet1k/{page} (per-family table; its 'FLOPs' about 1 x MACs "
    "for the transformers and ConvNeXt, the unit unstated)"
)
#: the families whose pages count FLOPs as multiply-adds, as the README list does (the shared
#: tables' page / list ratio: 1.00 ViT, DeiT, ConvNeXt; 1.01-1.06 Swin; 0.99-1.00 Swin V2); the CNN
#: pages count about twice that
MAC_PAGES = ("vit", "deit", "swin", "swin_v2", "convnext")


def _eval_config(row) -> Preprocess:
    """The row's eval config: ResizeImage(resize_short, backend, interpolation) + CropImage +
    NormalizeImage(mean, std) (cv2 bilinear and ImageNet's mean/std where the row leaves them out;
    the PIL backend resizes with PIL's filters, as torchvision's antialias)."""
    library = row["image_library"] or "cv2"
    return dataclasses.replace(
        PPCLS,
        resize=int(row["resize"]),
        crop=int(row["crop"]),
        interpolation=row["interpolation"] or "bilinear",
        image_library=library,
        antialias=library == "pil",
        mean=triple(row["mean"], IMAGENET_MEAN),
        std=triple(row["std"], IMAGENET_STD),
    )


def _family_page_published(row) -> Published:
    page = FAMILY_PAGES[row["family"]]
    if row["family"] in MAC_PAGES:
        return published(row, TRANSFORMERS_REF.format(page=page), flops_unit="MACs")
    return published(row, FAMILIES_REF.format(page=page), flops_unit="FLOPs")


def _family_entries() -> tuple[Entry, ...]:
    entries = []
    for row in read_rows("families_paddleclas.csv"):
        if row["excluded"]:
            continue
        with located(row):
            # ImageNet-22k pre-trained weights fine-tuned on 1k: the same builder, its own file
            # (PaddleClas's ``<model>_22kto1k_pretrained.pdparams``)
            model, url = row["model"], row["weights_url"]
            name = f"{model}_22kto1k" if row["variant"] == "22kto1k" else model
            notes = []
            if row["resize"]:
                preprocess = _eval_config(row)
            else:
                preprocess = PPCLS
                notes.append("no eval config in this PaddleClas snapshot: the 224-pixel configs' preprocessing assumed")
            alternates = ()
            if row["inference_url"]:
                alternates = (Weights(url=row["inference_url"], file_name=file_name_of(row["inference_url"]), format="paddle-inference"),)
            if row["variant"] == "ssld":
                notes.append("ssld: distilled weights of the same network")
            if row["variant"] == "22kto1k":
                notes.append("22kto1k: pre-trained on ImageNet-22k, fine-tuned on ImageNet-1k")
            entries.append(
                Entry(
                    source=SOURCE,
                    name=name,
                    arch=family_architecture(row["family"], "paddleclas", model),
                    builder=model,
                    preprocess=preprocess,
                    weights=Weights(url=url, file_name=file_name_of(url), format="paddle-pdparams"),
                    alternate_weights=alternates,
                    published=(_family_page_published(row), *extras_for(SOURCE, name)),
                    input_size=preprocess.crop,
                    discrepancies=discrepancies(row),
                    notes="; ".join(notes),
                    table_family=row["family"],
                )
            )
    return tuple(entries)


ENTRIES: tuple[Entry, ...] = with_relations(_entries() + _family_entries())

EXCLUDED: tuple[Excluded, ...] = excluded(SOURCE, "families_paddleclas.csv")
