"""GluonCV's networks of the families other than ResNet (MobileNetV2/V3, DenseNet, VGG), run in MXNet.

Each family builds GluonCV's network from its spec (``families/<family>/gluoncv.py``: ``network(arch)``,
uninitialised, with GluonCV's structural parameter names); a GluonCV ``.params`` file (MXNet's
``save_parameters``) is loaded into it strictly by MXNet, so every name and shape must match both
ways. The native forward runs in MXNet and the ONNX file is written by ``mxnet.onnx`` (the Gluon
converter's ``GluonNative``).

Canonical weights (``canonical_network``) load into the networks of the families with a ``gluoncv``
layout (MobileNetV2, VGG), as a GluonCV file written with them does (``compare --random-weights``,
the ONNX zoo's MXNet files). Seeded random weights (``randomize``) are the converter's own: the
scheme of ``converters/weights/random.py`` applied to the MXNet network itself, as
``torch_random.randomize`` does in torch: convolutions He-normal by fan-out, Dense layers
He-normal by fan-in, biases 0, batch-norm gamma and beta drawn, running statistics measured on
the calibration batch then perturbed, the classifier projected off the mean feature and scaled to
the logit spread. All draws are numpy's (PCG64 of the seed), so a seed gives the same weights on
every machine.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from zoocheck.converters.gluon import GluonNative, _named_blocks, load_saved_parameters
from zoocheck.converters.mxnet_compat import import_mxnet
from zoocheck.converters.mxnet_params import write_mxnet_params
from zoocheck.converters.weights import random as rw
from zoocheck.converters.weights.layouts import to_layout
from zoocheck.zoo_registry.types import Architecture, Entry


def load_network(entry: Entry, weights: Path | None, random_seed: int | None, network: Callable[[Architecture], object]) -> GluonNative:
    """``entry``'s GluonCV network (``network(entry.arch)``) holding ``weights`` (a GluonCV ``.params``
    file, loaded strictly) or seeded random weights."""
    net = network(entry.arch)
    if weights is None:
        randomize(net, random_seed, entry.input_size)
    else:
        load_saved_parameters(entry, Path(weights), net, "GluonCV")
    return GluonNative(net, entry.input_size)


def canonical_network(entry: Entry, params: dict[str, np.ndarray], network: Callable[[Architecture], object]):
    """``network(entry.arch)`` holding canonical weights (``converters/weights``): written as the
    ``.params`` file MXNet saves (the family's ``gluoncv`` layout) and read back strictly, as a file is."""
    with tempfile.TemporaryDirectory(prefix="zoocheck-gluoncv-weights-") as tmp:
        path = Path(tmp) / f"{entry.arch.id}.params"
        write_mxnet_params(path, to_layout(params, entry.arch, "gluoncv"))
        return load_saved_parameters(entry, path, network(entry.arch), "GluonCV")


def randomize(net, seed: int, input_size: int) -> None:
    """Seeded random weights by the scheme of ``weights/random.py`` (module docstring)."""
    mx = import_mxnet()
    rng = np.random.default_rng(seed)
    net.initialize(mx.init.Zero(), ctx=mx.cpu())
    net(mx.nd.zeros((1, 3, input_size, input_size)))  # shapes of the deferred parameters
    blocks = [block for _, block in _named_blocks(net)]
    norms = [b for b in blocks if isinstance(b, mx.gluon.nn.BatchNorm)]
    for block in blocks:
        if isinstance(block, mx.gluon.nn.Conv2D):
            weight = block.weight
            out, _, kh, kw = weight.shape
            _set(weight, rng.normal(0.0, np.sqrt(2.0 * block._kwargs["num_group"] / (out * kh * kw)), weight.shape))
        elif isinstance(block, mx.gluon.nn.Dense):
            _set(block.weight, rng.normal(0.0, np.sqrt(2.0 / block.weight.shape[1]), block.weight.shape))
        elif isinstance(block, mx.gluon.nn.BatchNorm):
            _set(block.gamma, rng.uniform(*rw.GAMMA_RANGE, block.gamma.shape))
            _set(block.beta, rng.normal(0.0, rw.BETA_STD, block.beta.shape))
    _measure_statistics(net, norms, seed, input_size)
    for bn in norms:
        std = np.sqrt(np.maximum(bn.running_var.data().asnumpy(), 1e-5))
        _set(bn.running_mean, bn.running_mean.data().asnumpy() + rng.standard_normal(std.shape) * rw.MEAN_SHIFT_STD * std)
        _set(bn.running_var, bn.running_var.data().asnumpy() * rng.uniform(*rw.VARIANCE_FACTOR_RANGE, std.shape))
    classifier = [b for b in blocks if isinstance(b, (mx.gluon.nn.Conv2D, mx.gluon.nn.Dense))][-1]
    _spread_logits(net, classifier, rng, seed, input_size)


def _set(param, value: np.ndarray) -> None:
    mx = import_mxnet()
    param.set_data(mx.nd.array(value, dtype=np.float32))  # an NDArray: the parameter may be in MKLDNN's layout


def _measure_statistics(net, norms: list, seed: int, input_size: int) -> None:
    """Each BN's running statistics set to those of a train-mode forward on the calibration batch
    (momentum 0 for that one forward: the batch's statistics replace the running ones)."""
    mx = import_mxnet()
    saved = [bn._kwargs["momentum"] for bn in norms]
    for bn in norms:
        bn._kwargs["momentum"] = 0.0
    try:
        with mx.autograd.train_mode():
            net(mx.nd.array(rw.calibration_batch(seed, input_size))).wait_to_read()
    finally:
        for bn, momentum in zip(norms, saved):
            bn._kwargs["momentum"] = momentum


def _spread_logits(net, classifier, rng: np.random.Generator, seed: int, input_size: int) -> None:
    """The scheme's classifier step: weights N(0, CLASSIFIER_STD) projected off the mean feature of
    the second calibration batch, bias 0, scaled so the logits spread by ``LOGIT_SPREAD``."""
    mx = import_mxnet()
    seen = []
    handle = classifier.register_forward_pre_hook(lambda _block, inputs: seen.append(inputs[0].asnumpy()))
    try:
        net(mx.nd.array(rw.calibration_batch(seed + 1, input_size)))
    finally:
        handle.detach()
    features = seen[-1].reshape(len(seen[-1]), -1).astype(np.float64)
    shape = classifier.weight.shape
    weight = rng.normal(0.0, rw.CLASSIFIER_STD, (shape[0], features.shape[1]))
    mean = features.mean(axis=0)
    if np.linalg.norm(mean) > 0:
        u = mean / np.linalg.norm(mean)
        weight -= np.outer(weight @ u, u)
    spread = float((features @ weight.T).std(axis=1).mean())
    if np.isfinite(spread) and spread > 0:
        weight *= rw.LOGIT_SPREAD / spread
    _set(classifier.weight, weight.reshape(shape))
    if classifier.bias is not None:
        _set(classifier.bias, np.zeros(classifier.bias.shape))
