"""GluonCV's DenseNet (gluoncv/model_zoo/densenet.py), built in MXNet from a ``DenseNetSpec``.

GluonCV's ``DenseNet`` class is MXNet's own model zoo class (``mxnet.gluon.model_zoo.vision.DenseNet``)
line for line (GluonCV only adds a ``norm_layer`` argument whose default is MXNet's BatchNorm), so
the network is MXNet's, and a GluonCV ``.params`` file loads into it strictly under the same
structural names (``features.0`` the stem conv, ``features.4.0.1.2`` a dense layer's 1x1 conv,
``output`` the classifier). GluonCV's final pool is ``AvgPool2D(7)``, which is the global pool at
the 224-pixel input of every GluonCV entry (a 7x7 map) and fails below it; the network here pools
globally instead: the same numbers at 224, and the spec's function (torchvision's) at every size.
A spec field GluonCV's code builds one way only is refused (``NoBuilder``) naming it.
"""

from __future__ import annotations

from zoocheck.converters.base import require_fields
from zoocheck.converters.mxnet_compat import import_mxnet
from zoocheck.families.densenet.spec import DEFAULT_BN_EPS
from zoocheck.zoo_registry.types import Architecture

#: the spec's fields GluonCV's code builds one way only
GLUONCV_FIELDS = {"stem": "7x7", "blur_pool": False, "bn_eps": DEFAULT_BN_EPS}


def network(arch: Architecture):
    """GluonCV's DenseNet of ``arch`` (uninitialised, GluonCV's parameter names)."""
    spec = arch.structure
    require_fields(spec, GLUONCV_FIELDS, "GluonCV's DenseNet", "GluonCV")
    import_mxnet()
    from mxnet.gluon.model_zoo.vision import DenseNet
    from mxnet.gluon.nn import GlobalAvgPool2D

    net = DenseNet(spec.init_features, spec.growth_rate, list(spec.blocks), bn_size=spec.bn_size, classes=arch.num_classes)
    net.features.register_child(GlobalAvgPool2D(), str(len(net.features) - 2))  # in place of AvgPool2D(7), before the flatten
    return net
