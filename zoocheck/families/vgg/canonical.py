"""The canonical weights of a VGG: one naming for every source, their shapes, and a numpy forward
computing exactly the network the ``VGGSpec`` describes.

Layers are named by their place (docs/architecture.md, "Names"):

- ``stage{s}.conv{k}``: the k-th 3x3 convolution of stage s (both 1-based; ``weight``, ``bias``
  where the spec has conv biases), ``stage{s}.bn{k}`` its batch norm (``_bn`` models: ``weight``,
  ``bias``, ``running_mean``, ``running_var``, epsilon 1e-5);
- ``head.fc1``, ``head.fc2``: the classifier's two 4096-wide layers, ``fc1.weight`` [4096,
  512 * 7 * 7] reading the last feature map flattened channel-major (torchvision's Linear; timm's
  7x7 convolution is the same matrix reshaped), ``fc``: the last layer [classes, 4096].

The classifier's first layer reads a 7x7 map: the network computes at inputs of 224 to 255 pixels
(every VGG entry is evaluated at 224), where torchvision's adaptive 7x7 average pool is the
identity and timm's 7x7 convolution yields one pixel.

Pure numpy: no framework is imported here.
"""

from __future__ import annotations

import numpy as np

from zoocheck.families.resnet.canonical import BN_EPS, BN_FIELDS, BatchNormHook, batch_norm, conv2d
from zoocheck.families.vgg.spec import VGGSpec
from zoocheck.zoo_registry.types import Architecture

STAGE_CHANNELS = (64, 128, 256, 512, 512)
#: the side of the last feature map the classifier reads (the input is 224 to 255 pixels)
FEATURE_SIDE = 7
HIDDEN = 4096


def convs(spec: VGGSpec) -> list[tuple[int, int, int, int]]:
    """(stage, k, in channels, out channels) of every convolution, in order (both 1-based)."""
    out, cin = [], 3
    for stage, (count, cout) in enumerate(zip(spec.layers, STAGE_CHANNELS), start=1):
        for k in range(1, count + 1):
            out.append((stage, k, cin, cout))
            cin = cout
    return out


def classifier(num_classes: int) -> list[tuple[str, int, int]]:
    """(layer, in features, out features) of the classifier's three layers."""
    return [("head.fc1", STAGE_CHANNELS[-1] * FEATURE_SIDE**2, HIDDEN), ("head.fc2", HIDDEN, HIDDEN), ("fc", HIDDEN, num_classes)]


def parameter_shapes(arch: Architecture) -> dict[str, tuple[int, ...]]:
    """Every canonical parameter of ``arch`` and its shape, in network order."""
    spec: VGGSpec = arch.structure
    shapes: dict[str, tuple[int, ...]] = {}
    for stage, k, cin, cout in convs(spec):
        shapes[f"stage{stage}.conv{k}.weight"] = (cout, cin, 3, 3)
        if spec.conv_bias:
            shapes[f"stage{stage}.conv{k}.bias"] = (cout,)
        if spec.batch_norm:
            shapes.update({f"stage{stage}.bn{k}.{field}": (cout,) for field in BN_FIELDS})
    for layer, features, out in classifier(arch.num_classes):
        shapes[f"{layer}.weight"] = (out, features)
        shapes[f"{layer}.bias"] = (out,)
    return shapes


def conv_outputs(arch: Architecture) -> dict[str, str]:
    """Canonical graph tensor -> the canonical module whose output it is, in network order: each
    convolution's output, its batch norm's where it has one (folded into it in the graph). The
    classifier's layers are left out: timm computes them as convolutions, whose outputs are
    [N, 4096, 1, 1]."""
    spec: VGGSpec = arch.structure
    unit = "bn" if spec.batch_norm else "conv"
    return {f"stage{stage}.conv{k}": f"stage{stage}.{unit}{k}" for stage, k, _, _ in convs(spec)}


def check_input_size(arch: Architecture, input_size: int) -> None:
    """ValueError unless ``input_size``-pixel inputs end on the 7x7 map the classifier reads (each
    stage's 2x2 pool halves the side, rounding down): before anything is drawn or computed."""
    side = input_size // 2 ** len(STAGE_CHANNELS)
    if side != FEATURE_SIDE:
        raise _feature_map_refused(arch, side, side)


def _feature_map_refused(arch: Architecture, height: int, width: int) -> ValueError:
    return ValueError(
        f"{arch.id}: the classifier reads a {FEATURE_SIDE}x{FEATURE_SIDE} feature map (224 to 255-pixel inputs), not {height}x{width}"
    )


def pool_2x2(x: np.ndarray, reduce=np.max) -> np.ndarray:
    """2x2, stride 2, floor mode, NHWC: ``reduce`` (np.max, np.mean) over each window."""
    n, h, w, c = x.shape
    x = x[:, : h // 2 * 2, : w // 2 * 2]
    return reduce(x.reshape(n, h // 2, 2, w // 2, 2, c), axis=(2, 4))


def forward(
    arch: Architecture,
    params: dict[str, np.ndarray],
    x: np.ndarray,
    *,
    measure: BatchNormHook | None = None,
    features: list | None = None,
    dtype: type = np.float64,
) -> np.ndarray:
    """``arch``'s logits for NCHW ``x`` (224 to 255 pixels), computed from canonical ``params`` in
    ``dtype``; ``measure`` and ``features`` as the ResNet family's forward takes them (before each
    batch norm, channels last; the features the last layer ``fc`` sees)."""
    spec: VGGSpec = arch.structure
    p = params
    y = np.ascontiguousarray(np.asarray(x).transpose(0, 2, 3, 1), dtype=dtype)
    for stage, k, _, _ in convs(spec):
        y = conv2d(y, p[f"stage{stage}.conv{k}.weight"], bias=p.get(f"stage{stage}.conv{k}.bias"))
        if spec.batch_norm:
            y = batch_norm(p, f"stage{stage}.bn{k}", y, BN_EPS, dtype, measure)
        y = np.maximum(y, 0)
        if k == spec.layers[stage - 1]:
            y = pool_2x2(y)
    if y.shape[1:3] != (FEATURE_SIDE, FEATURE_SIDE):
        raise _feature_map_refused(arch, y.shape[1], y.shape[2])
    # flattened channel-major, as torch's flatten of an NCHW map
    y = y.transpose(0, 3, 1, 2).reshape(len(y), -1)
    for layer, _, _ in classifier(arch.num_classes)[:2]:
        y = np.maximum(y @ p[f"{layer}.weight"].T.astype(dtype) + p[f"{layer}.bias"].astype(dtype), 0) * dtype(spec.eval_dropout_scale)
    if features is not None:
        features.append(y)
    return y @ p["fc.weight"].T.astype(dtype) + p["fc.bias"].astype(dtype)
