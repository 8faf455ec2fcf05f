"""ONNX model zoo: validated/vision/classification/resnet (data/onnx_model_zoo.csv) and the mobilenet,
efficientnet-lite4, densenet-121 and vgg folders (data/families_onnx_model_zoo.csv).

Entry name = the zoo's file stem (``resnet50-v1-7``); the opset-7 v1/v2 files also answer to the
names the README and its older S3 links use (``resnet50-v1``, ``ResNet50-v1``, ``ResNet-50-v1``,
``resnet50v1``). Builder = the MXNet Gluon model the file was exported from (``resnet50_v1``).
``Entry.naming`` = the framework that wrote the file (its tensor names are that exporter's):
``mxnet``, ``pytorch``, ``caffe2`` or ``tf2onnx`` (the new families' ``exporter`` column; the
ResNets are MXNet's but for the Caffe2 ResNet-50).

The new families' entries are named by file stem too (``mobilenetv2-7``, ``vgg16-bn-7``,
``densenet-12-int8``), with the README's label as alias where one file has it alone (``VGG 16-bn``);
builder = that label. Their architecture comes from the family's ``onnx_zoo`` parser. Preprocessing:
the MobileNet and VGG numbers come from the same validation notebook as ResNet's (``ONNX_ZOO``, a
256x256 squash; the README's short-side text is a discrepancy), EfficientNet-Lite4's from its README
code (cv2, short side 256, (x - 127) / 128, NHWC input, softmax output); the DenseNet-121 README
states none, so ``ONNX_ZOO`` is assumed and said so.
"""

from __future__ import annotations

from zoocheck.zoo_registry.names import onnx_zoo_file
from zoocheck.zoo_registry.sources._common import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    file_name_of,
    located,
    parse_checksum,
    published,
    read_rows,
    with_relations,
)
from zoocheck.zoo_registry.sources._families import discrepancies, family_architecture
from zoocheck.zoo_registry.types import Entry, Preprocess, Weights

SOURCE = "onnx-zoo"
#: where the pre-2020 README linked the opset-7 v1/v2 files (with an MD5 file beside them)
LEGACY_S3 = "https://s3.amazonaws.com/onnx-model-zoo/resnet"
REFERENCE = "onnx/models @b1eeaa1a validated/vision/classification/resnet/README.md (= seed onnx_model_zoo_resnet_README.md)"

#: imagenet_validation.ipynb, which produced the published accuracies: mxnet transforms.Resize(256) with
#: keep_ratio=False (a 256x256 squash), CenterCrop(224), ToTensor, Normalize (README note 3 of the
#: reference data: the README's "short side 256" text does not reproduce the table)
ONNX_ZOO = Preprocess(
    resize=256,
    crop=224,
    interpolation="bilinear",
    image_library="cv2",
    antialias=False,
    resize_mode="squash",
    size_rounding="floor",
    crop_rounding="floor",
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    scale=1.0 / 255.0,
)


def _entries() -> tuple[Entry, ...]:
    entries = []
    for row in read_rows("onnx_model_zoo.csv"):
        with located(row):
            name = row["model"]
            parsed = onnx_zoo_file(name)
            depth, version, opset, caffe2, quant = (
                parsed.arch.structure.depth,
                parsed.arch.structure.variant[1],
                parsed.opset,
                parsed.caffe2,
                parsed.quantization,
            )
            aliases: tuple[str, ...] = ()
            if opset == 7 and not caffe2:
                v = f"v{version}"
                aliases = (f"resnet{depth}-{v}", f"ResNet-{depth}-{v}", f"resnet{depth}{v}")
            url = row["weights_url"]
            notes = [f"opset {opset}"]
            if caffe2:
                notes.append(
                    "Caffe2 ResNet-50 (not exported from MXNet Gluon): no accuracy published; "
                    "preprocessing as the zoo's shared imagenet_preprocess"
                )
            if quant:
                notes.append(f"{quant} quantized by Intel Neural Compressor from resnet50-v1-12")
            entries.append(
                Entry(
                    source=SOURCE,
                    name=name,
                    aliases=aliases,
                    arch=parsed.arch,
                    builder=parsed.gluon_name,
                    naming="caffe2" if caffe2 else "mxnet",
                    preprocess=ONNX_ZOO,
                    weights=Weights(url=url, file_name=file_name_of(url), format="onnx", checksum=parse_checksum(row["checksum_or_sha"])),
                    published=(published(row, REFERENCE),) if row["top1"] else (),
                    input_size=ONNX_ZOO.crop,
                    notes="; ".join(notes),
                    alternate_weights=(
                        Weights(
                            url=f"{LEGACY_S3}/resnet{depth}v{version}/resnet{depth}v{version}.onnx",
                            file_name=f"resnet{depth}v{version}.onnx",
                            format="onnx",
                        ),
                    )
                    if opset == 7 and not caffe2
                    else (),
                )
            )
    return tuple(entries)


#: efficientnet-lite4/README.md's code: cv2 INTER_LINEAR, short side int(100 * 224 / 87.5) = 256 (long
#: side truncated), crop at int((w - 224) / 2), (x - 127) / 128 on 0-255, RGB
ONNX_ZOO_LITE4 = Preprocess(
    resize=256,
    crop=224,
    interpolation="bilinear",
    image_library="cv2",
    antialias=False,
    size_rounding="floor",
    crop_rounding="floor",
    mean=(127.0, 127.0, 127.0),
    std=(128.0, 128.0, 128.0),
    scale=1.0,
)
FAMILY_REFERENCE = "onnx/models @b1eeaa1a validated/vision/classification/{folder}/README.md"


def _family_entries() -> tuple[Entry, ...]:
    rows = read_rows("families_onnx_model_zoo.csv")
    labels = [row["model"] for row in rows]
    entries = []
    for row in rows:
        with located(row):
            name, url, label = row["variant"], row["weights_url"], row["model"]
            notes = []
            if row["mean"].startswith("127"):
                preprocess = ONNX_ZOO_LITE4
            else:
                preprocess = ONNX_ZOO
                if not row["mean"]:
                    notes.append("the README states no preprocessing: the zoo's validation notebook's assumed")
            if row["input_layout"] != "NCHW":
                notes.append(f"{row['input_layout']} input")
            entries.append(
                Entry(
                    source=SOURCE,
                    name=name,
                    aliases=(label,) if labels.count(label) == 1 and label.lower() != name else (),
                    arch=family_architecture(row["family"], "onnx_zoo", name),
                    builder=label,
                    naming=row["exporter"],
                    preprocess=preprocess,
                    weights=Weights(url=url, file_name=file_name_of(url), format="onnx", checksum=parse_checksum(row["checksum_or_sha"])),
                    published=(published(row, FAMILY_REFERENCE.format(folder=url.split("/classification/")[1].split("/")[0])),)
                    if row["top1"]
                    else (),
                    input_size=preprocess.crop,
                    softmax_output=row["output"] == "probabilities",
                    discrepancies=discrepancies(row),
                    notes="; ".join(notes),
                    table_family=row["family"],
                )
            )
    return tuple(entries)


ENTRIES: tuple[Entry, ...] = with_relations(_entries() + _family_entries())
