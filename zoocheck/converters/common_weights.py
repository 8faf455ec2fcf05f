"""One set of weights for an architecture, written in each source's own checkpoint format.

``compare --random-weights`` and the same-weights tests need the SAME numbers in a timm ``.pth``, an
mmpretrain checkpoint, a PaddleClas ``.pdparams``, ...: read back through each source's own loader and
converted, the canonical files must then be identical, which proves every loader's weight mapping.

The common set is keyed like timm's (= torchvision's) ResNet state dict, drawn from ``timm_network``
with the one random-weights scheme of ``torch_common.randomize``. Each format gets it by position:
every framework registers a ResNet's layers in the same order (stem, then per block conv1/bn1,
conv2/bn2, [conv3/bn3], shortcut conv/bn, then the classifier) and each batch norm's tensors as
weight, bias, mean, variance; the mapping is refused unless every pair's shape agrees (Paddle's
Linear stores its weight transposed), so a wrong correspondence cannot pass silently.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoocheck.zoo_registry.types import Architecture, Entry

#: torch buffers that are bookkeeping, not weights
_BOOKKEEPING = ("num_batches_tracked",)


class NoCommonMapping(ValueError):
    """The common set cannot be written in this entry's format; the message says why."""


def _is_weight(key: str) -> bool:
    return not key.endswith(_BOOKKEEPING)


def common_random_state(arch: Architecture, seed: int, input_size: int = 224) -> dict[str, np.ndarray]:
    """Seeded random weights for ``arch`` under timm's parameter names (batch norm measured, then
    perturbed; logits spread: ``torch_common.randomize``)."""
    import torch

    from zoocheck.converters import torch_common as tc

    try:
        module = tc.timm_network(arch)
    except ValueError as exc:
        raise NoCommonMapping(f"{arch.id}: no common weight set: {exc}") from None
    torch.manual_seed(seed)
    tc.randomize(module, seed, input_size, init_convs=True)
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items() if _is_weight(k)}


def positional(common: dict[str, np.ndarray], target: list[tuple[str, tuple[int, ...]]], *, what: str) -> dict[str, np.ndarray]:
    """``common``'s arrays under ``target``'s keys, pair by pair in order; a 2-D array whose target
    shape is its transpose is transposed (Paddle's Linear). NoCommonMapping on any disagreement."""
    source = list(common.items())
    if len(source) != len(target):
        raise NoCommonMapping(f"{what}: {len(target)} weight tensors, the common set has {len(source)}")
    mapped = {}
    for (common_key, array), (key, shape) in zip(source, target):
        shape = tuple(shape)
        if array.shape == shape:
            mapped[key] = array
        elif array.ndim == 2 and array.shape[::-1] == shape:
            mapped[key] = np.ascontiguousarray(array.T)
        else:
            raise NoCommonMapping(f"{what}: {key} {shape} does not correspond to {common_key} {array.shape}")
    return mapped


def _torch_target(module) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in module.state_dict().items() if _is_weight(k)]


def _write_torch(module, common, path: Path, *, what: str, wrapper: str | None = None, meta: dict | None = None) -> Path:
    import torch

    from zoocheck.converters import torch_common as tc

    mapped = positional(common, _torch_target(module), what=what)
    state = {k: (torch.from_numpy(mapped[k]) if k in mapped else v) for k, v in module.state_dict().items()}
    return tc.save_checkpoint(state, path, wrapper=wrapper, meta=meta)


def write_common_checkpoint(entry: Entry, common: dict[str, np.ndarray], path: str | Path) -> Path:
    """Write ``common`` (see :func:`common_random_state`) as ``entry``'s source publishes weights."""
    path = Path(path)
    fmt = entry.weights.format if entry.weights is not None else "torch-state-dict"
    what = f"{entry.key} ({fmt})"
    if fmt == "torch-state-dict":
        from zoocheck.converters import converter_for

        return _write_torch(converter_for(entry.source).build(entry), common, path, what=what)
    if fmt == "mmpretrain-checkpoint":
        from zoocheck.converters.mmpretrain import build_classifier

        meta = {"mmpretrain_version": "1.2.0", "note": "zoocheck common weight set"}
        return _write_torch(build_classifier(entry.arch), common, path, what=what, wrapper="state_dict", meta=meta)
    if fmt == "paddle-pdparams":
        from zoocheck.converters.paddle import _import_paddle, build_model

        paddle = _import_paddle()
        network = build_model(entry)
        target = [(k, tuple(v.shape)) for k, v in network.state_dict().items()]
        path.parent.mkdir(parents=True, exist_ok=True)
        paddle.save(positional(common, target, what=what), str(path))
        return path
    if fmt == "gluoncv-params":
        import torch

        from zoocheck.converters import torch_common as tc
        from zoocheck.converters.gluoncv import timm_to_gluoncv, write_mxnet_params

        module = tc.timm_network(entry.arch)
        module.load_state_dict({k: torch.from_numpy(v) for k, v in common.items()}, strict=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_mxnet_params(path, timm_to_gluoncv(module, entry.naming))
        return path
    raise NoCommonMapping(f"{what}: writing a common weight set in {fmt} is not supported")


__all__ = ["NoCommonMapping", "common_random_state", "positional", "write_common_checkpoint"]
