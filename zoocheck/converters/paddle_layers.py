"""The Paddle pieces PaddleClas's networks of the families beyond ResNet are built from
(``zoocheck/families/<family>/paddle.py``), and the check that an architecture is one a PaddleClas
file builds.

Imported only when such a network is built, so it imports Paddle at module level.
"""

from __future__ import annotations

from zoocheck.converters import base
from zoocheck.converters.paddle_export import import_paddle

paddle = import_paddle()
nn = paddle.nn
F = nn.functional

#: the activations PaddleClas's files use, by the names they give them
ACTIVATIONS = {None: lambda x: x, "relu": F.relu, "relu6": F.relu6, "hardswish": F.hardswish, "swish": F.swish}


def require_fields(spec, fixed: dict, source_file: str) -> None:
    """NoBuilder naming each field of ``spec`` whose value is not ``fixed``'s: the fields
    ``source_file`` (PaddleClas's file of the family) builds one way only, so a builder of that file does
    not implement them."""
    base.require_fields(spec, fixed, f"PaddleClas's {source_file}", "PaddleClas")


def traced_as_is(cls):
    """Class decorator: ``paddle.jit.save`` runs the Layer's ``forward`` as it is, in static mode,
    instead of converting its source first (dy2static's AST transform, about 0.03 s a sublayer: 6 of
    an EfficientNet-B0's 9 s export). For a forward of plain Python over layers and operators, with
    no branch on a tensor's value and no size of a dynamic axis, the program is the same."""
    paddle.jit.not_to_static(cls.forward)
    return cls


def eval_dropout(x, scale: float):
    """A ``Dropout(p, mode="downscale_in_infer")`` at evaluation: ``x * (1 - p)``."""
    return x if scale == 1.0 else paddle.scale(x, scale)


@traced_as_is
class ConvBN(nn.Layer):
    """A conv without bias, batch norm, then ``act``; the conv and the batch norm under the attribute
    names the PaddleClas file gives them (``names``). ``bn_first``: batch norm, ``act``, then the
    conv (DenseNet's pre-activation units)."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int,
        stride: int = 1,
        *,
        groups: int = 1,
        act: str | None = None,
        names: tuple[str, str] = ("conv", "bn"),
        eps: float = 1e-5,
        bn_first: bool = False,
    ):
        super().__init__()
        self._names = names
        self._act = ACTIVATIONS[act]
        self._bn_first = bn_first
        setattr(self, names[0], nn.Conv2D(cin, cout, kernel, stride=stride, padding=(kernel - 1) // 2, groups=groups, bias_attr=False))
        setattr(self, names[1], nn.BatchNorm2D(cin if bn_first else cout, epsilon=eps))

    def forward(self, x):
        conv, norm = (getattr(self, name) for name in self._names)
        if self._bn_first:
            return conv(self._act(norm(x)))
        return self._act(norm(conv(x)))
