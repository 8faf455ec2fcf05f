"""GluonCV's VGG (gluoncv/model_zoo/vgg.py), built in MXNet from a ``VGGSpec``.

GluonCV's ``VGG`` class is MXNet's own model zoo class (``mxnet.gluon.model_zoo.vision.VGG``) line
for line, so the network is MXNet's and a GluonCV ``.params`` file loads into it strictly under the
same structural names (``features.N`` the convs (and BNs), then the two 4096 Dense layers with
their dropouts, ``output`` the classifier). A spec field GluonCV's code has no form for is refused
(``NoBuilder``) naming it.
"""

from __future__ import annotations

from zoocheck.converters.base import require_fields
from zoocheck.converters.mxnet_compat import import_mxnet
from zoocheck.zoo_registry.types import Architecture

#: the five stages' widths
FILTERS = (64, 128, 256, 512, 512)

#: the spec's fields GluonCV's code builds one way only
GLUONCV_FIELDS = {"conv_bias": True, "eval_dropout_scale": 1.0}


def network(arch: Architecture):
    """GluonCV's VGG of ``arch`` (uninitialised, GluonCV's parameter names)."""
    spec = arch.structure
    require_fields(spec, GLUONCV_FIELDS, "GluonCV's VGG", "GluonCV")
    import_mxnet()
    from mxnet.gluon.model_zoo.vision import VGG

    return VGG(list(spec.layers), list(FILTERS), classes=arch.num_classes, batch_norm=spec.batch_norm)
