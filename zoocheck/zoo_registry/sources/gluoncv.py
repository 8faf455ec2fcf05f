"""GluonCV: ResNet v1/v1b/v1c/v1d/v1s/v2 and ResNeXt (data/gluoncv.csv); MobileNetV2/V3, DenseNet and
VGG (data/families_gluoncv.csv: every one the default weights, named ``<model>`` with the alias
``<model>-<sha1[:8]>``; the architecture from the family's ``gluoncv`` name parser).

Entry name = GluonCV's name for its default weights (``resnet50_v1d``, alias ``resnet50_v1d-117a384e``);
weights the docs mark ``:tag:`` (loaded with ``pretrained='<hash>'``) are ``resnet50_v1d-00319ddc``.
v1s is the 64-wide deep stem (timm ``resnetNNs``: id ``resnetNN_s``); the GroupNorm v1b is timm's
``resnet50_gn``. Names are parsed by ``names.gluon_style``.
"""

from __future__ import annotations

from zoocheck.zoo_registry.names import gluon_style
from zoocheck.zoo_registry.sources._common import flag, located, parse_checksum, published, read_rows, with_relations
from zoocheck.zoo_registry.sources._families import discrepancies, family_architecture
from zoocheck.zoo_registry.sources.gluon import GLUON
from zoocheck.zoo_registry.types import Entry, Weights

SOURCE = "gluoncv"
REFERENCE = "GluonCV @56777561 docs/model_zoo/csv_tables/Classifications/{table}.csv"

#: verify_pretrained.py: Resize(ceil(224 / 0.875) = 256, keep_ratio=True), CenterCrop(224): as MXNet Gluon
GLUONCV = GLUON


def _entries() -> tuple[Entry, ...]:
    entries = []
    for row in read_rows("gluoncv.csv"):
        with located(row):
            model = row["model"]
            checksum = parse_checksum(row["checksum_or_sha"])
            tagged = not flag(row["default_weights"])
            stem = f"{model}-{checksum.value[:8]}" if checksum else model
            int8 = model.endswith("_int8")
            parsed = gluon_style(model.removesuffix("_int8"))
            name, aliases = (stem, ()) if tagged else (model, () if int8 or not checksum else (stem,))
            url = row["weights_url"]
            weights = None
            if url and not int8:
                weights = Weights(url=url, file_name=f"{stem}.params", format="gluoncv-params", checksum=checksum)
            table = "ResNext" if model.startswith("resnext") else "ResNet"
            pubs = (published(row, REFERENCE.format(table=table)),) if row["top1"] else ()
            note = []
            if tagged:
                note.append(f"non-default weights: get_model('{model}', pretrained='{checksum.value[:8]}')")
            if int8:
                note.append(f"INT8 quantized (mxnet quantization of the fp32 resnet50_v1, {checksum}); no weights file in model_store")
            if not pubs:
                note.append("in model_store.py only: no published accuracy")
            if row["caveat"]:
                note.append(row["caveat"])
            entries.append(
                Entry(
                    source=SOURCE,
                    name=name,
                    aliases=aliases,
                    arch=parsed.arch,
                    naming=parsed.naming,
                    builder=model.removesuffix("_int8"),
                    preprocess=GLUONCV,
                    weights=weights,
                    published=pubs,
                    input_size=GLUONCV.crop,
                    notes="; ".join(note),
                )
            )
    return tuple(entries)


#: family -> its table in docs/model_zoo/csv_tables/Classifications/
FAMILY_TABLES = {"mobilenet_v2": "MobileNet", "mobilenet_v3": "MobileNet", "densenet": "DenseNet", "vgg": "VGG"}


def _family_entries() -> tuple[Entry, ...]:
    entries = []
    for row in read_rows("families_gluoncv.csv"):
        with located(row):
            model, checksum = row["model"], parse_checksum(row["checksum_or_sha"])
            stem = f"{model}-{checksum.value[:8]}"
            entries.append(
                Entry(
                    source=SOURCE,
                    name=model,
                    aliases=(stem,),
                    arch=family_architecture(row["family"], "gluoncv", model),
                    builder=model,
                    preprocess=GLUONCV,
                    weights=Weights(url=row["weights_url"], file_name=f"{stem}.params", format="gluoncv-params", checksum=checksum),
                    published=(published(row, REFERENCE.format(table=FAMILY_TABLES[row["family"]])),),
                    input_size=GLUONCV.crop,
                    discrepancies=discrepancies(row),
                    notes=f"docs hashtag {row['variant']}"
                    + ("" if checksum.value.startswith(row["variant"]) else f", the default weights' sha1 {checksum.value[:8]}"),
                    table_family=row["family"],
                )
            )
    return tuple(entries)


ENTRIES: tuple[Entry, ...] = with_relations(_entries() + _family_entries())
