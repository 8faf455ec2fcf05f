"""Test fixtures for the MXNet-family sources: GluonCV's real network code, and writers of
checkpoints in GluonCV's real format.

GluonCV 0.10.5 cannot be imported next to torch>=2 (its own version check), so the classes below
are GluonCV's model code itself, copied verbatim (docstrings dropped) from
gluoncv-0.10.5/gluoncv/model_zoo/resnetv1b.py (BasicBlockV1b, BottleneckV1b, ResNetV1b) and
gluoncv/model_zoo/resnext.py (Block, ResNext). GluonCV is Copyright Amazon/DMLC contributors,
licensed under the Apache License 2.0. They need only MXNet. A network built from them and saved
with ``save_parameters`` IS a GluonCV checkpoint: the parameter names come from GluonCV's code,
not from zoocheck's mapping, and their MXNet forward is an independent reference for the timm
model zoocheck builds.
"""

# ruff: noqa
# pylint: skip-file
from __future__ import division

import math
import re
from pathlib import Path

import numpy as np

from zoocheck.converters.mxnet_compat import import_mxnet

import_mxnet()

from mxnet import cpu  # noqa: E402
from mxnet.gluon import nn  # noqa: E402
from mxnet.gluon.block import HybridBlock  # noqa: E402
from mxnet.gluon.nn import BatchNorm  # noqa: E402

# ---- begin GluonCV 0.10.5 code -------------------------------------------------------------


class BasicBlockV1b(HybridBlock):
    expansion = 1

    def __init__(self, planes, strides=1, dilation=1, downsample=None, previous_dilation=1, norm_layer=None, norm_kwargs=None, **kwargs):
        super(BasicBlockV1b, self).__init__()
        norm_kwargs = norm_kwargs if norm_kwargs is not None else {}
        self.conv1 = nn.Conv2D(channels=planes, kernel_size=3, strides=strides, padding=dilation, dilation=dilation, use_bias=False)
        self.bn1 = norm_layer(in_channels=planes, **({} if norm_kwargs is None else norm_kwargs))
        self.relu1 = nn.Activation("relu")
        self.conv2 = nn.Conv2D(
            channels=planes, kernel_size=3, strides=1, padding=previous_dilation, dilation=previous_dilation, use_bias=False
        )
        self.bn2 = norm_layer(in_channels=planes, **({} if norm_kwargs is None else norm_kwargs))
        self.relu2 = nn.Activation("relu")
        self.downsample = downsample
        self.strides = strides

    def hybrid_forward(self, F, x):
        residual = x

        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu1(out)

        out = self.conv2(out)
        out = self.bn2(out)

        if self.downsample is not None:
            residual = self.downsample(x)

        out = out + residual
        out = self.relu2(out)

        return out


class BottleneckV1b(HybridBlock):
    # pylint: disable=unused-argument
    expansion = 4

    def __init__(
        self,
        planes,
        strides=1,
        dilation=1,
        downsample=None,
        previous_dilation=1,
        norm_layer=None,
        norm_kwargs=None,
        last_gamma=False,
        **kwargs,
    ):
        super(BottleneckV1b, self).__init__()
        norm_kwargs = norm_kwargs if norm_kwargs is not None else {}
        self.conv1 = nn.Conv2D(channels=planes, kernel_size=1, use_bias=False)
        self.bn1 = norm_layer(in_channels=planes, **norm_kwargs)
        self.relu1 = nn.Activation("relu")
        self.conv2 = nn.Conv2D(channels=planes, kernel_size=3, strides=strides, padding=dilation, dilation=dilation, use_bias=False)
        self.bn2 = norm_layer(in_channels=planes, **norm_kwargs)
        self.relu2 = nn.Activation("relu")
        self.conv3 = nn.Conv2D(channels=planes * 4, kernel_size=1, use_bias=False)
        if not last_gamma:
            self.bn3 = norm_layer(in_channels=planes * 4, **norm_kwargs)
        else:
            self.bn3 = norm_layer(in_channels=planes * 4, gamma_initializer="zeros", **norm_kwargs)
        self.relu3 = nn.Activation("relu")
        self.downsample = downsample
        self.dilation = dilation
        self.strides = strides

    def hybrid_forward(self, F, x):
        residual = x

        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu1(out)

        out = self.conv2(out)
        out = self.bn2(out)
        out = self.relu2(out)

        out = self.conv3(out)
        out = self.bn3(out)

        if self.downsample is not None:
            residual = self.downsample(x)

        out = out + residual
        out = self.relu3(out)

        return out


class ResNetV1b(HybridBlock):
    # pylint: disable=unused-variable
    def __init__(
        self,
        block,
        layers,
        classes=1000,
        dilated=False,
        norm_layer=BatchNorm,
        norm_kwargs=None,
        last_gamma=False,
        deep_stem=False,
        stem_width=32,
        avg_down=False,
        final_drop=0.0,
        use_global_stats=False,
        name_prefix="",
        **kwargs,
    ):
        self.inplanes = stem_width * 2 if deep_stem else 64
        super(ResNetV1b, self).__init__(prefix=name_prefix)
        norm_kwargs = norm_kwargs if norm_kwargs is not None else {}
        if use_global_stats:
            norm_kwargs["use_global_stats"] = True
        self.norm_kwargs = norm_kwargs
        with self.name_scope():
            if not deep_stem:
                self.conv1 = nn.Conv2D(channels=64, kernel_size=7, strides=2, padding=3, use_bias=False)
            else:
                self.conv1 = nn.HybridSequential(prefix="conv1")
                self.conv1.add(nn.Conv2D(channels=stem_width, kernel_size=3, strides=2, padding=1, use_bias=False))
                self.conv1.add(norm_layer(in_channels=stem_width, **norm_kwargs))
                self.conv1.add(nn.Activation("relu"))
                self.conv1.add(nn.Conv2D(channels=stem_width, kernel_size=3, strides=1, padding=1, use_bias=False))
                self.conv1.add(norm_layer(in_channels=stem_width, **norm_kwargs))
                self.conv1.add(nn.Activation("relu"))
                self.conv1.add(nn.Conv2D(channels=stem_width * 2, kernel_size=3, strides=1, padding=1, use_bias=False))
            self.bn1 = norm_layer(in_channels=64 if not deep_stem else stem_width * 2, **norm_kwargs)
            self.relu = nn.Activation("relu")
            self.maxpool = nn.MaxPool2D(pool_size=3, strides=2, padding=1)
            self.layer1 = self._make_layer(1, block, 64, layers[0], avg_down=avg_down, norm_layer=norm_layer, last_gamma=last_gamma)
            self.layer2 = self._make_layer(
                2, block, 128, layers[1], strides=2, avg_down=avg_down, norm_layer=norm_layer, last_gamma=last_gamma
            )
            if dilated:
                self.layer3 = self._make_layer(
                    3, block, 256, layers[2], strides=1, dilation=2, avg_down=avg_down, norm_layer=norm_layer, last_gamma=last_gamma
                )
                self.layer4 = self._make_layer(
                    4, block, 512, layers[3], strides=1, dilation=4, avg_down=avg_down, norm_layer=norm_layer, last_gamma=last_gamma
                )
            else:
                self.layer3 = self._make_layer(
                    3, block, 256, layers[2], strides=2, avg_down=avg_down, norm_layer=norm_layer, last_gamma=last_gamma
                )
                self.layer4 = self._make_layer(
                    4, block, 512, layers[3], strides=2, avg_down=avg_down, norm_layer=norm_layer, last_gamma=last_gamma
                )
            self.avgpool = nn.GlobalAvgPool2D()
            self.flat = nn.Flatten()
            self.drop = None
            if final_drop > 0.0:
                self.drop = nn.Dropout(final_drop)
            self.fc = nn.Dense(in_units=512 * block.expansion, units=classes)

    def _make_layer(self, stage_index, block, planes, blocks, strides=1, dilation=1, avg_down=False, norm_layer=None, last_gamma=False):
        downsample = None
        if strides != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.HybridSequential(prefix="down%d_" % stage_index)
            with downsample.name_scope():
                if avg_down:
                    if dilation == 1:
                        downsample.add(nn.AvgPool2D(pool_size=strides, strides=strides, ceil_mode=True, count_include_pad=False))
                    else:
                        downsample.add(nn.AvgPool2D(pool_size=1, strides=1, ceil_mode=True, count_include_pad=False))
                    downsample.add(nn.Conv2D(channels=planes * block.expansion, kernel_size=1, strides=1, use_bias=False))
                    downsample.add(norm_layer(in_channels=planes * block.expansion, **self.norm_kwargs))
                else:
                    downsample.add(nn.Conv2D(channels=planes * block.expansion, kernel_size=1, strides=strides, use_bias=False))
                    downsample.add(norm_layer(in_channels=planes * block.expansion, **self.norm_kwargs))

        layers = nn.HybridSequential(prefix="layers%d_" % stage_index)
        with layers.name_scope():
            if dilation in (1, 2):
                layers.add(
                    block(
                        planes,
                        strides,
                        dilation=1,
                        downsample=downsample,
                        previous_dilation=dilation,
                        norm_layer=norm_layer,
                        norm_kwargs=self.norm_kwargs,
                        last_gamma=last_gamma,
                    )
                )
            elif dilation == 4:
                layers.add(
                    block(
                        planes,
                        strides,
                        dilation=2,
                        downsample=downsample,
                        previous_dilation=dilation,
                        norm_layer=norm_layer,
                        norm_kwargs=self.norm_kwargs,
                        last_gamma=last_gamma,
                    )
                )
            else:
                raise RuntimeError("=> unknown dilation size: {}".format(dilation))

            self.inplanes = planes * block.expansion
            for i in range(1, blocks):
                layers.add(
                    block(
                        planes,
                        dilation=dilation,
                        previous_dilation=dilation,
                        norm_layer=norm_layer,
                        norm_kwargs=self.norm_kwargs,
                        last_gamma=last_gamma,
                    )
                )

        return layers

    def hybrid_forward(self, F, x):
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.maxpool(x)

        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)

        x = self.avgpool(x)
        x = self.flat(x)
        if self.drop is not None:
            x = self.drop(x)
        x = self.fc(x)

        return x


class Block(HybridBlock):
    def __init__(
        self,
        channels,
        cardinality,
        bottleneck_width,
        stride,
        downsample=False,
        last_gamma=False,
        use_se=False,
        avg_down=False,
        norm_layer=BatchNorm,
        norm_kwargs=None,
        **kwargs,
    ):
        super(Block, self).__init__(**kwargs)
        D = int(math.floor(channels * (bottleneck_width / 64)))
        group_width = cardinality * D

        self.body = nn.HybridSequential(prefix="")
        self.body.add(nn.Conv2D(group_width, kernel_size=1, use_bias=False))
        self.body.add(norm_layer(**({} if norm_kwargs is None else norm_kwargs)))
        self.body.add(nn.Activation("relu"))
        self.body.add(nn.Conv2D(group_width, kernel_size=3, strides=stride, padding=1, groups=cardinality, use_bias=False))
        self.body.add(norm_layer(**({} if norm_kwargs is None else norm_kwargs)))
        self.body.add(nn.Activation("relu"))
        self.body.add(nn.Conv2D(channels * 4, kernel_size=1, use_bias=False))
        if last_gamma:
            self.body.add(norm_layer(**({} if norm_kwargs is None else norm_kwargs)))
        else:
            self.body.add(norm_layer(gamma_initializer="zeros", **({} if norm_kwargs is None else norm_kwargs)))

        if use_se:
            self.se = nn.HybridSequential(prefix="")
            self.se.add(nn.Conv2D(channels // 4, kernel_size=1, padding=0))
            self.se.add(nn.Activation("relu"))
            self.se.add(nn.Conv2D(channels * 4, kernel_size=1, padding=0))
            self.se.add(nn.Activation("sigmoid"))
        else:
            self.se = None

        if downsample:
            self.downsample = nn.HybridSequential(prefix="")
            if avg_down:
                self.downsample.add(nn.AvgPool2D(pool_size=stride, strides=stride, ceil_mode=True, count_include_pad=False))
                self.downsample.add(nn.Conv2D(channels=channels * 4, kernel_size=1, strides=1, use_bias=False))
            else:
                self.downsample.add(nn.Conv2D(channels * 4, kernel_size=1, strides=stride, use_bias=False))
            self.downsample.add(norm_layer(**({} if norm_kwargs is None else norm_kwargs)))
        else:
            self.downsample = None

    def hybrid_forward(self, F, x):
        residual = x

        x = self.body(x)

        if self.se:
            w = F.contrib.AdaptiveAvgPooling2D(x, output_size=1)
            w = self.se(w)
            x = F.broadcast_mul(x, w)

        if self.downsample:
            residual = self.downsample(residual)

        x = F.Activation(x + residual, act_type="relu")
        return x


class ResNext(HybridBlock):
    def __init__(
        self,
        layers,
        cardinality,
        bottleneck_width,
        classes=1000,
        last_gamma=False,
        use_se=False,
        deep_stem=False,
        avg_down=False,
        stem_width=64,
        norm_layer=BatchNorm,
        norm_kwargs=None,
        **kwargs,
    ):
        super(ResNext, self).__init__(**kwargs)
        self.cardinality = cardinality
        self.bottleneck_width = bottleneck_width
        channels = 64

        with self.name_scope():
            self.features = nn.HybridSequential(prefix="")
            if not deep_stem:
                self.features.add(nn.Conv2D(channels=64, kernel_size=7, strides=2, padding=3, use_bias=False))
            else:
                self.features.add(nn.Conv2D(channels=stem_width, kernel_size=3, strides=2, padding=1, use_bias=False))
                self.features.add(norm_layer(**({} if norm_kwargs is None else norm_kwargs)))
                self.features.add(nn.Activation("relu"))
                self.features.add(nn.Conv2D(channels=stem_width, kernel_size=3, strides=1, padding=1, use_bias=False))
                self.features.add(norm_layer(**({} if norm_kwargs is None else norm_kwargs)))
                self.features.add(nn.Activation("relu"))
                self.features.add(nn.Conv2D(channels=stem_width * 2, kernel_size=3, strides=1, padding=1, use_bias=False))

            self.features.add(norm_layer(**({} if norm_kwargs is None else norm_kwargs)))
            self.features.add(nn.Activation("relu"))
            self.features.add(nn.MaxPool2D(3, 2, 1))
            for i, num_layer in enumerate(layers):
                stride = 1 if i == 0 else 2
                self.features.add(
                    self._make_layer(
                        channels,
                        num_layer,
                        stride,
                        last_gamma,
                        use_se,
                        False if i == 0 else avg_down,
                        i + 1,
                        norm_layer=norm_layer,
                        norm_kwargs=norm_kwargs,
                    )
                )
                channels *= 2
            self.features.add(nn.GlobalAvgPool2D())

            self.output = nn.Dense(classes)

    def _make_layer(self, channels, num_layers, stride, last_gamma, use_se, avg_down, stage_index, norm_layer=BatchNorm, norm_kwargs=None):
        layer = nn.HybridSequential(prefix="stage%d_" % stage_index)
        with layer.name_scope():
            layer.add(
                Block(
                    channels,
                    self.cardinality,
                    self.bottleneck_width,
                    stride,
                    True,
                    last_gamma=last_gamma,
                    use_se=use_se,
                    avg_down=avg_down,
                    prefix="",
                    norm_layer=norm_layer,
                    norm_kwargs=norm_kwargs,
                )
            )
            for _ in range(num_layers - 1):
                layer.add(
                    Block(
                        channels,
                        self.cardinality,
                        self.bottleneck_width,
                        1,
                        False,
                        last_gamma=last_gamma,
                        use_se=use_se,
                        prefix="",
                        norm_layer=norm_layer,
                        norm_kwargs=norm_kwargs,
                    )
                )
        return layer

    # pylint: disable=unused-argument
    def hybrid_forward(self, F, x):
        x = self.features(x)
        x = self.output(x)

        return x


# ---- end GluonCV 0.10.5 code ---------------------------------------------------------------

_RESNET_LAYERS = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]}
# resnetv1b.py's resnetNN_v1{b,c,d,s} constructors, as GluonCV writes them (stem_width defaults to 32)
_V1B_ARGS = {
    "b": {},
    "c": {"deep_stem": True},
    "d": {"deep_stem": True, "avg_down": True},
    "s": {"deep_stem": True, "stem_width": 64},
}


def gluoncv_net(builder: str):
    """The network GluonCV's model_zoo.get_model(builder) builds, from GluonCV's own constructor
    arguments (resnetv1b.py resnetNN_v1b/c/d/s, resnext.py get_resnext)."""
    if m := re.fullmatch(r"resnext(\d+)_(\d+)x(\d+)d", builder):
        return ResNext(_RESNET_LAYERS[int(m[1])][:4], int(m[2]), int(m[3]))
    m = re.fullmatch(r"resnet(\d+)_v1([bcds])", builder)
    depth, variant = int(m[1]), m[2]
    block = BottleneckV1b if depth >= 50 else BasicBlockV1b
    return ResNetV1b(block, _RESNET_LAYERS[depth], name_prefix=f"resnetv1{variant}_", **_V1B_ARGS[variant])


def write_gluoncv_checkpoint(entry, path: Path, seed: int):
    """Seeded random weights of GluonCV ``entry`` written as a GluonCV ``.params`` file, loaded
    strictly (every name both ways) into GluonCV's own network. Returns that MXNet network."""
    from conftest import random_checkpoint

    random_checkpoint(entry, path, seed)
    net = gluoncv_net(entry.builder)
    net.load_parameters(str(path))
    return net


def mxnet_forward(net, batch: np.ndarray) -> np.ndarray:
    mx = import_mxnet()
    return net(mx.nd.array(batch)).asnumpy()
