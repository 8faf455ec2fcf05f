"""Shared helpers for the PyTorch-family converter tests: real photographs plus random tensors as
inputs, the ONNX run, and the comparison used by every parity assertion."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoocheck.checks.images import bundled_photos, random_inputs
from zoocheck.converters.onnx_runtime import run_first_output, session
from zoocheck.checks.preprocess import preprocess_image
from zoocheck.zoo_registry.types import Entry


def inputs_for(entry: Entry, n_random: int = 2, seed: int = 0) -> np.ndarray:
    """The bundled real photographs through ``entry``'s own preprocessing, then random tensors."""
    photos = bundled_photos()
    assert photos, "scikit-image (a test dependency) ships the real photographs"
    batch = [preprocess_image(p, entry.preprocess) for p in photos]
    return np.concatenate([np.stack(batch), random_inputs(n_random, entry.input_size, seed)], axis=0)


def run_onnx(path: Path, batch: np.ndarray) -> np.ndarray:
    return run_first_output(session(path), batch)


def max_rel(reference: np.ndarray, test: np.ndarray) -> float:
    """Worst row of max|diff| / (max - min of the reference logits)."""
    reference, test = np.asarray(reference, np.float64), np.asarray(test, np.float64)
    span = reference.max(axis=1) - reference.min(axis=1)
    return float((np.abs(reference - test).max(axis=1) / span).max())


def assert_same(reference: np.ndarray, test: np.ndarray, tol: float) -> None:
    assert reference.shape == test.shape
    assert np.isfinite(test).all()
    rel = max_rel(reference, test)
    assert rel < tol, f"relative error {rel:.3g} >= {tol}"
    assert (reference.argmax(1) == test.argmax(1)).all()


def assert_not_degenerate(logits: np.ndarray, n_photos: int) -> None:
    """Random weights must still tell inputs apart: finite, moderate spread, several top-1s."""
    assert np.isfinite(logits).all()
    spread = logits.std(axis=1)
    assert (spread > 0.1).all() and (spread < 1e3).all(), spread
    assert len(set(logits[:n_photos].argmax(1).tolist())) >= 2, logits[:n_photos].argmax(1)
