"""Seeded random weights for a torch network zoocheck has no canonical numpy forward for
(``randomize``): the scheme of ``weights/random.py`` carried out by the framework's own forward,
with the residual branches found in the forward's data flow (``residual_branch_ends``).

Imported only by the torch converters, so importing it may import torch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from zoocheck.converters.weights import random as rw


def randomize(module: nn.Module, seed: int, input_size: int) -> nn.Module:
    """Seeded random weights for a network zoocheck has no canonical numpy forward for (the new
    families' torchvision/timm networks, timm's ResNet-RS, BiT/ResNetV2 with GroupNorm, ...;
    GluonCV's resnet50_v1b_gn): the scheme of ``weights/random.py`` with its constants, carried
    out by the framework's own forward. Deterministic for (network, seed, input size):

    - convolutions and Linear layers: the library's own initialisation, drawn from torch's global
      generator seeded with ``seed`` before the network is built (``TorchConverter.configure``);
    - batch-norm gamma ~ U(GAMMA_RANGE) and beta ~ N(0, BETA_STD), drawn from numpy's PCG64(seed) in
      module order, both times ``branch_gain`` on each batch norm that ends a residual branch
      (``residual_branch_ends``: found in the forward's data flow, whatever the family);
    - running statistics measured BN by BN in network order, in float64, on the scheme's seeded
      calibration batch: each one just before it runs, on its input as the batch norms before it
      (already set) make it, then perturbed at once (mean += N(0, MEAN_SHIFT_STD) x std, variance x
      U(VARIANCE_FACTOR_RANGE)), so every BN's output is about unit scale in the network as built
      and a dropped or mis-folded BN still shows;
    - the last Linear (the classifier) projected off the mean feature of the second calibration
      batch, bias cleared, scaled so the logits spread by ``LOGIT_SPREAD`` (float64 too).

    With it the fp32 forward of efficientnet_b0, mobilenetv3_large_100, densenet121,
    efficientnet_v2_s and tf_efficientnet_b0 is within ~1e-6 of its fp64 forward on photographs
    (the library's own init with statistics of a train-mode pass: up to 1e-3, efficientnet_v2_s
    0.23): parity judges the conversion, not fp32 chaos (tests/test_random_calibration.py).
    """
    rng = np.random.default_rng(seed)
    module.eval()
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    ends = residual_branch_ends(module, norms, _calibration_batch(seed, input_size)[:1])
    gain = rw.branch_gain(len(ends))
    with torch.no_grad():
        for bn in norms:
            if bn.affine:
                scale = gain if bn in ends else 1.0
                bn.weight.copy_(torch.from_numpy(rng.uniform(*rw.GAMMA_RANGE, bn.weight.shape) * scale))
                bn.bias.copy_(torch.from_numpy(rng.normal(0.0, rw.BETA_STD, bn.bias.shape) * scale))
        module.double()
        try:
            _calibrate_statistics(module, norms, rng, seed, input_size)
            _spread_logits(module, seed, input_size)
        finally:
            module.float()
    return module


def _calibration_batch(seed: int, input_size: int, dtype=torch.float32) -> torch.Tensor:
    return torch.from_numpy(rw.calibration_batch(seed, input_size)).to(dtype)


def _calibrate_statistics(module: nn.Module, norms: list, rng: np.random.Generator, seed: int, input_size: int) -> None:
    """Each BN's running statistics set, just before it first runs, to its input's on the
    calibration batch, perturbed (the scheme's constants); ``module`` in float64."""
    done: set[nn.Module] = set()

    def calibrate(bn: nn.Module, args) -> None:
        if bn in done:
            return
        done.add(bn)
        x = args[0].detach()
        over = [d for d in range(x.dim()) if d != 1]  # every axis but the channels
        mean, var = x.mean(dim=over).numpy(), x.var(dim=over, unbiased=False).numpy()
        std = np.sqrt(np.maximum(var, 1e-5))
        bn.running_mean.copy_(torch.from_numpy(mean + rng.standard_normal(mean.shape) * rw.MEAN_SHIFT_STD * std))
        bn.running_var.copy_(torch.from_numpy(var * rng.uniform(*rw.VARIANCE_FACTOR_RANGE, var.shape)))

    removers = [bn.register_forward_pre_hook(calibrate).remove for bn in norms]
    try:
        module(_calibration_batch(seed, input_size, torch.float64))
    finally:
        for remove in removers:
            remove()


_ADDS = frozenset({torch.add, torch.Tensor.add, torch.Tensor.add_, torch.Tensor.__add__, torch.Tensor.__radd__, torch.Tensor.__iadd__})


def _tensors(value):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item)


class _BatchNormDepth(TorchFunctionMode):
    """Follows, through every torch operation of a forward, how many batch norms each tensor has
    passed (its depth) and the last of them. An addition of two tensors of one shape and unequal
    depth is a residual connection: the deeper operand is the branch, and its last batch norm ends
    it (timm's and torchvision's blocks, SE or drop-path between included; DenseNet concatenates)."""

    def __init__(self) -> None:
        super().__init__()
        self.origin: dict[int, tuple[int, nn.Module | None]] = {}
        self.alive: list[torch.Tensor] = []  # keeps every id() in ``origin`` unique
        self.branch_ends: list[nn.Module] = []

    def mark(self, tensor: torch.Tensor, depth: int, norm: nn.Module | None) -> None:
        self.origin[id(tensor)] = (depth, norm)
        self.alive.append(tensor)

    def deepest(self, values) -> tuple[int, nn.Module | None] | None:
        origins = [self.origin[id(t)] for t in _tensors(values) if id(t) in self.origin]
        return max(origins, key=lambda o: o[0]) if origins else None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func in _ADDS and len(args) >= 2 and all(isinstance(a, torch.Tensor) for a in args[:2]) and args[0].shape == args[1].shape:
            first, second = (self.origin.get(id(a)) for a in args[:2])
            if first and second and first[0] != second[0]:
                branch_end = max(first, second, key=lambda o: o[0])[1]
                if branch_end is not None and branch_end not in self.branch_ends:
                    self.branch_ends.append(branch_end)
        inherited = self.deepest((args, kwargs))
        if inherited is not None:
            for tensor in _tensors(out):
                if id(tensor) not in self.origin or func in _ADDS:
                    self.mark(tensor, *inherited)
        return out


def residual_branch_ends(module: nn.Module, norms: list, batch: torch.Tensor) -> set[nn.Module]:
    """The batch norms of ``norms`` whose output ends a residual branch, from one forward of
    ``batch`` (its values do not matter)."""
    tracker = _BatchNormDepth()

    def passed(bn: nn.Module, args, output) -> None:
        depth = (tracker.deepest(args) or (0, None))[0]
        for tensor in _tensors(output):
            tracker.mark(tensor, depth + 1, bn)

    removers = [bn.register_forward_hook(passed).remove for bn in norms]
    try:
        with torch.no_grad(), tracker:
            tracker.mark(batch, 0, None)
            module(batch)
    finally:
        for remove in removers:
            remove()
    return set(tracker.branch_ends)


def _classifier(module: nn.Module) -> nn.Linear | None:
    """The last Linear layer: the classifier of every timm CNN."""
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    return linears[-1] if linears else None


def _spread_logits(module: nn.Module, seed: int, input_size: int) -> None:
    """The scheme's classifier step (``random.py``): projected off the mean feature of the second
    calibration batch, bias cleared, scaled so the logits spread by ``LOGIT_SPREAD``."""
    fc = _classifier(module)
    if fc is None:
        return
    seen = []
    hook = fc.register_forward_hook(lambda _m, args, _out: seen.append(args[0].detach().reshape(-1, fc.in_features)))
    try:
        module(_calibration_batch(seed + 1, input_size, fc.weight.dtype))
    finally:
        hook.remove()
    if not seen:
        return
    mean = seen[-1].mean(dim=0)
    if float(mean.norm()) > 0:
        u = mean / mean.norm()
        fc.weight.sub_(torch.outer(fc.weight @ u, u))
    if fc.bias is not None:
        fc.bias.zero_()
    logits = seen[-1] @ fc.weight.T
    spread = float(logits.std(dim=1).mean())
    if np.isfinite(spread) and spread > 0:
        fc.weight.mul_(rw.LOGIT_SPREAD / spread)
