"""MXNet Gluon model zoo (``mxnet.gluon.model_zoo.vision``): resnet18..152 v1/v2 (data/mxnet_gluon_model_zoo.csv).

Two tables of the MXNet docs name different weights with the same model names: the current table (same
weights as GluonCV except resnet50_v1 / resnet152_v1) and an older ("legacy") table. The current weights
are entry ``resnet50_v1`` (alias ``resnet50_v1-0aee57f9``, MXNet's ``{name}-{sha1[:8]}`` file stem); the
legacy ones are ``resnet50_v1-c940b1a0`` (alias ``resnet50_v1.legacy``). Published parameter counts are
MXNet's, which include the batch-norm running mean/var.
"""

from __future__ import annotations

from zoocheck.zoo_registry.names import gluon_style
from zoocheck.zoo_registry.sources._common import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    located,
    parse_checksum,
    published,
    read_rows,
    with_relations,
)
from zoocheck.zoo_registry.types import Entry, Preprocess, Weights

SOURCE = "gluon"
REFERENCE = {
    "current": "apache/mxnet @01e371e3 docs/api/python/gluon/model_zoo.md (ImageNet table; params include BN running stats)",
    "legacy": "apache/mxnet docs/api/python/gluon/model_zoo.md, older version (legacy table; params include BN running stats)",
}

#: mxnet.image / gluon transforms (OpenCV): Resize(256, keep_ratio=True) [long side int()], CenterCrop(224)
#: [offset int((w - 224) / 2)], ToTensor (/255), Normalize. The MXNet docs give no eval pipeline; this is
#: GluonCV's scripts/classification/imagenet/verify_pretrained.py, which evaluated the same weights.
GLUON = Preprocess(
    resize=256,
    crop=224,
    interpolation="bilinear",
    image_library="cv2",
    antialias=False,
    size_rounding="floor",
    crop_rounding="floor",
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    scale=1.0 / 255.0,
)


def _entries() -> tuple[Entry, ...]:
    entries = []
    for row in read_rows("mxnet_gluon_model_zoo.csv"):
        with located(row):
            model = row["model"]
            table = row["table_version"]
            checksum = parse_checksum(row["checksum_or_sha"])
            stem = f"{model}-{checksum.value[:8]}"
            parsed = gluon_style(model)
            name, aliases = (model, (stem,)) if table == "current" else (stem, (f"{model}.legacy",))
            entries.append(
                Entry(
                    source=SOURCE,
                    name=name,
                    aliases=aliases,
                    arch=parsed.arch,
                    naming=parsed.naming,
                    builder=model,
                    preprocess=GLUON,
                    weights=Weights(url=row["weights_url"], file_name=f"{stem}.params", format="gluon-params", checksum=checksum),
                    published=(published(row, REFERENCE[table]),),
                    input_size=GLUON.crop,
                    notes=f"{table} MXNet model-zoo table; weights zip holds {stem}.params (sha1 of the .params); "
                    "eval preprocessing not given by MXNet, GluonCV's assumed",
                )
            )
    return tuple(entries)


ENTRIES: tuple[Entry, ...] = with_relations(_entries())
