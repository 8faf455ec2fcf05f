"""zoocheck's one random-weights scheme, for every framework and family: every converter's
``--random-weights`` for an architecture whose family draws random weights (``Family.random_weights``)
draws ``random_weights(entry.arch, seed, entry.input_size)`` in the family's canonical names and
loads it through the mapping a published file takes (``layouts.py``); tests and benches write it
in each source's format (``formats.py``). A family's draw is ``calibrated(...)`` below with its
parameter shapes, its numpy forward and its residual branches' last batch norms
(``families/resnet/random.py``). Networks of no such family (timm's ResNet-RS, BiT/ResNetV2 with
GroupNorm, ...; GluonCV's resnet50_v1b_gn) keep the library's own convolution init and get the
batch-norm and classifier steps below in torch, with these constants (``torch_random.randomize``).

For seed ``s`` and an architecture, deterministic (numpy's PCG64):

- convolutions He-normal by fan-out, std sqrt(2 / (out * k * k / groups)), hidden Linear layers
  (VGG's) likewise with k = 1; MXNet v1's conv biases 0;
- batch norm gamma ~ U(0.5, 1.5), beta ~ N(0, 0.1), both times ``branch_gain`` (0.2, less above 70 blocks) on the
  last BN of each residual branch (so deep networks are not chaotic in float32, as the libraries'
  zero-init-last does for training);
- running statistics MEASURED on a seeded photo-like batch of ``CALIBRATION_IMAGES`` (4) images at
  the entry's input size (1/f noise with correlated channels, the range normalised photographs
  have), BN by BN in network order, so activations neither blow up nor
  vanish with depth; then PERTURBED: mean += N(0, 0.1) x std, variance x U(0.5, 1.5), so an exporter
  that drops or mis-folds a BN, or uses batch statistics, gives visibly different logits;
- classifier N(0, 0.01), then projected off the mean feature of a second calibration batch (a random
  classifier otherwise gives every photo the same top-1), bias 0, scaled so the logits' standard
  deviation across classes is ``LOGIT_SPREAD`` (2.0) on that batch: real photographs then get
  different top-1 classes and softmax is not saturated.

Pure numpy; the calibration forwards are the family's numpy forward in float32 (statistics
accumulated in float64): a ResNet-50 at 224 costs 2 passes x 4 images x 8 GFLOP, BLAS-bound
(``bench/random_weights.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from zoocheck.families.registry import family_of
from zoocheck.zoo_registry.types import Architecture

GAMMA_RANGE = (0.5, 1.5)  # batch-norm gamma ~ U
BETA_STD = 0.1  # batch-norm beta ~ N(0, .)
MEAN_SHIFT_STD = 0.1  # measured running mean += N(0, .) x measured std
VARIANCE_FACTOR_RANGE = (0.5, 1.5)  # measured running variance x U
CLASSIFIER_STD = 0.01  # classifier weights ~ N(0, .) before the projection and scaling
# Scale of the last batch norm of a residual branch (the one the libraries' own init zeroes), as
# trained deep ResNets have it: with gamma ~ U(0.5, 1.5) on every branch too, each block amplifies
# a perturbation and fp32 rounding alone grows with depth: timm resnetrs50's fp32 forward differed
# from its fp64 forward by 1.7e-3 of the logit range, resnetrs350's by 0.8 (top-1 at random). With
# 0.2 they agree to 5e-7 and 3e-5 (at 96 px), and a dropped or mis-folded BN still shows far above
# the parity tolerance (tests/test_resnetrs_parity.py).
RESIDUAL_BRANCH_GAIN = 0.2
# ... for networks of up to this many residual blocks; deeper ones get the gain times
# GAIN_BLOCKS / blocks, so the branches' summed contribution stays a 70-block network's. With 0.2,
# resnetrs420 (139 blocks) at 320 px was chaotic in fp32 on 3 of 5 photographs (fp32 vs fp64 up to
# 0.33 of the logit range); with 0.1, 1e-6. Every network with a ResNetSpec has fewer blocks
# (resnet200: 66), so this changes only timm's resnetrs270, resnetrs350 and resnetrs420.
GAIN_BLOCKS = 70
LOGIT_SPREAD = 2.0
CALIBRATION_IMAGES = 4


def branch_gain(blocks: int) -> float:
    """The scale of the last batch norm of each residual branch in a network of ``blocks`` blocks."""
    return RESIDUAL_BRANCH_GAIN * min(1.0, GAIN_BLOCKS / max(blocks, 1))


def calibration_batch(seed: int, size: int, count: int = CALIBRATION_IMAGES) -> np.ndarray:
    """Photo-like random inputs: equal power per octave from 1x1 up to pixel level, strongly
    correlated channels, amplitude of normalised photographs (white noise alone calibrates batch
    norm to statistics no photograph has)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((count, 3, size, size))
    cells = 1
    while True:
        cells = min(cells, size)
        lum = rng.standard_normal((count, 1, cells, cells))
        chroma = 0.3 * rng.standard_normal((count, 3, cells, cells))
        out += _upsample(lum + chroma, size) * 0.35
        if cells == size:
            return out.astype(np.float32)
        cells *= 2


def _upsample(x: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of the last two axes to ``size`` (half-pixel centres)."""
    n = x.shape[-1]
    pos = np.clip((np.arange(size) + 0.5) * n / size - 0.5, 0, n - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    t = pos - lo
    rows = x[..., lo, :] * (1 - t)[:, None] + x[..., hi, :] * t[:, None]
    return rows[..., lo] * (1 - t) + rows[..., hi] * t


#: The last weights drawn are kept (up to this size) and copied for the next call with the same
#: arguments: a sweep worker converts its entries grouped by architecture and input size (timm
#: alone publishes a dozen resnet50s), and the calibration forwards are most of a draw's cost.
#: Larger sets are drawn again: keeping 3 GB would be a 3 GB floor under the worker's next job.
MEMO_MAX_BYTES = 512 * 2**20
_last_draw: tuple[tuple, dict[str, np.ndarray]] | None = None


def random_weights(arch: Architecture, seed: int, input_size: int = 224) -> dict[str, np.ndarray]:
    """Seeded random canonical weights of ``arch`` (float32), by the scheme above; the caller owns
    the arrays returned."""
    global _last_draw
    key = (arch, seed, input_size)
    if _last_draw is not None and _last_draw[0] == key:
        return {name: array.copy() for name, array in _last_draw[1].items()}
    _last_draw = None  # the previous draw's memory is free before this one is drawn
    family = family_of(arch)
    if family is None:
        raise ValueError(f"{arch.id} belongs to no registered architecture family: no canonical random weights")
    params = family.part("random_weights")(arch, seed, input_size)
    if sum(array.nbytes for array in params.values()) <= MEMO_MAX_BYTES:
        _last_draw = (key, {name: array.copy() for name, array in params.items()})
    return params


def calibrated(
    arch: Architecture,
    shapes: dict[str, tuple[int, ...]],
    forward: Callable,
    seed: int,
    input_size: int,
    branch_ends: Sequence[str] = (),
    classifier: str = "fc",
) -> dict[str, np.ndarray]:
    """The scheme above for a family: ``shapes`` its canonical parameters (batch norms as
    ``<module>.weight/bias/running_mean/running_var``, convolutions 4-d ``weight``), ``forward``
    its numpy forward (``forward(arch, params, x, measure=, features=, dtype=)``: ``measure(bn,
    activations)`` before each batch norm, ``features`` the pooled features the classifier
    ``<classifier>.weight`` sees), ``branch_ends`` the batch norms scaled down by ``branch_gain``
    (the last of each residual branch, one per block)."""
    gains = dict.fromkeys(branch_ends, branch_gain(len(branch_ends)))
    rng = np.random.default_rng(seed)
    params: dict[str, np.ndarray] = {}
    for name, shape in shapes.items():
        module, leaf = name.rsplit(".", 1)
        if leaf == "weight" and (len(shape) == 4 or (len(shape) == 2 and name != f"{classifier}.weight")):
            # a convolution or a hidden Linear layer (VGG's); groups: out/groups * groups
            fan_out = int(np.prod(shape)) // shape[1]
            # drawn in float32: float64 draws of an 829 M-parameter ResNeXt would hold 6.6 GB
            params[name] = rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_out))
        elif name == f"{classifier}.weight":
            params[name] = rng.normal(0.0, CLASSIFIER_STD, shape)
        elif leaf == "weight":  # BN gamma
            params[name] = rng.uniform(*GAMMA_RANGE, shape) * gains.get(module, 1.0)
        elif leaf == "bias" and f"{module}.running_mean" in shapes:  # BN beta
            params[name] = rng.normal(0.0, BETA_STD, shape) * gains.get(module, 1.0)
        elif leaf == "running_var":
            params[name] = np.ones(shape)
        else:  # conv / fc biases, running means: measured or set below
            params[name] = np.zeros(shape)

    def measure(bn: str, activations: np.ndarray) -> None:  # channels last
        per_channel = activations.reshape(-1, activations.shape[-1])
        mean = per_channel.mean(axis=0, dtype=np.float64)
        params[f"{bn}.running_mean"] = mean
        params[f"{bn}.running_var"] = np.maximum((per_channel * per_channel).mean(axis=0, dtype=np.float64) - mean * mean, 0.0)

    forward(arch, params, calibration_batch(seed, input_size), measure=measure, dtype=np.float32)
    for name in shapes:
        if name.endswith(".running_mean"):
            module = name[: -len(".running_mean")]
            std = np.sqrt(np.maximum(params[f"{module}.running_var"], 1e-5))
            params[name] = params[name] + rng.standard_normal(shapes[name]) * MEAN_SHIFT_STD * std
            params[f"{module}.running_var"] = params[f"{module}.running_var"] * rng.uniform(*VARIANCE_FACTOR_RANGE, shapes[name])
    spread_heads(arch, params, forward, seed, input_size, (classifier,))
    return {k: v.astype(np.float32) for k, v in params.items()}


def spread_heads(
    arch: Architecture, params: dict[str, np.ndarray], forward: Callable, seed: int, input_size: int, heads: tuple[str, ...] = ("fc",)
) -> None:
    """The scheme's classifier step for each head, in place: ``forward`` (the family's numpy
    forward) on the second calibration batch gives the features each head reads, in order, and
    ``spread_classifier`` its weight (a DeiT's distillation head beside its class head)."""
    seen: list[np.ndarray] = []
    forward(arch, params, calibration_batch(seed + 1, input_size), features=seen, dtype=np.float32)
    for head, feats in zip(heads, seen):
        params[f"{head}.weight"] = spread_classifier(params[f"{head}.weight"], feats.astype(np.float64))


def spread_classifier(weight: np.ndarray, feats: np.ndarray) -> np.ndarray:
    """The scheme's classifier step: ``weight`` [classes, features] projected off the mean of
    ``feats`` (the features it reads on the second calibration batch), scaled so the logits spread
    by ``LOGIT_SPREAD``."""
    mean = feats.mean(axis=0)
    if np.linalg.norm(mean) > 0:
        u = mean / np.linalg.norm(mean)
        weight = weight - np.outer(weight @ u, u)
    spread = float((feats @ weight.T).std(axis=1).mean())
    return weight * (LOGIT_SPREAD / spread) if np.isfinite(spread) and spread > 0 else weight
