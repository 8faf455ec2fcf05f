"""What an ONNX file zoocheck writes says about itself (``OnnxMetadata``: model, weights,
preprocessing, graph form, a variant's origin) and the conversion record the store keeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from zoocheck.records.codec import Record, RecordError, utc_now
from zoocheck.records.failures import Failure


@dataclass(frozen=True)
class WeightsRef(Record):
    """The weights file a conversion loaded: its path and sha256 (None for a directory)."""

    file: str
    sha256: str | None


@dataclass(frozen=True)
class OnnxFile(Record):
    """The written ONNX file itself, as the description beside it names it (a file cannot hold
    its own checksum)."""

    name: str
    sha256: str
    bytes: int


@dataclass(frozen=True)
class CalibrationSet(Record):
    """The images an int8 file's activation ranges were calibrated on."""

    fingerprint: str  # json digest of the images' sha256 in the order fed
    images: int
    origin: str  # the folder or data set they were taken from ('bundled photographs' by default)
    preprocess_fingerprint: str  # json digest of the preprocessing spec they were fed through


@dataclass(frozen=True)
class VariantInfo(Record):
    """How a deployment variant (fp16, int8) was made from an fp32 file zoocheck wrote."""

    precision: Literal["fp16", "int8"]
    method: str  # 'onnxconverter-common float16, fp32 inputs/outputs kept', 'onnxruntime static QDQ ...'
    fp32_file: OnnxFile  # the fp32 file it came from, by name and sha256
    fp32_path: str  # where that file was when the variant was made
    tools: dict[str, str]  # the converters' versions
    calibration: CalibrationSet | None = None  # int8 only


@dataclass(frozen=True)
class OnnxMetadata(Record):
    """The JSON in ``metadata_props["zoocheck"]`` of every file zoocheck writes, and beside it."""

    zoocheck_version: str
    source: str
    model: str
    arch: str
    random_weights: bool
    random_seed: int | None
    weights: WeightsRef | None
    published_weights_url: str | None
    preprocess: dict[str, Any]  # the entry's Preprocess spec as a dict
    input_size: int
    label_space: str
    output: Literal["logits", "probabilities"]
    opset: int  # as written in the file (an exporter may raise the opset asked for)
    versions: dict[str, str]
    opset_requested: int | None = None
    ir_version: int | None = None
    input_shape: tuple[int | str, ...] | None = None  # dims, "N" for the dynamic batch
    output_shape: tuple[int | str, ...] | None = None
    graph: Literal["canonical", "native"] | None = None  # the graph form written (converters/graph)
    structure_fingerprint: str | None = None  # equal for every file of one architecture's structure
    onnx_file: OnnxFile | None = None  # only in the description beside the file
    zoocheck_code: str | None = None  # digests.code_digest of the zoocheck that wrote it
    variant: VariantInfo | None = None  # set for an fp16/int8 file made from a zoocheck fp32 file

    @property
    def precision(self) -> str:
        return self.variant.precision if self.variant else "fp32"

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        if self.onnx_file is None:  # inside the file itself: it cannot name its own checksum
            del data["onnx_file"]
        return data

    def __post_init__(self) -> None:
        if self.random_weights == (self.weights is not None):
            raise RecordError(
                f"{self.source}/{self.model}: metadata must name either weights or random weights, not {'both' if self.weights else 'neither'}"
            )
        if self.random_weights and self.random_seed is None:
            raise RecordError(f"{self.source}/{self.model}: random-weights metadata without a seed")


# ---------------------------------------------------------------------------------------------
# conversion


@dataclass(frozen=True)
class ConversionRecord(Record):
    """One conversion attempt of one model, as the results store keeps it."""

    KIND: ClassVar[str] = "conversion"

    status: Literal["ok", "failed"]
    source: str
    model: str
    arch: str
    random_weights: bool
    random_seed: int | None = None
    onnx_path: str | None = None
    weights: str | None = None
    weights_sha256: str | None = None
    output: Literal["logits", "probabilities"] = "logits"
    # read back from the file written, not what was asked for
    opset: int | None = None
    opset_requested: int | None = None
    ir_version: int | None = None
    input_shape: tuple[int | str, ...] | None = None
    output_shape: tuple[int | str, ...] | None = None
    onnx_sha256: str | None = None
    graph: Literal["canonical", "native"] | None = None
    structure_fingerprint: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    failure: Failure | None = None
    time: str = field(default_factory=utc_now)
    variant: VariantInfo | None = None  # an fp16/int8 file made from an fp32 one: how, and from which

    @property
    def precision(self) -> str:
        return self.variant.precision if self.variant else "fp32"
