"""GluonCV: ResNet v1/v1b/v1c/v1d/v1s/v2 and ResNeXt (data/gluoncv.csv).

Entry name = GluonCV's name for its default weights (``resnet50_v1d``, alias ``resnet50_v1d-117a384e``);
weights the docs mark ``:tag:`` (loaded with ``pretrained='<hash>'``) are ``resnet50_v1d-00319ddc``.
v1s (deep 64-wide stem) and the GroupNorm v1b are outside ``Architecture``: family 'other' with ids
shared with timm (``resnet50_s``, ``resnet50_gn``).
"""

from __future__ import annotations

import re

from zoocheck.zoo_registry.sources._common import arch_from_name, other_arch, parse_checksum, published, read_rows
from zoocheck.zoo_registry.sources.gluon import GLUON
from zoocheck.zoo_registry.types import Architecture, Entry, Weights

SOURCE = "gluoncv"
REFERENCE = "GluonCV @56777561 docs/model_zoo/csv_tables/Classifications/{table}.csv"

#: verify_pretrained.py: Resize(ceil(224 / 0.875) = 256, keep_ratio=True), CenterCrop(224): as MXNet Gluon
GLUONCV = GLUON


def gluoncv_arch(model: str) -> Architecture:
    m = re.match(r"^resnet(\d+)_v1s$", model)
    if m:
        return other_arch(f"resnet{m.group(1)}_s")
    if model.endswith("_v1b_gn"):
        return other_arch(model.replace("_v1b_gn", "_gn"))
    arch = arch_from_name(model.removesuffix("_int8"))
    assert arch is not None, model
    return arch


def _entries() -> tuple[Entry, ...]:
    entries = []
    for row in read_rows("gluoncv.csv"):
        model, notes = row["model"], row["notes"]
        checksum = parse_checksum(row["checksum_or_sha"])
        tagged = ":tag:" in notes
        stem = f"{model}-{checksum.value[:8]}" if checksum else model
        int8 = model.endswith("_int8")
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
            note.append("INT8 quantized (mxnet quantization of the fp32 resnet50_v1); no weights file in model_store")
        if not pubs:
            note.append("in model_store.py only: no published accuracy")
        if "DISCREPANCY" in notes:
            note.append(notes[notes.index("DISCREPANCY"):].split(";")[0])
        entries.append(
            Entry(
                source=SOURCE,
                name=name,
                aliases=aliases,
                arch=gluoncv_arch(model),
                builder=model.removesuffix("_int8"),
                preprocess=GLUONCV,
                weights=weights,
                published=pubs,
                input_size=GLUONCV.crop,
                notes="; ".join(note),
                extra=(("fp32_checksum", str(checksum)),) if int8 and checksum else (),
            )
        )
    return tuple(entries)


ENTRIES: tuple[Entry, ...] = _entries()
