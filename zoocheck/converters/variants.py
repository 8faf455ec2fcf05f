"""Deployment variants of an fp32 file zoocheck wrote: fp16 through onnxconverter-common, int8
through onnxruntime's static quantization. Both stay drop-ins for the fp32 file: the same input
and output names, shapes and fp32 types.

fp16: every float tensor in half precision except the graph's inputs and outputs (``keep_io_types``),
so a caller feeds and reads fp32 as before. int8: QDQ format (QuantizeLinear/DequantizeLinear
pairs around each quantized op, what TensorRT, OpenVINO and onnxruntime all read), weights
per channel, activations symmetric int8 calibrated by min/max on the images given (the caller
preprocesses them as the model's own spec says).

The variant's metadata is the fp32 file's, with ``variant`` saying how it was made and from which
file (by sha256), and the facts (opset, IR version) read from the file written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoocheck.capture import captured_text
from zoocheck.records import CalibrationSet, OnnxFile, OnnxMetadata, VariantInfo

FP16_METHOD = "onnxconverter-common float16 (fp32 graph inputs and outputs kept)"
INT8_METHOD = "onnxruntime quantize_static: QDQ, per-channel int8 weights, int8 activations (min/max calibration)"


def _versions(*packages: str) -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in packages}


def _fp16(source: Path, staging: Path):
    import onnx
    from onnxconverter_common import float16

    return float16.convert_float_to_float16(onnx.load(str(source)), keep_io_types=True)


def _int8(source: Path, staging: Path, calibration: np.ndarray):
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Batches(CalibrationDataReader):
        def __init__(self, name: str):
            self.batches = iter([{name: image[None]} for image in calibration])

        def get_next(self):
            return next(self.batches, None)

    prepared, quantized = staging / "prepared.onnx", staging / "int8.onnx"
    # shape inference and the graph clean-up onnxruntime's quantizer expects before it quantizes
    quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    input_name = onnx.load(str(prepared), load_external_data=False).graph.input[0].name
    quantize_static(
        str(prepared),
        str(quantized),
        Batches(input_name),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
    )
    return onnx.load(str(quantized))


def write_variant(
    source: Path,
    output: Path,
    precision: str,
    metadata: OnnxMetadata,
    *,
    calibration: np.ndarray | None = None,
    calibration_set: CalibrationSet | None = None,
) -> tuple[OnnxMetadata, str]:
    """Write the ``precision`` variant of the fp32 file ``source`` (whose zoocheck metadata is
    ``metadata``) to ``output`` (+ its description); int8 needs ``calibration`` (float32 NCHW
    inputs, preprocessed as the model's spec says) and its ``calibration_set``. Returns the
    variant's metadata and what the converters printed (for the debug log)."""
    from zoocheck import rundir
    from zoocheck.converters.normalize import attach_metadata, onnx_facts, save_atomic
    from zoocheck.digests import file_digest

    if precision not in ("fp16", "int8"):
        raise ValueError(f"no {precision!r} variant: zoocheck makes fp16 and int8 files")
    if precision == "int8" and (calibration is None or calibration_set is None or not len(calibration)):
        raise ValueError("an int8 variant needs calibration images")
    with rundir.run_directory() as staging, captured_text() as caught:
        if precision == "fp16":
            model, method, tools = _fp16(source, staging), FP16_METHOD, _versions("onnxconverter-common", "onnx")
        else:
            model, method, tools = _int8(source, staging, calibration), INT8_METHOD, _versions("onnxruntime", "onnx")
        facts = onnx_facts(model)
        variant = VariantInfo(
            precision=precision,
            method=method,
            tools=tools,
            calibration=calibration_set if precision == "int8" else None,
            fp32_file=OnnxFile(name=source.name, sha256=file_digest(source), bytes=source.stat().st_size),
            fp32_path=str(source.resolve()),
        )
        written = OnnxMetadata.from_json(
            {**metadata.to_json(), "opset": facts["opset"], "ir_version": facts["ir_version"], "variant": variant.to_json()}
        )
        body = written.to_json()
        body.pop("onnx_file", None)
        attach_metadata(model, body)
        save_atomic(model, output, body)
    return written, caught[0]
