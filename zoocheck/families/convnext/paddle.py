"""PaddleClas's ConvNeXt in Paddle, with PaddleClas's own parameter names, so that a
``ConvNeXt_*_pretrained.pdparams`` PaddleClas published loads by name.

ppcls/arch/backbone/model_zoo/convnext.py: ``downsample_layers.0`` is the stem (``.0`` the 4x4/4
conv, ``.1`` a ``ChannelsFirstLayerNorm``), ``downsample_layers.{s}`` (s = 1..3) enter stage s
(``.0`` the norm, ``.1`` the 2x2/2 conv); ``stages.{s}.{i}`` are the blocks (``dwconv`` 7x7
depthwise, the map transposed to NHWC, ``norm``, ``pwconv1``, GELU, ``pwconv2``, the layer scale
``gamma`` [C], transposed back, the input added); ``norm`` of the pooled features, ``head``. A
Paddle Linear's weight is [in, out]; every LayerNorm's epsilon is 1e-6.

PaddleClas computes its channels-first LayerNorm as a mean and variance over axis 1 of the NCHW
map; the same function is computed here as the transpose to NHWC, ``layer_norm`` over the last axis
and the transpose back (the canonical graph's form, which paddle2onnx then exports as such), and
the head's mean over H, W as a global pool: the parameters and the function are PaddleClas's
(tests/test_paddle_swin_convnext.py runs PaddleClas's own network on the same checkpoint).
"""

from __future__ import annotations

from zoocheck.converters.paddle_layers import nn, require_fields
from zoocheck.families.convnext.spec import MLP_RATIO, ConvNeXtSpec

SOURCE_FILE = "model_zoo/convnext.py"
#: what that file builds; the other fields the builder implements
PADDLECLAS = {"grn": False, "layer_scale": True, "stem": "patch", "norm": "layernorm", "head_norm_first": False, "head_hidden": 0}


class ChannelsFirstLayerNorm(nn.Layer):
    """A LayerNorm over the channels of an NCHW map."""

    def __init__(self, channels: int, eps: float):
        super().__init__()
        self.weight = self.create_parameter(shape=[channels])
        self.bias = self.create_parameter(shape=[channels], is_bias=True)
        self.eps = eps

    def forward(self, x):
        y = nn.functional.layer_norm(x.transpose((0, 2, 3, 1)), x.shape[1], self.weight, self.bias, self.eps)
        return y.transpose((0, 3, 1, 2))


class Block(nn.Layer):
    def __init__(self, channels: int, eps: float):
        super().__init__()
        self.dwconv = nn.Conv2D(channels, channels, 7, padding=3, groups=channels)
        self.norm = nn.LayerNorm(channels, epsilon=eps)
        self.pwconv1 = nn.Linear(channels, MLP_RATIO * channels)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(MLP_RATIO * channels, channels)
        self.gamma = self.create_parameter(shape=[channels])

    def forward(self, x):
        y = self.norm(self.dwconv(x).transpose((0, 2, 3, 1)))
        y = self.gamma * self.pwconv2(self.act(self.pwconv1(y)))
        return x + y.transpose((0, 3, 1, 2))


class ConvNeXt(nn.Layer):
    def __init__(self, spec: ConvNeXtSpec, num_classes: int):
        super().__init__()
        dims, eps = spec.dims, spec.norm_eps
        stem = nn.Sequential(nn.Conv2D(3, dims[0], 4, stride=4), ChannelsFirstLayerNorm(dims[0], eps))
        downsample = [
            nn.Sequential(ChannelsFirstLayerNorm(dims[s - 1], eps), nn.Conv2D(dims[s - 1], dims[s], 2, stride=2)) for s in (1, 2, 3)
        ]
        self.downsample_layers = nn.LayerList([stem, *downsample])
        self.stages = nn.LayerList([nn.Sequential(*(Block(c, eps) for _ in range(depth))) for depth, c in zip(spec.depths, dims)])
        self.norm = ChannelsFirstLayerNorm(dims[-1], eps)
        self.head = nn.Linear(dims[-1], num_classes)

    def forward(self, x):
        for downsample, stage in zip(self.downsample_layers, self.stages):
            x = stage(downsample(x))
        pooled = self.norm(nn.functional.adaptive_avg_pool2d(x, 1))
        # a constant [0, -1] target, not flatten's shape arithmetic on the batch size
        return self.head(pooled.reshape((0, -1)))


def build_network(arch):
    """A ``paddle.nn.Layer`` computing ``arch`` whose ``state_dict`` keys are PaddleClas's names;
    NoBuilder for a ConvNeXt that file does not build."""
    require_fields(arch.structure, PADDLECLAS, SOURCE_FILE)
    return ConvNeXt(arch.structure, arch.num_classes)
