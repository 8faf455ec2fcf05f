"""Seeded random weights for a PaddleClas network whose family draws no canonical weights
(MobileNetV2/V3, DenseNet, VGG, EfficientNet: ``zoocheck/families/<family>/paddle.py``), as
``torch_random.randomize`` gives them to a torch network: Paddle's own initialisation of the
convolutions (seeded), then the batch-norm and classifier steps of zoocheck's one scheme with its
constants (``weights/random.py``): gammas and betas drawn (times ``branch_gain`` on the batch
norms the builder marks as ending a residual branch), running statistics measured on the
scheme's calibration batch BN by BN in network order and then perturbed, the classifier projected
off the mean feature and scaled to ``LOGIT_SPREAD``. Deterministic for a seed and an architecture.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from zoocheck.converters.paddle_export import import_paddle
from zoocheck.converters.weights import random as rw

#: set True by a builder on the batch norm that ends a residual branch (its output is added to the
#: block's input): its gamma and beta are drawn times ``branch_gain``, as the scheme says
RESIDUAL_BRANCH_END = "ends_residual_branch"


def random_network(build: Callable, seed: int, input_size: int):
    """``build()`` (a Paddle network in eval mode) holding seed ``seed``'s random weights."""
    paddle = import_paddle()
    paddle.seed(seed)
    network = build()
    network.eval()
    rng = np.random.default_rng(seed)
    norms = [layer for layer in network.sublayers() if isinstance(layer, paddle.nn.layer.norm._BatchNormBase)]
    gain = rw.branch_gain(sum(getattr(norm, RESIDUAL_BRANCH_END, False) for norm in norms))
    with paddle.no_grad():
        for norm in norms:
            scale = gain if getattr(norm, RESIDUAL_BRANCH_END, False) else 1.0
            norm.weight.set_value((rng.uniform(*rw.GAMMA_RANGE, norm.weight.shape) * scale).astype(np.float32))
            norm.bias.set_value((rng.normal(0.0, rw.BETA_STD, norm.bias.shape) * scale).astype(np.float32))
        _measure_statistics(paddle, network, norms, seed, input_size)
        for norm in norms:
            std = np.sqrt(np.maximum(norm._variance.numpy(), 1e-5))
            norm._mean.set_value((norm._mean.numpy() + rng.standard_normal(std.shape) * rw.MEAN_SHIFT_STD * std).astype(np.float32))
            norm._variance.set_value((norm._variance.numpy() * rng.uniform(*rw.VARIANCE_FACTOR_RANGE, std.shape)).astype(np.float32))
        _spread_logits(paddle, network, rng, seed, input_size)
    return network


def _measure_statistics(paddle, network, norms: list, seed: int, input_size: int) -> None:
    """Each batch norm's running statistics set, just before it runs, to those of its input on the
    calibration batch (its input already normalised by the batch norms before it)."""

    def measure(norm, inputs):
        x = inputs[0].numpy().astype(np.float64)
        norm._mean.set_value(x.mean(axis=(0, 2, 3)).astype(np.float32))
        norm._variance.set_value(x.var(axis=(0, 2, 3)).astype(np.float32))

    removers = [norm.register_forward_pre_hook(measure).remove for norm in norms]
    try:
        network(paddle.to_tensor(rw.calibration_batch(seed, input_size)))
    finally:
        for remove in removers:
            remove()


def _spread_logits(paddle, network, rng: np.random.Generator, seed: int, input_size: int) -> None:
    """The scheme's classifier step on the last Linear (Paddle's weight is [in, out]): drawn, then
    projected off the mean feature of the second calibration batch, bias cleared, scaled so the
    logits spread by ``LOGIT_SPREAD``."""
    linears = [layer for layer in network.sublayers() if isinstance(layer, paddle.nn.Linear)]
    if not linears:
        return
    fc = linears[-1]
    weight = rng.normal(0.0, rw.CLASSIFIER_STD, fc.weight.shape)
    seen = []
    remove = fc.register_forward_pre_hook(lambda _layer, inputs: seen.append(inputs[0].numpy().astype(np.float64))).remove
    try:
        network(paddle.to_tensor(rw.calibration_batch(seed + 1, input_size)))
    finally:
        remove()
    features = seen[-1]
    mean = features.mean(axis=0)
    if np.linalg.norm(mean) > 0:
        unit = mean / np.linalg.norm(mean)
        weight -= np.outer(unit, unit @ weight)
    spread = float((features @ weight).std(axis=1).mean())
    if np.isfinite(spread) and spread > 0:
        weight *= rw.LOGIT_SPREAD / spread
    fc.weight.set_value(weight.astype(np.float32))
    if fc.bias is not None:
        fc.bias.set_value(np.zeros(fc.bias.shape, np.float32))
