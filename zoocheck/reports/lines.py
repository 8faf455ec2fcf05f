"""One greppable line per record, as the terminal, the sweep's table and its stored job messages
print them (``PARITY PASS ...``, ``EVAL ...``). Renders only: every number is the record's own."""

from __future__ import annotations

from zoocheck.records import Divergence, EvalResult, LibraryPreprocessCheck, PairedEval, ParityResult, Tolerance


def tolerance_line(tolerance: Tolerance) -> str:
    """The bounds in words."""
    t = tolerance
    return (
        f"rel err <= {t.max_rel_err:g} (of the logit range)"
        + (f", abs err <= {t.max_abs_err:g}" if t.max_abs_err is not None else "")
        + f", cosine >= {t.min_cosine:g}, top-1 {'must agree' if t.require_top1 else 'not judged per input'}, "
        f"top-5 overlap >= {t.min_top5_overlap}"
        + (f", top-1 agreement >= {t.min_top1_agreement:.0%} of the inputs" if t.min_top1_agreement is not None else "")
        + ("" if t.precision == "fp32" else f" ({t.precision} tolerance)")
        + "; NaN/Inf always fail"
    )


def divergence_line(divergence: Divergence) -> str:
    d = divergence
    weights = f" (weights {', '.join(d.initializers)})" if d.initializers else ""
    layer = f" = canonical layer {d.layer}" if d.layer else ""
    return (
        f"first divergence at node {d.node} ({d.op_type}){layer}{weights}: rel err {d.max_rel_err:.3g} "
        f"> {d.tolerance:g} after {d.nodes_compared} agreeing nodes"
    )


def fp32_yardstick(result: ParityResult) -> str:
    """The reference framework's own fp32 error beside the test's: how far its fp32 forward is
    from its fp64 forward, or that it has none (MXNet, an ONNX file run by onnxruntime)."""
    if not result.reference_fp64_rel_err:
        return f"{result.reference} has no fp64 forward"
    return f"{result.reference} fp32 vs fp64 {max(result.reference_fp64_rel_err):.3g}"


def parity_line(result: ParityResult) -> str:
    r = result
    weights = "RANDOM WEIGHTS" if r.random_weights else (r.weights or "?")
    if not r.onnx_verified:
        weights += ", UNVERIFIED ONNX FILE"
    if r.skipped:
        weights += f", {len(r.skipped)} photographs skipped"
    if r.status == "error":
        return f"PARITY ERROR {r.source}/{r.model} [{weights}]: {r.failure.one_line() if r.failure else 'no inputs compared'}"
    worst = max(c.max_rel_err for c in r.comparisons)
    agree = sum(c.top1_agree for c in r.comparisons)
    verdict = "PASS" if r.status == "ok" else "FAIL"
    return (
        f"PARITY {verdict} {r.source}/{r.model} {r.reference} vs {r.test} "
        f"[{weights}]: max rel err {worst:.3g} (tol {r.tolerance.max_rel_err:g}; {fp32_yardstick(r)}), "
        f"top-1 agree {agree}/{len(r.comparisons)}"
        + (f": fp32 rounding, not the conversion ({r.test} vs fp64 {max(r.test_fp64_rel_err):.3g})" if r.fp32_noise else "")
        + (f"; {divergence_line(r.first_divergence)}" if r.first_divergence is not None else "")
        + (f"; first divergence not located: {r.divergence_note}" if r.divergence_note else "")
    )


def eval_line(result: EvalResult) -> str:
    r = result
    weights = " [RANDOM WEIGHTS]" if r.random_weights else ""
    weights += "" if r.onnx_verified else " [UNVERIFIED ONNX FILE]"
    acc = f"top-1 {r.top1:.3f}% top-5 {r.top5:.3f}%" if r.top1 is not None else "no image evaluated"
    precision = "" if r.precision == "fp32" else f" {r.precision}"
    return (
        f"EVAL {r.source}/{r.model}{precision} {r.backend}{weights}: {acc} on {r.images} images "
        f"({len(r.skipped)} skipped) in {r.time_s:.1f} s, {r.throughput:.1f} img/s"
    )


def preprocess_line(check: LibraryPreprocessCheck) -> str:
    c = check
    head = f"PREPROCESS {c.status.upper()} {c.source}/{c.model} vs {c.library}"
    if c.status == "skipped":
        return head
    line = f"{head}: max pixel diff {c.max_pixel_diff:.3g} (tol {c.tolerance:g}) on {len(c.images)} images"
    errors = [r.image for r in c.images if r.error]
    if errors:
        line += f"; not preprocessed: {', '.join(errors)}"
    if c.effect is not None:
        line += f"; logits rel err {c.effect.max_rel_err:.3g}, top-1 flips {len(c.effect.top1_flips)}"
    return line


def paired_line(paired: PairedEval) -> str:
    a, b = paired.reference, paired.candidate
    weights = " [RANDOM WEIGHTS]" if a.random_weights or b.random_weights else ""
    judged = "conclusive" if paired.conclusive else f"not conclusive on {paired.images} images"
    return (
        f"PAIRED {paired.verdict.upper()}{weights} {b.source}/{b.model} {b.precision} vs {a.source}/{a.model} {a.precision}: "
        f"top-1 {paired.difference:+.3f} points ({paired.confidence:.0%} CI {paired.ci_low:+.3f} .. {paired.ci_high:+.3f}), "
        f"flips {paired.reference_only} lost / {paired.candidate_only} gained, McNemar p={paired.mcnemar_p:.3g}, "
        f"allowed drop {paired.allowed_drop:.3f} points ({paired.max_drop:.1%} of {a.top1:.3f}): {judged}"
    )


__all__ = ["divergence_line", "eval_line", "fp32_yardstick", "paired_line", "parity_line", "preprocess_line", "tolerance_line"]
