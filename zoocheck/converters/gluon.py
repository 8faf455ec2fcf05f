"""MXNet Gluon model zoo ResNets (``mxnet.gluon.model_zoo.vision`` resnet{18..152}_v{1,2}).

Weights come in the two on-disk formats MXNet writes:

- ``save_parameters``: one ``.params`` file keyed by structural names (``features.0.weight``), or
  the legacy ``save_params`` prefixed names (``resnetv10_conv0_weight``), loaded with
  ``net.load_parameters`` into the model-zoo network of ``entry.arch`` (``vision.get_resnet``);
- ``export``: ``<prefix>-symbol.json`` + ``<prefix>-0000.params`` (``arg:``/``aux:`` keys), loaded
  with ``SymbolBlock.imports``; a path to either file or to a directory holding the pair is accepted.

Seeded random weights are zoocheck's one scheme (``converters/weights/random.py``), written as the
``save_parameters`` file (the family's ``gluon`` layout) and loaded by the same path as a published file.
The native forward runs in MXNet; ONNX is written by MXNet's own exporter (``mxnet.onnx``).
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from pathlib import Path

import numpy as np

from zoocheck.converters.base import Converter, NativeModel, WeightsError, hooked_layer_outputs
from zoocheck.converters.mxnet_compat import import_mxnet
from zoocheck.converters.mxnet_params import write_mxnet_params
from zoocheck.families.resnet.spec import STANDARD_LAYERS, resnet_spec
from zoocheck.records import exception_line
from zoocheck.zoo_registry.types import Architecture, Entry

#: the depths mxnet.gluon.model_zoo.vision builds (resnet_spec)
DEPTHS = (18, 34, 50, 101, 152)
# mxnet.onnx ships operator translations for opsets 12 and 13 only (mx2onnx/_op_translations).
MIN_MXNET_OPSET = 12
_EXPORT_PARAMS = re.compile(r"^(?P<prefix>.+)-(?P<epoch>\d{4})\.params$")
_SYMBOL_SUFFIX = "-symbol.json"


# ---------------------------------------------------------------------------------------------
# Finding the weights files


def find_export_pair(path: Path) -> tuple[Path, Path] | None:
    """(symbol.json, params) when ``path`` is, or holds, an ``export`` pair; None for a single
    ``save_parameters`` file. Raises WeightsError when a pair is half there or ambiguous."""
    path = Path(path)
    if path.is_dir():
        symbols = sorted(path.glob(f"*{_SYMBOL_SUFFIX}"))
        if len(symbols) > 1:
            raise WeightsError(f"{path}: several *{_SYMBOL_SUFFIX} files ({', '.join(s.name for s in symbols)}); pass one of them")
        if symbols:
            return symbols[0], _params_for_symbol(symbols[0])
        params = sorted(path.glob("*.params"))
        if len(params) != 1:
            found = ", ".join(p.name for p in params) or "none"
            raise WeightsError(f"{path}: expected one .params file or a *{_SYMBOL_SUFFIX} + *-0000.params pair (found .params: {found})")
        return find_export_pair(params[0])
    if path.name.endswith(_SYMBOL_SUFFIX):
        return path, _params_for_symbol(path)
    match = _EXPORT_PARAMS.match(path.name)
    if match:
        symbol = path.with_name(match["prefix"] + _SYMBOL_SUFFIX)
        if symbol.exists():
            return symbol, path
    return None


def _params_for_symbol(symbol: Path) -> Path:
    prefix = symbol.name[: -len(_SYMBOL_SUFFIX)]
    candidates = sorted(p for p in symbol.parent.glob(f"{prefix}-*.params") if _EXPORT_PARAMS.match(p.name))
    if not candidates:
        raise WeightsError(f"{symbol}: no {prefix}-NNNN.params beside it (mxnet export writes the pair together)")
    return candidates[-1]  # the highest epoch


# ---------------------------------------------------------------------------------------------
# Export


@contextlib.contextmanager
def _onnx_opset(opset: int):
    """Make ``onnx.defs.onnx_opset_version()`` answer ``opset`` while mxnet.onnx exports.

    ``mxnet.onnx.export_model`` has no opset argument: it exports at whatever onnx says is the
    newest opset (and ``onnx.helper.make_model`` labels the model with it). Both read the function
    at call time, so answering the requested opset makes mxnet translate (with its opset-13 rules
    for 13 and newer) and label the model with that opset; ``onnx.checker`` verifies every node
    against that opset's schemas afterwards.
    """
    import onnx.defs

    newest = onnx.defs.onnx_opset_version()
    if not MIN_MXNET_OPSET <= opset <= newest:
        raise ValueError(f"mxnet.onnx exports opsets {MIN_MXNET_OPSET}..{newest}; asked for {opset}")
    original = onnx.defs.onnx_opset_version
    onnx.defs.onnx_opset_version = lambda: opset
    try:
        yield
    finally:
        onnx.defs.onnx_opset_version = original


@contextlib.contextmanager
def _initializers_from_bytes():
    """Make mxnet.onnx build each float32 initializer from the array's bytes.

    Its translation of a weight (``convert_weights_and_inputs``, registered for op ``null``) passes
    ``array.flatten().tolist()`` to ``onnx.helper.make_tensor``: a Python float per value, half
    of a ResNet-18's export time and 24 bytes of memory per weight. The tensor built here is the
    same message (the values in ``float_data``, which MXNet's files hold): packed repeated floats
    are the values' little-endian bytes, parsed into the field. Other dtypes and graph inputs keep
    MXNet's translation.
    """
    import onnx
    from mxnet.onnx.mx2onnx._export_onnx import MXNetGraph

    registry = MXNetGraph.registry_[MIN_MXNET_OPSET]
    original = registry["null"]

    def translate(node, **kwargs):
        name = node["name"]
        if kwargs["is_input"] is not False or kwargs["weights"][name].dtype != np.float32:
            return original(node, **kwargs)
        array = kwargs["weights"][name]
        tensor = onnx.TensorProto(name=name, data_type=onnx.TensorProto.FLOAT, dims=array.shape)
        values = np.ascontiguousarray(array, dtype="<f4").tobytes()
        tensor.MergeFromString(_FLOAT_DATA_TAG + _varint(len(values)) + values)
        kwargs["initializer"].append(tensor)
        return [onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, array.shape)], (array.dtype,)

    registry["null"] = translate
    try:
        yield
    finally:
        registry["null"] = original


#: TensorProto's float_data (field 4), length-delimited: its packed encoding
_FLOAT_DATA_TAG = bytes([4 << 3 | 2])


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def export_symbol(net, directory: Path, input_size: int, name: str = "model") -> tuple[Path, Path]:
    """Hybridize ``net`` and write its ``export`` pair into ``directory``."""
    mx = import_mxnet()
    net.hybridize()
    net(mx.nd.zeros((1, 3, input_size, input_size)))
    prefix = Path(directory) / name
    net.export(str(prefix), epoch=0)
    return Path(f"{prefix}{_SYMBOL_SUFFIX}"), Path(f"{prefix}-0000.params")


def mxnet_to_onnx(net, path: Path, opset: int, input_size: int, *, dynamic: bool = True) -> None:
    """MXNet's own exporter: hybridize + export to a temporary pair, then ``mxnet.onnx.export_model``."""
    import_mxnet()
    import mxnet.onnx as mx_onnx

    shape = (1, 3, input_size, input_size)
    with tempfile.TemporaryDirectory(prefix="zoocheck-mxnet-") as tmp:
        symbol, params = export_symbol(net, Path(tmp), input_size)
        with _onnx_opset(opset), _initializers_from_bytes():
            mx_onnx.export_model(
                str(symbol),
                str(params),
                in_shapes=[shape],
                in_types=np.float32,
                onnx_file_path=str(path),
                dynamic=dynamic,
                dynamic_input_shapes=[(None, *shape[1:])] if dynamic else None,
            )


# ---------------------------------------------------------------------------------------------


def zoo_layers(arch: Architecture) -> dict[str, str]:
    """Canonical graph tensor -> block path in the model zoo's network (the names of
    the family's ``gluon`` layout; {} for v2, whose batch norms follow no convolution)."""
    from zoocheck.converters.weights.layouts import layer_modules

    return layer_modules(arch, "gluon")


def _named_blocks(block, prefix: str = ""):
    for name, child in block._children.items():
        path = f"{prefix}{name}"
        yield path, child
        yield from _named_blocks(child, path + ".")


class GluonNative(NativeModel):
    """``layers``: canonical graph tensor -> block path (``zoo_layers``), for ``layer_outputs``;
    empty for an imported export pair (a SymbolBlock has no blocks to hook)."""

    def __init__(self, net, input_size: int, layers: dict[str, str] | None = None):
        mx = import_mxnet()
        self.net = net
        self.input_size = input_size
        self.versions = {"mxnet": mx.__version__}
        self.layers = dict(layers or {})

    def forward(self, batch: np.ndarray) -> np.ndarray:
        mx = import_mxnet()
        return self.net(mx.nd.array(np.asarray(batch, dtype=np.float32))).asnumpy()

    def layer_outputs(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Forward hooks on the batch-norm blocks (the network runs imperatively: it is never
        hybridized before this, so every block's hook fires)."""

        def hook(block, keep):
            return block.register_forward_hook(lambda _block, _inputs, output: keep(output.asnumpy())).detach

        return hooked_layer_outputs(self.layers, dict(_named_blocks(self.net)), hook, self.forward, batch)

    def export_onnx(self, path: Path, opset: int) -> None:
        mxnet_to_onnx(self.net, path, opset, self.input_size)


class GluonExportNative(GluonNative):
    """An imported ``export`` pair (a SymbolBlock: no blocks to hook). Its per-layer outputs are
    the symbol's own internal outputs: MXNet's exporter names each ONNX tensor after the symbol
    node computing it, so the canonical form of its export (``graph/correspondence.py``) says
    which node holds each layer, and a SymbolBlock over those nodes' outputs (the same
    parameters) computes them in MXNet."""

    def __init__(self, net, input_size: int, arch: Architecture, symbol: Path):
        super().__init__(net, input_size)
        self.arch, self.symbol = arch, Path(symbol)

    def layer_outputs(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        import onnx

        from zoocheck.converters.graph.correspondence import layer_tensors
        from zoocheck.converters.normalize import OUTPUT_NAME, normalize_model
        from zoocheck.converters.pipeline import DEFAULT_OPSET

        mx = import_mxnet()
        with tempfile.TemporaryDirectory(prefix="zoocheck-mxnet-layers-") as tmp:
            mxnet_to_onnx(self.net, Path(tmp) / "export.onnx", DEFAULT_OPSET, self.input_size)
            exported = normalize_model(onnx.load(str(Path(tmp) / "export.onnx")), {}, num_classes=self.arch.num_classes)
        symbol = mx.sym.load(str(self.symbol))
        internals = symbol.get_internals()
        # a symbol node's output is "<node>_output"; the exporter names the ONNX tensor "<node>"
        nodes = {name.removesuffix("_output") for name in internals.list_outputs() if name.endswith("_output")}
        taps = {layer: f"{node}_output" for layer, node in layer_tensors(exported, self.arch, nodes, self.symbol.name).items()}
        stored = set(self.net.collect_params())
        [image] = [name for name in symbol.list_inputs() if name not in stored]
        layers = mx.gluon.SymbolBlock(
            mx.sym.Group([internals[node] for node in taps.values()]), mx.sym.var(image), params=self.net.collect_params()
        )
        outputs = layers(mx.nd.array(np.asarray(batch, dtype=np.float32)))
        return {**{layer: out.asnumpy() for layer, out in zip(taps, outputs, strict=True)}, OUTPUT_NAME: self.forward(batch)}


def build(arch: Architecture):
    """The model-zoo network of ``arch`` (uninitialised): ``vision.get_resnet(version, depth)``."""
    import_mxnet()
    from mxnet.gluon.model_zoo import vision

    spec = resnet_spec(arch)
    version = 2 if spec is not None and spec.preact else 1
    if (
        spec is None
        or (spec.stride_on != "1x1" and not spec.preact)
        or spec.depth not in DEPTHS
        or spec.groups != 1
        or tuple(spec.layers) != STANDARD_LAYERS[spec.depth]
    ):
        raise ValueError(f"MXNet's model zoo has no {arch.id} (it builds resnetNN_v1 / _v2, NN in {DEPTHS})")
    return vision.get_resnet(version, spec.depth, classes=arch.num_classes)


def _param_shapes(params) -> list[tuple[int, ...]]:
    return sorted(tuple(int(d) for d in p.shape) for p in params.values())


def load_export_pair(symbol: Path, params: Path, arch: Architecture, input_size: int):
    """A SymbolBlock from an export pair, checked to hold ``arch``'s parameters (by shape)."""
    mx = import_mxnet()
    try:
        saved = mx.nd.load(str(params))
        sym = mx.sym.load(str(symbol))
    except Exception as exc:  # MXNetError: not an mxnet file, truncated, bad JSON
        raise WeightsError(f"{Path(params).name}: cannot read the mxnet export pair (not an MXNet export, or truncated)") from exc
    stored = {k.split(":", 1)[-1] for k in saved}
    inputs = [n for n in sym.list_inputs() if n not in stored]
    if len(inputs) != 1:
        raise WeightsError(f"{symbol.name}: expected one image input besides the parameters, found {inputs}")
    try:
        net = mx.gluon.SymbolBlock.imports(str(symbol), inputs, str(params), ctx=mx.cpu())
    except Exception as exc:  # missing/extra parameters
        raise WeightsError(f"{symbol.name}: its parameters do not load into the exported graph (SymbolBlock.imports refused them)") from exc
    reference = build(arch)
    reference.initialize(mx.init.Zero())
    reference(mx.nd.zeros((1, 3, input_size, input_size)))
    try:
        net(mx.nd.zeros((1, 3, input_size, input_size)))
    except Exception as exc:
        raise WeightsError(
            f"{symbol.name}: the exported graph does not run on a {input_size}x{input_size} image: {exception_line(exc)}"
        ) from exc
    stored_shapes = sorted(tuple(int(d) for d in v.shape) for v in saved.values())
    if stored_shapes != _param_shapes(reference.collect_params()):
        raise WeightsError(f"{symbol.name}: the exported graph's parameters are not those of {arch.id}")
    return net


def load_saved_parameters(entry: Entry, path: Path, net=None, what: str = "gluon"):
    """``entry``'s network (the model zoo's, else ``net``) holding a ``save_parameters`` file,
    loaded strictly by MXNet; ``what`` names the source in the error."""
    mx = import_mxnet()
    net = build(entry.arch) if net is None else net
    try:
        keys = list(mx.nd.load(str(path)))
    except Exception as exc:
        raise WeightsError(
            f"{path.name}: not an MXNet .params file (mxnet.nd.save format), or a truncated one; check the --weights path"
        ) from exc
    if keys and all(k.startswith(("arg:", "aux:")) for k in keys):
        raise WeightsError(f"{path.name}: an mxnet export .params (arg:/aux: keys) needs its *{_SYMBOL_SUFFIX} beside it")
    try:
        net.load_parameters(str(path), ctx=mx.cpu())
    except Exception as exc:  # AssertionError for missing/extra keys, MXNetError for shapes
        raise WeightsError(f"{path.name}: weights do not fit {what} {entry.builder} ({entry.arch.id}): {exception_line(exc)}") from exc
    return net


def canonical_network(entry: Entry, params: dict[str, np.ndarray]):
    """``entry``'s network holding canonical weights (``converters/weights``): written as the
    ``.params`` file MXNet saves (the family's ``gluon`` layout) and read back by the path a file takes."""
    with tempfile.TemporaryDirectory(prefix="zoocheck-gluon-weights-") as tmp:
        return load_saved_parameters(entry, write_gluon_params(entry, params, Path(tmp) / f"{entry.builder}.params"))


def write_gluon_params(entry: Entry, params: dict[str, np.ndarray], path: Path) -> Path:
    """MXNet Gluon model zoo ``save_parameters`` ``.params`` (MXNet's NDArray-list format), or the
    ``export`` pair into the folder ``path``."""
    if path.suffix == ".params":
        path.parent.mkdir(parents=True, exist_ok=True)
        from zoocheck.converters.weights.layouts import to_layout

        write_mxnet_params(path, to_layout(params, entry.arch, "gluon"))
        return path
    path.mkdir(parents=True, exist_ok=True)
    export_symbol(canonical_network(entry, params), path, entry.input_size, name=entry.builder)
    return path


class GluonConverter(Converter):
    opset_range = (MIN_MXNET_OPSET, None)

    def load(self, entry: Entry, weights: Path | None, *, random_seed: int | None = None) -> NativeModel:
        size = entry.input_size
        self.prepare(weights, random_seed)
        if weights is None:
            from zoocheck.converters.weights import random_weights

            return GluonNative(canonical_network(entry, random_weights(entry.arch, random_seed, size)), size, zoo_layers(entry.arch))
        weights = Path(weights)
        pair = find_export_pair(weights)
        if pair is not None:
            return GluonExportNative(load_export_pair(*pair, entry.arch, size), size, entry.arch, pair[0])
        return GluonNative(load_saved_parameters(entry, weights), size, zoo_layers(entry.arch))


__all__ = [
    "DEPTHS",
    "GluonConverter",
    "GluonExportNative",
    "GluonNative",
    "build",
    "canonical_network",
    "find_export_pair",
    "load_export_pair",
    "load_saved_parameters",
    "mxnet_to_onnx",
]
