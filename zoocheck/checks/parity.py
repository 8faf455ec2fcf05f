"""Output comparison: reference logits vs test logits, per input (Polygraphy-style comparator)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from zoocheck.converters.pipeline import Conversion
from zoocheck.records import PRECISION_TOLERANCES, Failure, OutputComparison, ParityResult, Tolerance


def compare_outputs(name: str, reference: np.ndarray, test: np.ndarray) -> OutputComparison:
    """Compare one input's logits (1-D, same length)."""
    ref = np.asarray(reference, dtype=np.float64).ravel()
    out = np.asarray(test, dtype=np.float64).ravel()
    if ref.shape != out.shape:
        raise ValueError(f"{name}: output shapes differ: {reference.shape} vs {test.shape}")
    nonfinite = not (np.isfinite(ref).all() and np.isfinite(out).all())
    if nonfinite:
        return OutputComparison(
            name, float("nan"), float("nan"), float("nan"), int(np.argmax(np.nan_to_num(ref))), int(np.argmax(np.nan_to_num(out))), 0, True
        )
    diff = np.abs(ref - out)
    max_abs = float(diff.max()) if diff.size else 0.0
    span = float(ref.max() - ref.min()) if ref.size else 0.0
    max_rel = max_abs / span if span > 0 else (0.0 if max_abs == 0 else float("inf"))
    norm = float(np.linalg.norm(ref) * np.linalg.norm(out))
    cosine = float(ref @ out / norm) if norm > 0 else (1.0 if max_abs == 0 else 0.0)
    top5_ref = set(np.argsort(-ref, kind="stable")[:5].tolist())
    top5_out = set(np.argsort(-out, kind="stable")[:5].tolist())
    return OutputComparison(
        input=name,
        max_abs_err=max_abs,
        max_rel_err=max_rel,
        cosine=cosine,
        top1_reference=int(np.argmax(ref)),
        top1_test=int(np.argmax(out)),
        top5_overlap=len(top5_ref & top5_out),
        nonfinite=False,
    )


def compare_batches(names: Sequence[str], reference: np.ndarray, test: np.ndarray) -> tuple[OutputComparison, ...]:
    """Compare [N, C] reference and test outputs row by row."""
    if reference.shape != test.shape or reference.shape[0] != len(names):
        raise ValueError(f"output shapes differ or do not match the inputs: {reference.shape} vs {test.shape}, {len(names)} inputs")
    return tuple(compare_outputs(n, r, t) for n, r, t in zip(names, reference, test))


def parity_result(
    *,
    source: str,
    model: str,
    reference_runtime: str,
    test_runtime: str,
    names: Sequence[str],
    reference: np.ndarray | None,
    test: np.ndarray | None,
    random_weights: bool,
    tolerance: Tolerance = Tolerance(),
    onnx_path: str | None = None,
    weights: str | None = None,
    failure: Failure | None = None,
    reference_fp64: np.ndarray | None = None,
    **accounting,
) -> ParityResult:
    """Build a ParityResult; a comparison that cannot be made becomes an 'error' result, never a raise.
    With ``reference_fp64`` (the reference framework's float64 forward), both outputs are also
    measured against it, so a failure from fp32 rounding alone says so."""
    comparisons: tuple[OutputComparison, ...] = ()
    reference_fp64_err = test_fp64_err = ()
    if failure is None:
        try:
            comparisons = compare_batches(names, reference, test)
            if reference_fp64 is not None:
                reference_fp64_err = tuple(c.max_rel_err for c in compare_batches(names, reference_fp64, reference))
                test_fp64_err = tuple(c.max_rel_err for c in compare_batches(names, reference_fp64, test))
        except Exception as exc:  # a shape mismatch is a finding about the model, not a crash
            failure = Failure.from_exception(source, model, "parity", exc)
    return ParityResult(
        source=source,
        model=model,
        reference=reference_runtime,
        test=test_runtime,
        tolerance=tolerance,
        comparisons=comparisons,
        random_weights=random_weights,
        onnx_path=onnx_path,
        weights=weights,
        failure=failure,
        reference_fp64_rel_err=reference_fp64_err,
        test_fp64_rel_err=test_fp64_err,
        **accounting,  # inputs, skipped, onnx_verified, random_seed: recorded as given
    )


@dataclasses.dataclass(frozen=True)
class ParityInputs:
    """What a parity check feeds both runtimes, and what it could not feed."""

    names: list[str]  # per row of ``batch``: 'random-0', 'chelsea.png'
    described: tuple[str, ...]  # per row: 'random-0 (standard normal, seed 0)', the photograph's path
    batch: np.ndarray
    skipped: tuple[tuple[str, str], ...]  # (photograph path, why it was left out)


def model_inputs(entry, images: Sequence[Path] | None, random_count: int = 2, seed: int = 0) -> ParityInputs:
    """Parity inputs for ``entry``: seeded random tensors plus real photographs preprocessed per the
    entry's own spec. Undecodable images are listed as skipped, not raised."""
    from zoocheck.checks.images import bundled_photos, random_inputs
    from zoocheck.checks.preprocess import ImageDecodeError, preprocess_image

    names = [f"random-{i}" for i in range(random_count)]
    described = [f"{name} (standard normal, seed {seed})" for name in names]
    tensors = list(random_inputs(random_count, entry.input_size, seed))
    skipped = []
    for path in images if images is not None else bundled_photos():
        try:
            tensors.append(preprocess_image(path, entry.preprocess))
        except ImageDecodeError as exc:
            skipped.append((str(path), str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__))
            continue
        names.append(Path(path).name)
        described.append(str(path))
    return ParityInputs(names, tuple(described), np.stack(tensors).astype(np.float32), tuple(skipped))


def check_parity(
    entry,
    *,
    weights: Path | None,
    random_seed: int | None,
    output: Path | None,
    onnx_path: Path | None = None,
    images: Sequence[Path] | None = None,
    tolerance: Tolerance | None = None,
    opset: int | None = None,
    on_stage: Callable[[str], None] | None = None,
    isolate: bool = True,
    graph: str | None = None,
    allow_unverified_onnx: bool = False,
) -> tuple[ParityResult, Conversion]:
    """Source framework vs onnxruntime on the same inputs.

    Converts ``entry`` to ``output`` (or takes an existing ``onnx_path``: an fp16/int8 variant is
    judged by its precision's tolerance unless ``tolerance`` is given), runs the native forward
    in an isolated child (``isolate=False``: in this process, for callers that isolate already)
    and the ONNX file in onnxruntime, and compares per input. Never raises for the model's
    failure: the result's status is 'error' and its failure says why. Raises BadInput before any
    work for an ``onnx_path`` of another model or weights (or without zoocheck metadata, unless
    ``allow_unverified_onnx``) and for ``images`` none of which decodes.
    """
    from zoocheck.capture import captured_text
    from zoocheck.converters import converter_for
    from zoocheck.converters.base import started
    from zoocheck.converters.onnx_runtime import run_first_output, session
    from zoocheck.converters.pipeline import DEFAULT_OPSET, convert
    from zoocheck.errors import BadInput
    from zoocheck.identity import ModelIdentity, check_input_size, check_onnx_file
    from zoocheck.zoo_registry.download import is_published_file

    verified, file_meta = True, None
    if onnx_path is not None:
        file_meta = check_onnx_file(onnx_path, ModelIdentity.of_run(entry, weights, random_seed), allow_unverified=allow_unverified_onnx)
        verified = file_meta is not None
        check_input_size(onnx_path, entry.preprocess.crop, entry.key)
    precision = ((file_meta or {}).get("variant") or {}).get("precision", "fp32")
    if tolerance is None:
        tolerance = PRECISION_TOLERANCES[precision]
    with captured_text() as caught:  # libpng's warnings about colour profiles go to the debug log
        fed = model_inputs(entry, images, random_count=variant_random_inputs(precision))
    decode_text = caught[0]
    if images and len(fed.skipped) == len(images):
        path, reason = fed.skipped[0]
        raise BadInput(
            f"{Path(path).parent}: none of the {len(images)} photographs decodes ({Path(path).name}: {reason}); give a folder of JPEG/PNG photographs"
        )
    names, batch = fed.names, fed.batch
    # onnxruntime on a converted file as soon as it is written, beside the framework's forwards
    ran_written: list[Callable[[], np.ndarray]] = []

    def run_written(path: Path) -> None:
        ran_written.append(started(lambda: run_first_output(session(path), batch), "onnxruntime"))

    conversion = convert(
        entry,
        output=None if onnx_path else output,
        weights=weights,
        random_seed=random_seed,
        opset=opset or DEFAULT_OPSET,
        inputs=batch,
        isolate=isolate,
        on_stage=on_stage,
        graph=graph,
        on_written=run_written,
    )
    if decode_text:
        conversion = dataclasses.replace(conversion, log=decode_text + conversion.log)
    test_path = onnx_path or conversion.onnx_path
    common = dict(
        source=entry.source,
        model=entry.name,
        reference_runtime=converter_for(entry.source).runtime(entry),
        test_runtime="onnxruntime" if precision == "fp32" else f"onnxruntime ({precision})",
        names=names,
        precision=precision,
        random_weights=weights is None,
        tolerance=tolerance,
        onnx_path=str(test_path) if test_path else None,
        weights=str(weights) if weights else None,
        inputs=fed.described,
        skipped=fed.skipped,
        onnx_verified=verified,
        random_seed=random_seed if weights is None else None,
        published_weights=weights is not None and is_published_file(entry, weights),
    )
    if not conversion.ok:
        for running in ran_written:  # nothing goes on running after the result
            with contextlib.suppress(Exception):
                running()
        return parity_result(reference=None, test=None, failure=conversion.failure, **common), conversion
    try:
        test = ran_written[0]() if ran_written else run_first_output(session(test_path), batch)
    except Exception as exc:  # an ONNX file onnxruntime cannot run is a parity finding
        return parity_result(
            reference=None, test=None, failure=Failure.from_exception(entry.source, entry.name, "parity", exc), **common
        ), conversion
    result = parity_result(reference=conversion.native_outputs, test=test, reference_fp64=conversion.native_outputs_fp64, **common)
    if result.status == "failed" and not result.fp32_noise:
        if precision != "fp32":
            divergence, note = variant_divergence(onnx_path, batch, tolerance), None
        elif onnx_path is not None:
            graph_form = (file_meta or {}).get("graph") or graph
            try:
                divergence, note = locate_divergence(
                    entry, weights, random_seed, onnx_path, batch, tolerance, opset or DEFAULT_OPSET, graph_form
                )
            except BadInput as exc:  # not this model's architecture: the file given is wrong, not a conversion
                return parity_result(
                    reference=None, test=None, failure=Failure.from_exception(entry.source, entry.name, "parity", exc), **common
                ), conversion
        else:
            divergence, note = locate_fresh_divergence(entry, weights, random_seed, test_path, batch, tolerance, isolate)
        if divergence is None and note is None:
            note = f"no compared tensor exceeds the tolerance on the first {DIVERGENCE_INPUTS} inputs"
        result = dataclasses.replace(result, first_divergence=divergence, divergence_note=None if divergence else note)
    return result, conversion


#: inputs fed to both graphs when looking for the first diverging node (every intermediate is kept)
DIVERGENCE_INPUTS = 3


def variant_random_inputs(precision: str) -> int:
    """How many standard-normal tensors a parity check feeds a file of ``precision``: none for int8,
    whose activation ranges are calibrated on images (noise beyond them says nothing about
    deployment), two otherwise."""
    return 0 if precision == "int8" else 2


def variant_divergence(variant: Path, batch: np.ndarray, tolerance: Tolerance):
    """Where an fp16/int8 variant starts to depart from the fp32 file it was made from (same
    tensor names: the converters keep them), beyond its precision's tolerance; None when no
    node can be compared."""
    from zoocheck.checks.divergence import DivergenceUnavailable, first_divergence
    from zoocheck.identity import onnx_metadata

    meta = onnx_metadata(variant)
    fp32 = Path(meta.variant.fp32_path)
    if not fp32.is_file():
        return None
    try:
        return first_divergence(fp32, variant, batch[:DIVERGENCE_INPUTS], tolerance=tolerance.max_rel_err)
    except DivergenceUnavailable:
        return None


def locate_divergence(entry, weights, random_seed, onnx_path: Path, batch: np.ndarray, tolerance: Tolerance, opset: int, graph: str | None):
    """Where ``onnx_path`` starts to differ from what the source framework computes: a fresh
    conversion of the same model and weights (same graph form, so the same node names), both
    compared node by node. (divergence, None), or (None, why none was found in one line).
    BadInput when the file's graph is not the architecture of ``entry`` at all."""
    from zoocheck import rundir
    from zoocheck.checks.divergence import DivergenceUnavailable, architecture_difference, first_divergence
    from zoocheck.converters.pipeline import convert
    from zoocheck.errors import BadInput

    with rundir.run_directory() as run:
        reference = convert(
            entry, output=run / "divergence-reference.onnx", weights=weights, random_seed=random_seed, opset=opset, graph=graph
        )
        if not reference.ok:
            return None, f"the fresh conversion to compare with failed: {reference.failure.one_line()}"
        difference = architecture_difference(reference.onnx_path, onnx_path)
        if difference is not None:
            raise BadInput(
                f"{onnx_path}: its graph is not the architecture of {entry.key} ({entry.arch.id}): {difference}; give the file of that model, or the --src/--model of the model it holds"
            )
        try:
            return first_divergence(reference.onnx_path, onnx_path, batch[:DIVERGENCE_INPUTS], tolerance=tolerance.max_rel_err), None
        except DivergenceUnavailable as exc:
            return None, str(exc)
        finally:
            reference.onnx_path.unlink(missing_ok=True)
            Path(f"{reference.onnx_path}.json").unlink(missing_ok=True)


def locate_fresh_divergence(entry, weights, random_seed, onnx_path: Path, batch: np.ndarray, tolerance: Tolerance, isolate: bool):
    """Where the file just converted (``onnx_path``, canonical or native) starts to differ from
    the source framework: the framework's own per-layer outputs (loaded again: the cost of a
    failure only) against the file's intermediates, in graph order (a native file's through its
    canonical form). (divergence, None), or (None, why none was found in one line: the
    framework cannot give its layers, e.g. a PaddleClas inference model, or the file's graph
    cannot be paired with the canonical one)."""
    from zoocheck.checks.divergence import DivergenceUnavailable, first_divergence_from_layers
    from zoocheck.converters import converter_for
    from zoocheck.converters.pipeline import native_layer_outputs

    inputs = batch[:DIVERGENCE_INPUTS]
    outputs = native_layer_outputs(entry, weights, random_seed, inputs, isolate=isolate)
    if outputs.layers is None:
        return None, f"no per-layer outputs from {converter_for(entry.source).runtime(entry)}: {outputs.unavailable}"
    try:
        return first_divergence_from_layers(outputs.layers, onnx_path, inputs, tolerance=tolerance.max_rel_err, arch=entry.arch), None
    except DivergenceUnavailable as exc:
        return None, str(exc)
