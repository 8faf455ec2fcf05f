"""Parameters and multiply-adds of an ONNX graph, for any architecture family.

``count_graph`` reads a graph only: the shapes of its initializers and, from
``onnx.shape_inference`` at one image of ``input_size`` x ``input_size``, the shape of every tensor.

What it counts:

- parameters: the initializers that are weights, each once: the weight and bias of Conv,
  ConvTranspose and Gemm, an initializer operand of MatMul, PRelu's slope, the scale and bias of
  BatchNormalization and the other normalisations, and a per-channel initializer operand (more
  than one value) of Mul or Add (layer scale; a batch norm kept as Mul + Add in a canonical graph).
  BatchNormalization's running mean and variance are counted apart, as ``bn_stats`` (MXNet Gluon and
  PaddleClas's ``paddle.flops`` count them, the other zoos do not). A Constant node's tensor, and an
  Identity of a stored tensor (torch.onnx stores equal parameters once), count as initializers do.
  Scalar constants (HardSwish's 3 and 1/6) and integer tensors (shapes, pads) are not parameters;
- multiply-adds (MACs) of Conv, ConvTranspose, Gemm and MatMul, both operands' shapes from shape
  inference (where a shape is computed at run time, as timm's ``tf_`` "same" padding does, the
  computation is evaluated first). Batch norm, activations, pooling, element-wise Mul/Add and bias
  additions are left out (about 1%, and every tool counts them differently), as every zoo's
  published number does. The products of two computed tensors (a transformer's attention: q times
  k, the weights times v) are also counted apart (``attention_macs``): fvcore, whose numbers
  torchvision and timm publish, counts them, mmengine's counter (mmpretrain) does not.

A graph whose batch norms an exporter folded into the convolutions (torch.onnx in eval mode, every
canonical graph) holds what the zoos count less one value per folded channel (the convolution's
bias stands for the norm's shift, its weights hold the scale), and no running statistics:
``architecture_counts`` therefore counts a canonical architecture's parameters on its canonical
parameter set (the unfolded checkpoint every source's weights map to, what the zoos count) and its
MACs on the canonical graph. Importing this module imports neither onnx nor a framework.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from math import prod

from zoocheck.converters.graph.rewrites.onnx_graph import SHAPE_VALUES_UP_TO, weightless_copy
from zoocheck.zoo_registry.types import Architecture

#: op -> positions of its inputs that are weights when they are initializers
WEIGHT_INPUTS: dict[str, tuple[int, ...]] = {
    "Conv": (1, 2), "ConvTranspose": (1, 2), "Gemm": (1, 2), "MatMul": (0, 1), "PRelu": (1,),
    "BatchNormalization": (1, 2), "InstanceNormalization": (1, 2), "LayerNormalization": (1, 2),
    "GroupNormalization": (1, 2),
}  # fmt: skip
BN_STATS_INPUTS = (3, 4)  # BatchNormalization's running mean and variance
PER_CHANNEL_OPS = ("Mul", "Add")
MAC_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
_BN_STATS_SUFFIXES = (".running_mean", ".running_var")  # the canonical parameter names' batch-norm statistics
#: convolutions and Gemm are the same at every opset the template is built at
_TEMPLATE_OPSET = 17
_TENSOR_DATA_FIELDS = ("raw_data", "float_data", "int32_data", "int64_data", "double_data", "uint64_data")


@dataclass(frozen=True)
class Counts:
    params: int  # trainable parameters (weights, biases, batch-norm scale and shift)
    bn_stats: int  # batch-norm running mean + variance values (counted by MXNet and paddle.flops)
    macs: int | None  # conv + fc (+ attention) multiply-adds for one image at ``input_size``; None: unknown there
    input_size: int
    macs_unknown: str = ""  # why ``macs`` is None (shapes not static, or the file's input fixed at another size)
    attention_macs: int = 0  # the part of ``macs`` in products of two computed tensors (MatMul without a weight)

    @property
    def params_with_bn_stats(self) -> int:
        return self.params + self.bn_stats


def count_graph(model, input_size: int) -> Counts:
    """Parameters, batch-norm statistics and MACs of the ONNX ``model`` for one image of
    ``input_size`` x ``input_size`` (symbolic spatial sizes are set to it, the batch to 1). The
    parameters are counted whatever the size; the MACs only where every operand's shape is known."""
    initializers = _weight_tensors(model.graph)
    params: set[str] = set()
    stats: set[str] = set()
    for node in model.graph.node:
        positions = WEIGHT_INPUTS.get(node.op_type, ())
        for i, name in enumerate(node.input):
            if name not in initializers:
                continue
            if i in positions:
                params.add(name)
            elif node.op_type == "BatchNormalization" and i in BN_STATS_INPUTS:
                stats.add(name)
            elif node.op_type in PER_CHANNEL_OPS and prod(initializers[name]) > 1:
                params.add(name)
    try:
        (macs, attention), unknown = _macs(model, input_size, set(initializers)), ""
    except ValueError as exc:
        (macs, attention), unknown = (None, 0), str(exc)
    return Counts(
        params=sum(prod(initializers[n]) for n in params),
        bn_stats=sum(prod(initializers[n]) for n in stats),
        macs=macs,
        input_size=input_size,
        macs_unknown=unknown,
        attention_macs=attention,
    )


@cache
def architecture_counts(arch: Architecture, input_size: int) -> Counts | None:
    """What the zoos count for an architecture with a canonical form: parameters and batch-norm
    statistics of its canonical parameter set, MACs of its canonical graph at ``input_size``;
    None for an architecture without one (its counts come from a converted file)."""
    from zoocheck.converters.graph import template_for

    parameters = parameter_counts(arch)
    if parameters is None:
        return None
    try:
        template = template_for(arch, _TEMPLATE_OPSET, input_size)
    except ValueError:  # the family has no canonical graph for this member of it
        return None
    params, bn_stats = parameters
    graph = count_graph(template, input_size)
    return Counts(params=params, bn_stats=bn_stats, macs=graph.macs, input_size=input_size, attention_macs=graph.attention_macs)


@cache
def parameter_counts(arch: Architecture) -> tuple[int, int] | None:
    """(trainable parameters, batch-norm statistics) of the canonical parameter set of ``arch``,
    None without a canonical form (a family's template and parameters, which raise ValueError for
    a member they do not cover, e.g. a DenseNet with a blur-pool stem). The set is the unfolded
    checkpoint, batch norms' ``running_mean`` and ``running_var`` apart. A norm with statistics but no ``weight`` (MXNet's frozen
    ``BatchNorm(scale=False, center=False)`` on v2's input) still stores gamma = 1 and beta = 0 in
    MXNet's files, counted with the statistics as MXNet counts them."""
    from zoocheck.converters.graph import has_canonical_form
    from zoocheck.converters.weights import parameter_shapes
    from zoocheck.families.registry import family_of

    if not has_canonical_form(arch) or family_of(arch).parameters is None:
        return None
    try:
        shapes = parameter_shapes(arch)
    except ValueError:
        return None
    stats = {name: prod(shape) for name, shape in shapes.items() if name.endswith(_BN_STATS_SUFFIXES)}
    frozen = sum(
        2 * n
        for name, n in stats.items()
        if name.endswith(".running_mean") and name.removesuffix(".running_mean") + ".weight" not in shapes
    )
    return sum(prod(shape) for shape in shapes.values()) - sum(stats.values()), sum(stats.values()) + frozen


def _weight_tensors(graph) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor that holds stored values: the initializers, Constant nodes'
    tensors, and what Identity passes on from them (torch.onnx stores parameters of equal values
    once and gives every other name an Identity of it: each name is a parameter of its own)."""
    tensors = {t.name: tuple(t.dims) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            tensors[node.output[0]] = tuple(node.attribute[0].t.dims)
        elif node.op_type == "Identity" and node.input[0] in tensors:
            tensors[node.output[0]] = tensors[node.input[0]]
    return tensors


def _macs(model, input_size: int, weights: set[str]) -> tuple[int, int]:
    """(every MAC, those of MatMuls with no operand in ``weights``) for one image."""
    shapes = _static_shapes(model, input_size)
    macs = attention = 0
    for node in model.graph.node:
        if node.op_type not in MAC_OPS:
            continue
        try:
            if node.op_type == "Conv":  # per output value: (in channels / groups) x kernel
                macs += prod(shapes[node.output[0]]) * prod(shapes[node.input[1]][1:])
            elif node.op_type == "ConvTranspose":  # per input value: (out channels / groups) x kernel
                macs += prod(shapes[node.input[0]]) * prod(shapes[node.input[1]][1:])
            elif node.op_type == "Gemm":
                a = shapes[node.input[0]]
                trans_a = next((attr.i for attr in node.attribute if attr.name == "transA"), 0)
                macs += prod(shapes[node.output[0]]) * (a[0] if trans_a else a[1])
            else:  # MatMul: [..., M, K] x [..., K, N] (a 1-D first operand is [K])
                product = prod(shapes[node.output[0]]) * shapes[node.input[0]][-1]
                macs += product
                if not weights & set(node.input):
                    attention += product
        except (KeyError, IndexError):
            raise ValueError(
                f"{node.op_type} node {node.name!r}: shape inference gave no static shape for its operands at {input_size}x{input_size}"
            ) from None
    return macs, attention


def _static_shapes(model, input_size: int) -> dict[str, tuple[int, ...]]:
    """Every tensor of ``model`` whose shape is static for one image of ``input_size`` x
    ``input_size``: shape inference, repeated while it lets a shape computation (TF "same" padding's
    Shape/Cast/Div/Ceil/Pad chains in timm's ``tf_`` exports) be evaluated into constants. It runs on
    a ``weightless_copy``."""
    import onnx

    light = weightless_copy(model)
    weights = {t.name for t in model.graph.initializer}
    for value in light.graph.input:
        if value.name not in weights:  # the image: batch 1, symbolic spatial sizes at input_size
            dims = value.type.tensor_type.shape.dim
            fixed = [d.dim_value for d in dims[2:] if d.HasField("dim_value")]
            if any(size != input_size for size in fixed):
                raise ValueError(f"its input {value.name!r} is fixed at {'x'.join(map(str, fixed))}, not {input_size}x{input_size}")
            for i, dim in enumerate(dims):
                if not dim.HasField("dim_value"):
                    dim.dim_value = 1 if i == 0 else input_size
    while True:
        inferred = onnx.shape_inference.infer_shapes(light, data_prop=True).graph
        shapes = {t.name: tuple(t.dims) for t in inferred.initializer}
        for value in (*inferred.input, *inferred.value_info, *inferred.output):
            dims = value.type.tensor_type.shape.dim
            if value.type.HasField("tensor_type") and all(d.HasField("dim_value") for d in dims):
                shapes[value.name] = tuple(d.dim_value for d in dims)
        if not _fold_shape_computations(light, shapes):
            return shapes


def _fold_shape_computations(model, shapes: dict[str, tuple[int, ...]]) -> bool:
    """Replace by initializers the nodes of ``model`` that compute small constants: Shape of a
    tensor of static shape, and any node whose inputs are all small known values (the reference
    evaluator computes it). True when one was replaced."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    values = {
        tensor.name: numpy_helper.to_array(tensor)
        for tensor in model.graph.initializer
        if prod(tensor.dims) <= SHAPE_VALUES_UP_TO
        and tensor.data_location != onnx.TensorProto.EXTERNAL
        and any(len(getattr(tensor, field)) for field in _TENSOR_DATA_FIELDS)  # a template's initializers have none
    }
    kept, folded = [], []
    for node in model.graph.node:
        outputs = None
        if node.op_type == "Shape" and node.input[0] in shapes:
            attrs = {a.name: a.i for a in node.attribute}
            dims = shapes[node.input[0]]
            outputs = [np.array(dims[attrs.get("start", 0) : attrs.get("end", len(dims))], np.int64)]
        elif (
            node.op_type not in MAC_OPS
            and all(not name or name in values for name in node.input)
            and not (node.op_type == "Constant" and prod(node.attribute[0].t.dims) > SHAPE_VALUES_UP_TO)
        ):
            outputs = _evaluate(model, node, values)
        if outputs is None:
            kept.append(node)
            continue
        for name, value in zip(node.output, outputs):
            values[name] = np.asarray(value)
            folded.append(numpy_helper.from_array(values[name], name))
    if folded:
        del model.graph.node[:]
        model.graph.node.extend(kept)
        model.graph.initializer.extend(folded)
    return bool(folded)


def _evaluate(model, node, values: dict) -> list | None:
    """The outputs of the one ``node`` on ``values``; None where the reference evaluator cannot
    compute it (it is left to shape inference)."""
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    inputs = [name for name in node.input if name]
    graph = helper.make_graph(
        [node],
        "fold",
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(values[n].dtype), values[n].shape) for n in inputs],
        [helper.make_value_info(n, helper.TypeProto()) for n in node.output],
    )
    try:
        return ReferenceEvaluator(helper.make_model(graph, opset_imports=model.opset_import)).run(None, {n: values[n] for n in inputs})
    except Exception:  # noqa: BLE001 -- an op it lacks, or a node that computes nothing small
        return None
