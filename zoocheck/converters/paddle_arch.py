"""PaddleClas's ResNet / ResNeXt networks in Paddle, with PaddleClas's own parameter names.

The ``paddleclas`` package is not a dependency (it pins old numpy/opencv and pulls faiss, visualdl,
sklearn), so the networks are defined here, layer for layer as PaddleClas 2.6 defines them, so that
a ``*_pretrained.pdparams`` file PaddleClas published loads by name. PaddleClas uses four naming
schemes for this family, one per source file; ``Entry.naming`` (from ``names.paddleclas``) picks it:

=============  ==============================================  =========================================
scheme         PaddleClas file / models                        parameter names (examples)
=============  ==============================================  =========================================
legendary      legendary_models/resnet.py: ResNet18..200,      ``stem.0.conv.weight``, ``stem.0.bn._mean``,
               ResNet*_vd, *_vd_ssld, Fix_ResNet50_vd_ssld     ``blocks.3.short.conv.weight``, ``fc.weight``
vc             model_zoo/resnet_vc.py: ResNet50_vc             ``conv1_1._conv.weight``,
                                                               ``bb_0_0.conv0._batch_norm._variance``, ``out.weight``
resnext        model_zoo/resnext.py: ResNeXt50_32x4d ...       ``conv._conv.weight``, ``bb_1_0.short._conv.weight``
resnext_vd     model_zoo/resnext_vd.py: ResNeXt50_vd_32x4d ... ``conv1_1._conv.weight``, ``bb_1_0.short._conv.weight``
wsl            model_zoo/resnext101_wsl.py:                    ``_conv_stem._bn.weight``, ``_conv1_0._conv0._conv.weight``,
               ResNeXt101_32x8d_wsl ... 32x48d_wsl             ``_conv1_0._short._conv._conv.weight``, ``_out.weight``
=============  ==============================================  =========================================

Details kept from PaddleClas because they change the function or the names:

- every scheme but wsl gives the first block of EVERY stage a projection shortcut, even where
  the shapes already match (ResNet18/34 stage 1: a 1x1 conv 64->64 that torchvision does not have);
  wsl projects only where channels or stride change;
- the ``_vd`` shortcut is avg-pool 2x2/2 (``ceil_mode=True``; ``padding="SAME"`` in legendary, 0 in
  resnext_vd) then a stride-1 1x1 conv; the first stage's first block has no pool;
- bottleneck widths are the ResNetSpec's: legendary/vc ``64 * 2**stage`` -> ``x4``;
  resnext/resnext_vd ``groups * width_per_group * 2**stage`` -> ``256 * 2**stage``; wsl computes its
  output as ``groups * width * 2**stage // (width // 8)``, which is the same ``256 * 2**stage`` for
  every published 32xWd (it differs only for cardinalities PaddleClas never published);
- batch norm is Paddle's (epsilon 1e-5; ``weight``/``bias``/``_mean``/``_variance``), the classifier a
  ``Linear`` whose weight is stored [in, out].

Paddle is imported inside :func:`build_network`, never at module import.
"""

from __future__ import annotations

from dataclasses import dataclass

from zoocheck.families.resnet.spec import resnet_spec
from zoocheck.zoo_registry.types import Architecture


@dataclass(frozen=True)
class Scheme:
    """How one PaddleClas source file names (and slightly shapes) its ResNet-family network."""

    name: str
    variant: str  # the Architecture variant this file builds: 'b', 'c' or 'd'
    conv: str  # attribute of the Conv2D inside a conv-bn unit
    bn: str  # attribute of the BatchNorm inside a conv-bn unit
    stem: tuple[str, ...]  # attribute path of each stem conv-bn unit ('stem.0' -> Sequential item)
    units: tuple[str, str, str]  # the residual branch's conv-bn units, in order
    short: str  # attribute path of the projection shortcut
    fc: str
    grouped: bool  # groups / width_per_group taken from the architecture
    # avg-pool before the vd shortcut conv: padding argument (legendary 'SAME', resnext_vd 0)
    vd_pool_padding: object = 0
    # the first block of every stage has a projection shortcut (every file but wsl)
    projects_first: bool = True


SCHEMES: dict[str, Scheme] = {
    s.name: s
    for s in (
        Scheme("legendary", "b", "conv", "bn", ("stem.0",), ("conv0", "conv1", "conv2"), "short", "fc", False, "SAME"),
        Scheme(
            "legendary_vd", "d", "conv", "bn", ("stem.0", "stem.1", "stem.2"), ("conv0", "conv1", "conv2"), "short", "fc", False, "SAME"
        ),
        Scheme("vc", "c", "_conv", "_batch_norm", ("conv1_1", "conv1_2", "conv1_3"), ("conv0", "conv1", "conv2"), "short", "out", False),
        Scheme("resnext", "b", "_conv", "_batch_norm", ("conv",), ("conv0", "conv1", "conv2"), "short", "out", True),
        Scheme(
            "resnext_vd", "d", "_conv", "_batch_norm", ("conv1_1", "conv1_2", "conv1_3"), ("conv0", "conv1", "conv2"), "short", "out", True
        ),
        Scheme(
            "wsl", "b", "_conv", "_bn", ("_conv_stem",), ("_conv0", "_conv1", "_conv2"), "_short._conv", "_out", True, projects_first=False
        ),
    )
}


def scheme_for(arch: Architecture, naming: str) -> Scheme:
    """The naming scheme ``naming`` (``Entry.naming``, set by ``names.paddleclas``); checks that the
    PaddleClas file it names builds ``arch``."""
    try:
        scheme = SCHEMES[naming]
    except KeyError:
        raise ValueError(f"no PaddleClas naming scheme {naming!r} (known: {', '.join(SCHEMES)})") from None
    spec = resnet_spec(arch)
    if spec is None:
        raise ValueError(f"PaddleClas's {scheme.name} file builds no {arch.id}")
    if spec.variant != scheme.variant:
        raise ValueError(f"PaddleClas's {scheme.name} networks are variant {scheme.variant!r}, not {arch.id}")
    if not scheme.grouped and spec.groups != 1:
        raise ValueError(f"PaddleClas's {scheme.name} networks have no grouped convolutions, {arch.id} has")
    if spec.project_first != (scheme.projects_first and spec.block == "basic"):
        raise ValueError(
            f"PaddleClas's {scheme.name} networks {'do' if scheme.projects_first else 'do not'} project stage 1's first block; {arch.id} disagrees"
        )
    return scheme


def build_network(arch: Architecture, scheme: Scheme):
    """A ``paddle.nn.Layer`` computing ``arch`` whose ``state_dict`` keys are PaddleClas's names."""
    import paddle
    from paddle import nn

    from zoocheck.converters.paddle_layers import traced_as_is

    spec = resnet_spec(arch)

    @traced_as_is
    class ConvBN(nn.Layer):
        """conv -> batch norm [-> relu], optionally after a 2x2 avg-pool (the vd shortcut)."""

        def __init__(self, cin, cout, k, stride=1, groups=1, act=True, pool=None):
            super().__init__()
            self._names = (scheme.conv, scheme.bn)
            self._pool = pool
            setattr(self, scheme.conv, nn.Conv2D(cin, cout, k, stride=stride, padding=(k - 1) // 2, groups=groups, bias_attr=False))
            setattr(self, scheme.bn, nn.BatchNorm2D(cout, epsilon=1e-5))
            self._act = act

        def forward(self, x):
            if self._pool is not None:
                x = self._pool(x)
            x = getattr(self, self._names[1])(getattr(self, self._names[0])(x))
            return nn.functional.relu(x) if self._act else x

    def attach(parent, path: str, layer) -> None:
        """``path`` may be dotted ('_short._conv'): intermediate holders are created on the way."""
        *heads, last = path.split(".")
        for head in heads:
            if head not in parent._sub_layers:
                parent.add_sublayer(head, nn.Layer())
            parent = parent._sub_layers[head]
        parent.add_sublayer(last, layer)

    def lookup(parent, path: str):
        for part in path.split("."):
            parent = parent._sub_layers[part]
        return parent

    @traced_as_is
    class Block(nn.Layer):
        def __init__(self, cin, mid, cout, stride, groups, project, vd_pool):
            super().__init__()
            a, b, c = scheme.units
            if spec.block == "basic":
                attach(self, a, ConvBN(cin, mid, 3, stride))
                attach(self, b, ConvBN(mid, cout, 3, act=False))
                self._branch = (a, b)
            else:
                attach(self, a, ConvBN(cin, mid, 1))
                attach(self, b, ConvBN(mid, mid, 3, stride, groups=groups))
                attach(self, c, ConvBN(mid, cout, 1, act=False))
                self._branch = (a, b, c)
            self._project = project
            if project:
                if vd_pool:
                    pool = nn.AvgPool2D(kernel_size=2, stride=stride, padding=scheme.vd_pool_padding, ceil_mode=True)
                    attach(self, scheme.short, ConvBN(cin, cout, 1, 1, act=False, pool=pool))
                else:
                    attach(self, scheme.short, ConvBN(cin, cout, 1, stride, act=False))

        def forward(self, x):
            y = x
            for name in self._branch:
                y = lookup(self, name)(y)
            short = lookup(self, scheme.short)(x) if self._project else x
            return nn.functional.relu(paddle.add(y, short))

    @traced_as_is
    class Net(nn.Layer):
        def __init__(self):
            super().__init__()
            deep = spec.stem == "deep"
            stem_shapes = [(3, 32, 2), (32, 32, 1), (32, 64, 1)] if deep else [(3, 64, 2)]
            stem_units = [ConvBN(cin, cout, 3 if deep else 7, stride) for cin, cout, stride in stem_shapes]
            if scheme.stem[0].startswith("stem."):
                self.stem = nn.Sequential(*stem_units)
            else:
                for name, unit in zip(scheme.stem, stem_units):
                    attach(self, name, unit)
            self._stem_names = scheme.stem
            self._max_pool = nn.MaxPool2D(kernel_size=3, stride=2, padding=1)
            blocks, cin = [], spec.stem_channels
            for stage, count in enumerate(spec.layers):
                mid, cout = spec.mid_channels(stage), spec.out_channels(stage)
                for i in range(count):
                    stride = spec.stride(stage, i)
                    vd_pool = spec.shortcut == "avgpool_conv" and stride != 1
                    blocks.append(Block(cin, mid, cout, stride, spec.groups, spec.projects(stage, i), vd_pool))
                    cin = cout
            if scheme.name == "legendary" or scheme.name == "legendary_vd":
                self.blocks = nn.Sequential(*blocks)
            else:
                names = iter(
                    f"_conv{s + 1}_{i}" if scheme.name == "wsl" else f"bb_{s}_{i}" for s, n in enumerate(spec.layers) for i in range(n)
                )
                for name, block in zip(names, blocks):
                    self.add_sublayer(name, block)
            self._blocks = blocks
            self._fc_name = scheme.fc
            attach(self, scheme.fc, nn.Linear(cin, arch.num_classes))

        def forward(self, x):
            if hasattr(self, "stem"):
                x = self.stem(x)
            else:
                for name in self._stem_names:
                    x = lookup(self, name)(x)
            x = self._max_pool(x)
            for block in self._blocks:
                x = block(x)
            x = paddle.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
            return lookup(self, self._fc_name)(x)

    return Net()
