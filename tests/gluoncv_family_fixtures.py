"""GluonCV's own network code for the MobileNetV2, MobileNetV3, DenseNet and VGG families: the
reference the GluonCV builders (zoocheck/families/<family>/gluoncv.py) are tested against.

GluonCV 0.10.5 cannot be imported next to torch>=2 (its own version check), so, as
tests/gluon_fixtures.py does for its ResNets, the code below is GluonCV's model code itself, copied
verbatim (docstrings dropped) from the gluoncv-0.10.5 wheel: gluoncv/nn/block.py
(ReLU6, HardSigmoid, HardSwish), gluoncv/model_zoo/mobilenet.py (MobileNetV2), mobilenetv3.py,
densenet.py and vgg.py. GluonCV is Copyright Amazon/DMLC contributors, licensed under the Apache
License 2.0. It needs only MXNet. A network built from it and saved with ``save_parameters`` IS a
GluonCV checkpoint: the parameter names come from GluonCV's code, not from zoocheck's builders.
"""

# ruff: noqa
# pylint: skip-file
from __future__ import division

import re

import numpy as np

from zoocheck.converters.mxnet_compat import import_mxnet

import_mxnet()

from mxnet.context import cpu  # noqa: E402
from mxnet.gluon import nn  # noqa: E402
from mxnet.gluon.block import HybridBlock  # noqa: E402
from mxnet.gluon.contrib.nn import HybridConcurrent, Identity  # noqa: E402
from mxnet.gluon.nn import BatchNorm  # noqa: E402
from mxnet.initializer import Xavier  # noqa: E402

# ---- begin GluonCV 0.10.5 code -------------------------------------------------------------


# gluoncv/nn/block.py
class ReLU6(HybridBlock):
    def __init__(self, **kwargs):
        super(ReLU6, self).__init__(**kwargs)

    def hybrid_forward(self, F, x):
        return F.clip(x, 0, 6, name="relu6")


class HardSigmoid(HybridBlock):
    def __init__(self, **kwargs):
        super(HardSigmoid, self).__init__(**kwargs)
        self.act = ReLU6()

    def hybrid_forward(self, F, x):
        return self.act(x + 3.0) / 6.0


class HardSwish(HybridBlock):
    def __init__(self, **kwargs):
        super(HardSwish, self).__init__(**kwargs)
        self.act = HardSigmoid()

    def hybrid_forward(self, F, x):
        return x * self.act(x)


# gluoncv/model_zoo/mobilenet.py
def _add_conv(out, channels=1, kernel=1, stride=1, pad=0, num_group=1, active=True, relu6=False, norm_layer=BatchNorm, norm_kwargs=None):
    out.add(nn.Conv2D(channels, kernel, stride, pad, groups=num_group, use_bias=False))
    out.add(norm_layer(scale=True, **({} if norm_kwargs is None else norm_kwargs)))
    if active:
        out.add(ReLU6() if relu6 else nn.Activation("relu"))


class LinearBottleneck(nn.HybridBlock):
    def __init__(self, in_channels, channels, t, stride, norm_layer=BatchNorm, norm_kwargs=None, **kwargs):
        super(LinearBottleneck, self).__init__(**kwargs)
        self.use_shortcut = stride == 1 and in_channels == channels
        with self.name_scope():
            self.out = nn.HybridSequential()

            if t != 1:
                _add_conv(self.out, in_channels * t, relu6=True, norm_layer=norm_layer, norm_kwargs=norm_kwargs)
            _add_conv(
                self.out,
                in_channels * t,
                kernel=3,
                stride=stride,
                pad=1,
                num_group=in_channels * t,
                relu6=True,
                norm_layer=norm_layer,
                norm_kwargs=norm_kwargs,
            )
            _add_conv(self.out, channels, active=False, relu6=True, norm_layer=norm_layer, norm_kwargs=norm_kwargs)

    def hybrid_forward(self, F, x):
        out = self.out(x)
        if self.use_shortcut:
            out = F.elemwise_add(out, x)
        return out


# Net


class MobileNetV2(nn.HybridBlock):
    def __init__(self, multiplier=1.0, classes=1000, norm_layer=BatchNorm, norm_kwargs=None, **kwargs):
        super(MobileNetV2, self).__init__(**kwargs)
        with self.name_scope():
            self.features = nn.HybridSequential(prefix="features_")
            with self.features.name_scope():
                _add_conv(
                    self.features,
                    int(32 * multiplier),
                    kernel=3,
                    stride=2,
                    pad=1,
                    relu6=True,
                    norm_layer=norm_layer,
                    norm_kwargs=norm_kwargs,
                )

                in_channels_group = [int(x * multiplier) for x in [32] + [16] + [24] * 2 + [32] * 3 + [64] * 4 + [96] * 3 + [160] * 3]
                channels_group = [int(x * multiplier) for x in [16] + [24] * 2 + [32] * 3 + [64] * 4 + [96] * 3 + [160] * 3 + [320]]
                ts = [1] + [6] * 16
                strides = [1, 2] * 2 + [1, 1, 2] + [1] * 6 + [2] + [1] * 3

                for in_c, c, t, s in zip(in_channels_group, channels_group, ts, strides):
                    self.features.add(
                        LinearBottleneck(in_channels=in_c, channels=c, t=t, stride=s, norm_layer=norm_layer, norm_kwargs=norm_kwargs)
                    )

                last_channels = int(1280 * multiplier) if multiplier > 1.0 else 1280
                _add_conv(self.features, last_channels, relu6=True, norm_layer=norm_layer, norm_kwargs=norm_kwargs)

                self.features.add(nn.GlobalAvgPool2D())

            self.output = nn.HybridSequential(prefix="output_")
            with self.output.name_scope():
                self.output.add(nn.Conv2D(classes, 1, use_bias=False, prefix="pred_"), nn.Flatten())

    def hybrid_forward(self, F, x):
        x = self.features(x)
        x = self.output(x)
        return x


# Constructor


# gluoncv/model_zoo/mobilenetv3.py
def make_divisible(x, divisible_by=8):
    return int(np.ceil(x * 1.0 / divisible_by) * divisible_by)


class Activation(HybridBlock):
    def __init__(self, act_func, **kwargs):
        super(Activation, self).__init__(**kwargs)
        if act_func == "relu":
            self.act = nn.Activation("relu")
        elif act_func == "relu6":
            self.act = ReLU6()
        elif act_func == "hard_sigmoid":
            self.act = HardSigmoid()
        elif act_func == "swish":
            self.act = nn.Swish()
        elif act_func == "hard_swish":
            self.act = HardSwish()
        elif act_func == "leaky":
            self.act = nn.LeakyReLU(alpha=0.375)
        else:
            raise NotImplementedError

    def hybrid_forward(self, F, x):
        return self.act(x)


class _SE(HybridBlock):
    def __init__(self, num_out, ratio=4, act_func=("relu", "hard_sigmoid"), use_bn=False, prefix="", **kwargs):
        super(_SE, self).__init__(**kwargs)
        self.use_bn = use_bn
        num_mid = make_divisible(num_out // ratio)
        self.pool = nn.GlobalAvgPool2D()
        self.conv1 = nn.Conv2D(channels=num_mid, kernel_size=1, use_bias=True, prefix=("%s_fc1_" % prefix))
        self.act1 = Activation(act_func[0])
        self.conv2 = nn.Conv2D(channels=num_out, kernel_size=1, use_bias=True, prefix=("%s_fc2_" % prefix))
        self.act2 = Activation(act_func[1])

    def hybrid_forward(self, F, x):
        out = self.pool(x)
        out = self.conv1(out)
        out = self.act1(out)
        out = self.conv2(out)
        out = self.act2(out)
        return F.broadcast_mul(x, out)


class _Unit(HybridBlock):
    def __init__(
        self,
        num_out,
        kernel_size=1,
        strides=1,
        pad=0,
        num_groups=1,
        use_act=True,
        act_type="relu",
        prefix="",
        norm_layer=BatchNorm,
        **kwargs,
    ):
        super(_Unit, self).__init__(**kwargs)
        self.use_act = use_act
        self.conv = nn.Conv2D(
            channels=num_out,
            kernel_size=kernel_size,
            strides=strides,
            padding=pad,
            groups=num_groups,
            use_bias=False,
            prefix="%s-conv2d_" % prefix,
        )
        self.bn = norm_layer(prefix="%s-batchnorm_" % prefix)
        if use_act is True:
            self.act = Activation(act_type)

    def hybrid_forward(self, F, x):
        out = self.conv(x)
        out = self.bn(out)
        if self.use_act:
            out = self.act(out)
        return out


class _ResUnit(HybridBlock):
    def __init__(
        self, num_in, num_mid, num_out, kernel_size, act_type="relu", use_se=False, strides=1, prefix="", norm_layer=BatchNorm, **kwargs
    ):
        super(_ResUnit, self).__init__(**kwargs)
        with self.name_scope():
            self.use_se = use_se
            self.first_conv = num_out != num_mid
            self.use_short_cut_conv = True
            if self.first_conv:
                self.expand = _Unit(
                    num_mid, kernel_size=1, strides=1, pad=0, act_type=act_type, prefix="%s-exp" % prefix, norm_layer=norm_layer
                )
            self.conv1 = _Unit(
                num_mid,
                kernel_size=kernel_size,
                strides=strides,
                pad=self._get_pad(kernel_size),
                act_type=act_type,
                num_groups=num_mid,
                prefix="%s-depthwise" % prefix,
                norm_layer=norm_layer,
            )
            if use_se:
                self.se = _SE(num_mid, prefix="%s-se" % prefix)
            self.conv2 = _Unit(
                num_out,
                kernel_size=1,
                strides=1,
                pad=0,
                act_type=act_type,
                use_act=False,
                prefix="%s-linear" % prefix,
                norm_layer=norm_layer,
            )
            if num_in != num_out or strides != 1:
                self.use_short_cut_conv = False

    def hybrid_forward(self, F, x):
        out = self.expand(x) if self.first_conv else x
        out = self.conv1(out)
        if self.use_se:
            out = self.se(out)
        out = self.conv2(out)
        if self.use_short_cut_conv:
            return x + out
        else:
            return out

    def _get_pad(self, kernel_size):
        if kernel_size == 1:
            return 0
        elif kernel_size == 3:
            return 1
        elif kernel_size == 5:
            return 2
        elif kernel_size == 7:
            return 3
        else:
            raise NotImplementedError


class _MobileNetV3(HybridBlock):
    def __init__(
        self,
        cfg,
        cls_ch_squeeze,
        cls_ch_expand,
        multiplier=1.0,
        classes=1000,
        norm_kwargs=None,
        last_gamma=False,
        final_drop=0.0,
        use_global_stats=False,
        name_prefix="",
        norm_layer=BatchNorm,
    ):
        super(_MobileNetV3, self).__init__(prefix=name_prefix)
        norm_kwargs = norm_kwargs if norm_kwargs is not None else {}
        if use_global_stats:
            norm_kwargs["use_global_stats"] = True
        # initialize residual networks
        k = multiplier
        self.last_gamma = last_gamma
        self.norm_kwargs = norm_kwargs
        self.inplanes = 16

        with self.name_scope():
            self.features = nn.HybridSequential(prefix="")
            self.features.add(
                nn.Conv2D(
                    channels=make_divisible(k * self.inplanes),
                    kernel_size=3,
                    padding=1,
                    strides=2,
                    use_bias=False,
                    prefix="first-3x3-conv-conv2d_",
                )
            )
            self.features.add(norm_layer(prefix="first-3x3-conv-batchnorm_"))
            self.features.add(HardSwish())
            i = 0
            for layer_cfg in cfg:
                layer = self._make_layer(
                    kernel_size=layer_cfg[0],
                    exp_ch=make_divisible(k * layer_cfg[1]),
                    out_channel=make_divisible(k * layer_cfg[2]),
                    use_se=layer_cfg[3],
                    act_func=layer_cfg[4],
                    stride=layer_cfg[5],
                    prefix="seq-%d" % i,
                )
                self.features.add(layer)
                i += 1
            self.features.add(
                nn.Conv2D(
                    channels=make_divisible(k * cls_ch_squeeze),
                    kernel_size=1,
                    padding=0,
                    strides=1,
                    use_bias=False,
                    prefix="last-1x1-conv1-conv2d_",
                )
            )
            self.features.add(norm_layer(prefix="last-1x1-conv1-batchnorm_", **({} if norm_kwargs is None else norm_kwargs)))
            self.features.add(HardSwish())
            self.features.add(nn.GlobalAvgPool2D())
            self.features.add(
                nn.Conv2D(channels=cls_ch_expand, kernel_size=1, padding=0, strides=1, use_bias=False, prefix="last-1x1-conv2-conv2d_")
            )
            self.features.add(HardSwish())

            if final_drop > 0:
                self.features.add(nn.Dropout(final_drop))
            self.output = nn.HybridSequential(prefix="output_")
            with self.output.name_scope():
                self.output.add(nn.Conv2D(in_channels=cls_ch_expand, channels=classes, kernel_size=1, prefix="fc_"), nn.Flatten())

    def _make_layer(self, kernel_size, exp_ch, out_channel, use_se, act_func, stride=1, prefix=""):

        mid_planes = exp_ch
        out_planes = out_channel
        layer = _ResUnit(self.inplanes, mid_planes, out_planes, kernel_size, act_func, strides=stride, use_se=use_se, prefix=prefix)
        self.inplanes = out_planes
        return layer

    def hybrid_forward(self, F, x):
        x = self.features(x)
        x = self.output(x)
        return x


def get_mobilenet_v3(
    model_name, multiplier=1.0, pretrained=False, ctx=cpu(), root="~/.mxnet/models", norm_layer=BatchNorm, norm_kwargs=None, **kwargs
):
    if model_name == "large":
        cfg = [
            # k, exp, c,  se,     nl,  s,
            [3, 16, 16, False, "relu", 1],
            [3, 64, 24, False, "relu", 2],
            [3, 72, 24, False, "relu", 1],
            [5, 72, 40, True, "relu", 2],
            [5, 120, 40, True, "relu", 1],
            [5, 120, 40, True, "relu", 1],
            [3, 240, 80, False, "hard_swish", 2],
            [3, 200, 80, False, "hard_swish", 1],
            [3, 184, 80, False, "hard_swish", 1],
            [3, 184, 80, False, "hard_swish", 1],
            [3, 480, 112, True, "hard_swish", 1],
            [3, 672, 112, True, "hard_swish", 1],
            [5, 672, 160, True, "hard_swish", 2],
            [5, 960, 160, True, "hard_swish", 1],
            [5, 960, 160, True, "hard_swish", 1],
        ]
        cls_ch_squeeze = 960
        cls_ch_expand = 1280
    elif model_name == "small":
        cfg = [
            # k, exp, c,  se,     nl,  s,
            [3, 16, 16, True, "relu", 2],
            [3, 72, 24, False, "relu", 2],
            [3, 88, 24, False, "relu", 1],
            [5, 96, 40, True, "hard_swish", 2],
            [5, 240, 40, True, "hard_swish", 1],
            [5, 240, 40, True, "hard_swish", 1],
            [5, 120, 48, True, "hard_swish", 1],
            [5, 144, 48, True, "hard_swish", 1],
            [5, 288, 96, True, "hard_swish", 2],
            [5, 576, 96, True, "hard_swish", 1],
            [5, 576, 96, True, "hard_swish", 1],
        ]
        cls_ch_squeeze = 576
        cls_ch_expand = 1280
    else:
        raise NotImplementedError
    net = _MobileNetV3(cfg, cls_ch_squeeze, cls_ch_expand, multiplier=multiplier, final_drop=0.2, norm_layer=norm_layer, **kwargs)
    if pretrained:
        from .model_store import get_model_file

        net.load_parameters(get_model_file("mobilenetv3_%s" % model_name, tag=pretrained, root=root), ctx=ctx)
        from ..data import ImageNet1kAttr

        attrib = ImageNet1kAttr()
        net.synset = attrib.synset
        net.classes = attrib.classes
        net.classes_long = attrib.classes_long
    return net


# gluoncv/model_zoo/densenet.py
def _make_dense_block(num_layers, bn_size, growth_rate, dropout, stage_index, norm_layer, norm_kwargs):
    out = nn.HybridSequential(prefix="stage%d_" % stage_index)
    with out.name_scope():
        for _ in range(num_layers):
            out.add(_make_dense_layer(growth_rate, bn_size, dropout, norm_layer, norm_kwargs))
    return out


def _make_dense_layer(growth_rate, bn_size, dropout, norm_layer, norm_kwargs):
    new_features = nn.HybridSequential(prefix="")
    new_features.add(norm_layer(**({} if norm_kwargs is None else norm_kwargs)))
    new_features.add(nn.Activation("relu"))
    new_features.add(nn.Conv2D(bn_size * growth_rate, kernel_size=1, use_bias=False))
    new_features.add(norm_layer(**({} if norm_kwargs is None else norm_kwargs)))
    new_features.add(nn.Activation("relu"))
    new_features.add(nn.Conv2D(growth_rate, kernel_size=3, padding=1, use_bias=False))
    if dropout:
        new_features.add(nn.Dropout(dropout))

    out = HybridConcurrent(axis=1, prefix="")
    out.add(Identity())
    out.add(new_features)

    return out


def _make_transition(num_output_features, norm_layer, norm_kwargs):
    out = nn.HybridSequential(prefix="")
    out.add(norm_layer(**({} if norm_kwargs is None else norm_kwargs)))
    out.add(nn.Activation("relu"))
    out.add(nn.Conv2D(num_output_features, kernel_size=1, use_bias=False))
    out.add(nn.AvgPool2D(pool_size=2, strides=2))
    return out


# Net
class DenseNet(HybridBlock):
    def __init__(
        self,
        num_init_features,
        growth_rate,
        block_config,
        bn_size=4,
        dropout=0,
        classes=1000,
        norm_layer=BatchNorm,
        norm_kwargs=None,
        **kwargs,
    ):
        super(DenseNet, self).__init__(**kwargs)
        with self.name_scope():
            self.features = nn.HybridSequential(prefix="")
            self.features.add(nn.Conv2D(num_init_features, kernel_size=7, strides=2, padding=3, use_bias=False))
            self.features.add(norm_layer(**({} if norm_kwargs is None else norm_kwargs)))
            self.features.add(nn.Activation("relu"))
            self.features.add(nn.MaxPool2D(pool_size=3, strides=2, padding=1))
            # Add dense blocks
            num_features = num_init_features
            for i, num_layers in enumerate(block_config):
                self.features.add(_make_dense_block(num_layers, bn_size, growth_rate, dropout, i + 1, norm_layer, norm_kwargs))
                num_features = num_features + num_layers * growth_rate
                if i != len(block_config) - 1:
                    self.features.add(_make_transition(num_features // 2, norm_layer, norm_kwargs))
                    num_features = num_features // 2
            self.features.add(norm_layer(**({} if norm_kwargs is None else norm_kwargs)))
            self.features.add(nn.Activation("relu"))
            self.features.add(nn.AvgPool2D(pool_size=7))
            self.features.add(nn.Flatten())

            self.output = nn.Dense(classes)

    def hybrid_forward(self, F, x):
        x = self.features(x)
        x = self.output(x)
        return x


# Specification
densenet_spec = {
    121: (64, 32, [6, 12, 24, 16]),
    161: (96, 48, [6, 12, 36, 24]),
    169: (64, 32, [6, 12, 32, 32]),
    201: (64, 32, [6, 12, 48, 32]),
}


# Constructor


# gluoncv/model_zoo/vgg.py
class VGG(HybridBlock):
    def __init__(self, layers, filters, classes=1000, batch_norm=False, **kwargs):
        super(VGG, self).__init__(**kwargs)
        assert len(layers) == len(filters)
        with self.name_scope():
            self.features = self._make_features(layers, filters, batch_norm)
            self.features.add(nn.Dense(4096, activation="relu", weight_initializer="normal", bias_initializer="zeros"))
            self.features.add(nn.Dropout(rate=0.5))
            self.features.add(nn.Dense(4096, activation="relu", weight_initializer="normal", bias_initializer="zeros"))
            self.features.add(nn.Dropout(rate=0.5))
            self.output = nn.Dense(classes, weight_initializer="normal", bias_initializer="zeros")

    def _make_features(self, layers, filters, batch_norm):
        featurizer = nn.HybridSequential(prefix="")
        for i, num in enumerate(layers):
            for _ in range(num):
                featurizer.add(
                    nn.Conv2D(
                        filters[i],
                        kernel_size=3,
                        padding=1,
                        weight_initializer=Xavier(rnd_type="gaussian", factor_type="out", magnitude=2),
                        bias_initializer="zeros",
                    )
                )
                if batch_norm:
                    featurizer.add(nn.BatchNorm())
                featurizer.add(nn.Activation("relu"))
            featurizer.add(nn.MaxPool2D(strides=2))
        return featurizer

    def hybrid_forward(self, F, x):
        x = self.features(x)
        x = self.output(x)
        return x


# Specification
vgg_spec = {
    11: ([1, 1, 2, 2, 2], [64, 128, 256, 512, 512]),
    13: ([2, 2, 2, 2, 2], [64, 128, 256, 512, 512]),
    16: ([2, 2, 3, 3, 3], [64, 128, 256, 512, 512]),
    19: ([2, 2, 4, 4, 4], [64, 128, 256, 512, 512]),
}


# Constructors


# ---- end GluonCV 0.10.5 code ---------------------------------------------------------------


def gluoncv_net(builder: str):
    """The network GluonCV's ``model_zoo.get_model(builder)`` builds, from GluonCV's own
    constructors (mobilenet.py get_mobilenet_v2, mobilenetv3.py get_mobilenet_v3, densenet.py
    get_densenet, vgg.py get_vgg)."""
    if m := re.fullmatch(r"mobilenetv2_(\d\.\d+)", builder):
        return MobileNetV2(float(m[1]))
    if m := re.fullmatch(r"mobilenetv3_(large|small)", builder):
        return get_mobilenet_v3(m[1])
    if m := re.fullmatch(r"densenet(\d+)", builder):
        num_init_features, growth_rate, block_config = densenet_spec[int(m[1])]
        return DenseNet(num_init_features, growth_rate, block_config)
    m = re.fullmatch(r"vgg(\d+)(_bn)?", builder)
    layers, filters = vgg_spec[int(m[1])]
    return VGG(layers, filters, batch_norm=bool(m[2]))
