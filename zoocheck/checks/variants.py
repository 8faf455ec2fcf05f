"""fp16 and int8 variants of a converted file, and their parity.

A variant is made from an fp32 file zoocheck wrote (``converters/variants.py``), so it names the
same model and weights. Its parity is judged by its precision's own tolerance
(``records.PRECISION_TOLERANCES``) twice: against the fp32 file it came from (what the precision
alone costs) and against the source framework (what the user ships, against what the zoo runs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoocheck.digests import file_digest, json_digest
from zoocheck.errors import BadInput
from zoocheck.identity import onnx_metadata
from zoocheck.records import PRECISION_TOLERANCES, CalibrationSet, ConversionRecord, Failure, OnnxMetadata, ParityResult
from zoocheck.zoo_registry.types import Preprocess

#: at most this many images calibrate an int8 file (evenly spaced over the folder given)
DEFAULT_CALIBRATION_IMAGES = 256
#: fewer calibration images than this give activation ranges that do not represent the data
FEW_CALIBRATION_IMAGES = 100


@dataclass(frozen=True)
class Calibration:
    """The images an int8 file is calibrated on, preprocessed, and what they are."""

    inputs: np.ndarray
    described: CalibrationSet
    warning: str | None  # set when the set is too small to trust


def variant_path(fp32_path: Path, precision: str) -> Path:
    """Where the ``precision`` variant of ``fp32_path`` goes: beside it, ``<name>.<precision>.onnx``."""
    return fp32_path.with_name(f"{fp32_path.stem}.{precision}.onnx")


def calibration_images(folder: Path | None, count: int = DEFAULT_CALIBRATION_IMAGES) -> tuple[list[Path], str]:
    """``count`` images evenly spaced over ``folder`` (searched recursively, in sorted order: an
    ImageNet val folder in any layout), or the bundled photographs when no folder is given;
    with where they came from."""
    from zoocheck.checks.images import IMAGE_SUFFIXES, bundled_photos

    if folder is None:
        return bundled_photos(), "the bundled photographs (scikit-image)"
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInput(
            f"{folder}: not a folder of calibration images; give --calibration a folder of JPEG/PNG images from the data you evaluate on"
        )
    found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not found:
        raise BadInput(
            f"{folder}: holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}); give --calibration a folder of images from the data you evaluate on"
        )
    step = max(1, len(found) // count)
    return found[::step][:count], f"{folder.resolve()} (every {step}. of {len(found)} images)"


def calibration(spec: Preprocess, folder: Path | None, count: int = DEFAULT_CALIBRATION_IMAGES) -> Calibration:
    """The calibration inputs for a model fed as ``spec`` says, from ``folder`` (default: the
    bundled photographs, with a warning that they are too few)."""
    from zoocheck.checks.evaluate import spec_key
    from zoocheck.checks.preprocess import ImageDecodeError, preprocess_image

    paths, origin = calibration_images(folder, count)
    inputs, used = [], []
    for path in paths:
        try:
            inputs.append(preprocess_image(path, spec))
        except ImageDecodeError:
            continue
        used.append(path)
    if not used:
        raise BadInput(
            f"{folder or 'the bundled photographs'}: none of the calibration images decodes; give --calibration a folder of JPEG/PNG images"
        )
    described = CalibrationSet(
        fingerprint=json_digest([file_digest(p) for p in used]), images=len(used), origin=origin, preprocess_fingerprint=spec_key(spec)
    )
    warning = None
    if len(used) < FEW_CALIBRATION_IMAGES:
        warning = (
            f"int8 calibrated on {len(used)} images from {origin}: too few for activation ranges that represent real data; "
            f"give --calibration a folder of a few hundred images from the data you evaluate on"
        )
    return Calibration(np.stack(inputs).astype(np.float32), described, warning)


@dataclass(frozen=True)
class VariantOutcome:
    """A variant made (its record and path) or not (the failure), with what the converters printed
    and a warning about the calibration set."""

    record: ConversionRecord | None
    failure: Failure | None
    path: Path
    log: str = ""
    warning: str | None = None


def fp32_metadata(path: Path) -> OnnxMetadata:
    """The zoocheck metadata of an fp32 file a variant can be made from; BadInput otherwise."""
    meta = onnx_metadata(path)
    if meta is None:
        raise BadInput(
            f"{path}: has no zoocheck metadata, so the model and weights of its variant could not be named; convert it with `zoocheck convert` first"
        )
    if meta.variant is not None:
        raise BadInput(
            f"{path}: is already an {meta.variant.precision} variant (of {meta.variant.fp32_file.name}); make variants from the fp32 file"
        )
    return meta


def make_variant(fp32_path: Path, precision: str, *, output: Path | None = None, calibration_folder: Path | None = None) -> VariantOutcome:
    """The ``precision`` variant of the fp32 file ``fp32_path`` at ``output`` (default
    ``variant_path``). A converter's failure is returned in the outcome, never raised; BadInput for
    a file or calibration folder that cannot be used."""
    from zoocheck.converters.variants import write_variant

    fp32_path = Path(fp32_path)
    meta = fp32_metadata(fp32_path)
    output = Path(output) if output else variant_path(fp32_path, precision)
    calib = None
    if precision == "int8":
        spec = Preprocess(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta.preprocess.items()})
        calib = calibration(spec, calibration_folder)
    try:
        written, log = write_variant(
            fp32_path,
            output,
            precision,
            meta,
            calibration=calib.inputs if calib else None,
            calibration_set=calib.described if calib else None,
        )
    except Exception as exc:  # the quantizer or converter refused this graph: a finding about the model
        failure = Failure.from_exception(meta.source, meta.model, "export", exc)
        return VariantOutcome(None, failure, output, warning=calib.warning if calib else None)
    record = ConversionRecord(
        status="ok",
        source=meta.source,
        model=meta.model,
        arch=meta.arch,
        random_weights=meta.random_weights,
        random_seed=meta.random_seed,
        onnx_path=str(output),
        weights=meta.weights.file if meta.weights else None,
        weights_sha256=meta.weights.sha256 if meta.weights else None,
        output=meta.output,
        opset=written.opset,
        ir_version=written.ir_version,
        input_shape=meta.input_shape,
        output_shape=meta.output_shape,
        onnx_sha256=file_digest(output),
        graph=meta.graph,
        structure_fingerprint=meta.structure_fingerprint,
        versions=written.variant.tools,
        variant=written.variant,
    )
    return VariantOutcome(record, None, output, log, calib.warning if calib else None)


def compare_with_fp32(variant: Path, names: Sequence[str], batch: np.ndarray, **described) -> ParityResult:
    """The variant against the fp32 file it was made from (checked by sha256), on ``batch``,
    judged by the variant's precision's tolerance."""
    from zoocheck.checks.parity import parity_result
    from zoocheck.converters.onnx_runtime import run_first_output, session

    meta = onnx_metadata(variant)
    info = meta.variant
    fp32 = Path(info.fp32_path)
    if not fp32.is_file() or file_digest(fp32) != info.fp32_file.sha256:
        raise BadInput(
            f"{variant}: the fp32 file it was made from ({info.fp32_path}, sha256 {info.fp32_file.sha256[:12]}) is gone or changed; make the variant again from the fp32 file"
        )
    return parity_result(
        source=meta.source,
        model=meta.model,
        reference_runtime="onnxruntime (fp32 file)",
        test_runtime=f"onnxruntime ({info.precision})",
        names=names,
        reference=run_first_output(session(fp32), batch),
        test=run_first_output(session(variant), batch),
        random_weights=meta.random_weights,
        tolerance=PRECISION_TOLERANCES[info.precision],
        onnx_path=str(variant),
        weights=meta.weights.file if meta.weights else None,
        precision=info.precision,
        **described,
    )


def variant_parity(
    entry,
    weights: Path | None,
    random_seed: int | None,
    variant: Path,
    *,
    images=None,
    tolerance=None,
    opset: int | None = None,
    graph: str | None = None,
    framework_checked: bool = False,
    isolate: bool = True,
) -> list[tuple[ParityResult, object]]:
    """A variant against the source framework (unless ``framework_checked``: a parity run on the
    variant itself did that) and against the fp32 file it was made from, each judged by the
    variant's precision's tolerance (unless ``tolerance``): [(result, the framework check's
    conversion or None)]."""
    from zoocheck.checks.parity import check_parity, model_inputs, variant_random_inputs
    from zoocheck.zoo_registry.download import is_published_file

    meta = onnx_metadata(variant)
    found = []
    if not framework_checked:
        found.append(
            check_parity(
                entry,
                weights=weights,
                random_seed=random_seed,
                output=None,
                onnx_path=variant,
                images=images,
                tolerance=tolerance,
                opset=opset,
                graph=graph,
                isolate=isolate,
            )
        )
    fed = model_inputs(entry, images, random_count=variant_random_inputs(meta.precision))
    against_fp32 = compare_with_fp32(
        variant,
        fed.names,
        fed.batch,
        inputs=fed.described,
        skipped=fed.skipped,
        random_seed=meta.random_seed,
        published_weights=weights is not None and is_published_file(entry, weights),
    )
    found.append((against_fp32, None))
    return found
