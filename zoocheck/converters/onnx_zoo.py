"""ONNX model zoo files (``resnet50-v1-7.onnx``, ``mobilenetv2-12.onnx``...) as a source.

The weights file IS an ONNX file, written by the framework the zoo converted it from
(``Entry.naming``): the ResNet v1/v2, MobileNetV2-7 and VGG files by MXNet's exporter from MXNet
Gluon's model zoo (opset 7: IR version 3, initializers also listed as graph inputs, input ``data``
with a fixed batch of 1, raw scores out), MobileNetV2-10/12 by torch.onnx from torchvision's
network, DenseNet-121, VGG-19-caffe2 and the Caffe2 ResNet-50 from Caffe2, EfficientNet-Lite4 by
tf2onnx (NHWC input). "Converting" normalises the file to zoocheck's conventions: upgraded to the
requested opset with ``onnx.version_converter``, then the shared normaliser renames the input
->``input`` and the output ->``logits``, makes the batch dynamic and adds metadata. The native
forward is onnxruntime on the ORIGINAL, unmodified file.

Seeded random weights are a file written as the zoo's was (``write_onnx_zoo_file``): the canonical
weights in the network the file came from, through that network's exporter, at the file's opset.
Files made by a framework zoocheck does not have (Caffe2, TensorFlow) or quantised by Intel Neural
Compressor have no such writer and are refused at build (``NoBuilder``).
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from zoocheck.converters.base import Converter, NativeModel, NoBuilder, WeightsError
from zoocheck.zoo_registry.names import onnx_zoo_suffix
from zoocheck.zoo_registry.types import Architecture, Entry

ZOO_OPSET = 7
ZOO_IR_VERSION = 3
#: the exporter that wrote a zoo file (``Entry.naming``) -> the frameworks zoocheck writes such a file with
WRITERS = {"mxnet": ("mxnet",), "pytorch": ("torch", "torchvision")}
#: what the exporters zoocheck has no writer for convert from
UNWRITTEN = {"caffe2": "Caffe2", "tf2onnx": "TensorFlow (tf2onnx)"}


def find_onnx(path: Path, scratch: Path) -> Path:
    """The ONNX file in ``path``: the file itself, the one .onnx in a directory, or the .onnx member
    of the zoo's ``.tar.gz`` (extracted into ``scratch``)."""
    path = Path(path)
    if path.is_dir():
        found = sorted(path.rglob("*.onnx"))
        if len(found) != 1:
            raise WeightsError(f"{path}: expected one .onnx file inside, found {len(found)}")
        return found[0]
    if path.name.endswith((".tar.gz", ".tgz", ".tar")):
        try:
            with tarfile.open(path) as tar:
                members = [m for m in tar.getmembers() if m.isfile() and m.name.endswith(".onnx")]
                if len(members) != 1:
                    raise WeightsError(f"{path.name}: expected one .onnx member, found {len(members)}")
                target = Path(scratch) / Path(members[0].name).name
                with tar.extractfile(members[0]) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                return target
        except tarfile.TarError as exc:
            raise WeightsError(f"{path.name}: not a readable tar archive: {exc}") from exc
    return path


def read_model(path: Path, num_classes: int | None = None):
    """Load and sanity-check a zoo file: one float image input, a [N, classes] first output."""
    import onnx

    try:
        model = onnx.load(str(path))
    except Exception as exc:  # DecodeError, not protobuf at all
        raise WeightsError(
            f"{Path(path).name}: not an ONNX file: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
        ) from exc
    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1 or len(inputs[0].type.tensor_type.shape.dim) != 4:
        raise WeightsError(f"{Path(path).name}: expected one NCHW image input, found {[i.name for i in inputs]}")
    channels, last = (d.dim_value if d.HasField("dim_value") else None for d in inputs[0].type.tensor_type.shape.dim[1::2])
    if channels != 3 and last == 3:  # TF exports (EfficientNet-Lite4) take NHWC
        raise NoBuilder(
            f"{Path(path).name}: input {inputs[0].name} is NHWC; zoocheck feeds [N, 3, H, W] and does not "
            "transpose a published file's input yet"
        )
    if not model.graph.output:
        raise WeightsError(f"{Path(path).name}: the graph has no output")
    dims = model.graph.output[0].type.tensor_type.shape.dim
    if num_classes is not None and len(dims) == 2 and dims[1].HasField("dim_value") and dims[1].dim_value != num_classes:
        raise WeightsError(f"{Path(path).name}: outputs {dims[1].dim_value} classes, the entry expects {num_classes}")
    return model


def model_opset(model) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def upgrade(model, opset: int):
    """``model`` at ``opset`` via onnx.version_converter, IR version raised to what that opset needs.

    Older exporters list initializers as graph inputs (IR < 4, which requires it); after the
    upgrade they are dropped from the inputs, leaving the one image input."""
    import onnx
    from onnx import version_converter

    current = model_opset(model)
    if opset < current:
        raise ValueError(f"the file is opset {current}; zoocheck upgrades, it does not downgrade (asked for {opset})")
    if opset != current:
        model = version_converter.convert_version(model, opset)
    initializers = {t.name for t in model.graph.initializer}
    keep = [i for i in model.graph.input if i.name not in initializers]
    del model.graph.input[:]
    model.graph.input.extend(keep)
    model.ir_version = max(model.ir_version, onnx.helper.find_min_ir_version_for(list(model.opset_import)))
    return model


def flatten_scores(model):
    """``model`` whose first output, if it is [N, classes, 1, 1] (Caffe2's DenseNet-121 ends in a 1x1
    conv), is flattened to [N, classes] as every file zoocheck writes declares it."""
    from onnx import helper

    scores = model.graph.output[0]
    dims = scores.type.tensor_type.shape.dim
    if len(dims) != 4 or any(not d.HasField("dim_value") or d.dim_value != 1 for d in dims[2:]):
        return model
    flat = helper.make_tensor_value_info(
        f"{scores.name}_flat", scores.type.tensor_type.elem_type, [dims[0].dim_value or None, dims[1].dim_value or None]
    )
    model.graph.node.append(helper.make_node("Flatten", [scores.name], [flat.name], name=f"{scores.name}_flatten", axis=1))
    model.graph.output.remove(scores)
    model.graph.output.insert(0, flat)
    return model


class OnnxZooNative(NativeModel):
    def __init__(self, path: Path, arch: Architecture, scratch: tempfile.TemporaryDirectory | None = None):
        import onnx
        import onnxruntime as ort

        self.path = Path(path)
        self.arch = arch
        self._scratch = scratch  # keeps an extracted or generated file alive as long as the model
        self.versions = {"onnxruntime": ort.__version__, "onnx": onnx.__version__}

    def forward(self, batch: np.ndarray) -> np.ndarray:
        from zoocheck.converters.onnx_runtime import session

        sess = session(self.path)
        first = sess.get_inputs()[0]
        fixed = first.shape[0] if isinstance(first.shape[0], int) and first.shape[0] > 0 else len(batch)
        batch = np.asarray(batch, dtype=np.float32)
        parts = [sess.run(None, {first.name: batch[i : i + fixed]})[0] for i in range(0, len(batch), fixed)]
        return np.concatenate(parts, axis=0).reshape(len(batch), -1)

    def layer_outputs(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """The zoo file's own tensors that hold the canonical graph's layers, run as published: its
        canonical form, computed in memory from the file made what a conversion makes of it,
        pairs each layer with the zoo tensor of the same value (``graph/correspondence.py``; the
        names survive the opset upgrade and the normalisation)."""
        from zoocheck.converters.graph.correspondence import layer_tensors
        from zoocheck.converters.normalize import OUTPUT_NAME, normalize_model
        from zoocheck.converters.onnx_runtime import intermediate_outputs
        from zoocheck.converters.pipeline import DEFAULT_OPSET

        original = read_model(self.path)
        published = {out for node in original.graph.node for out in node.output}
        converted = normalize_model(flatten_scores(upgrade(original, DEFAULT_OPSET)), {}, num_classes=self.arch.num_classes)
        taps = layer_tensors(converted, self.arch, published, self.path.name)
        values = intermediate_outputs(self.path, list(taps.values()), np.asarray(batch, dtype=np.float32))
        return {**{layer: values[tensor] for layer, tensor in taps.items()}, OUTPUT_NAME: self.forward(batch)}

    def export_onnx(self, path: Path, opset: int) -> None:
        import onnx

        onnx.save(flatten_scores(upgrade(read_model(self.path), opset)), str(path))


class OnnxZooConverter(Converter):
    # the weights file is the zoo's published model itself: only the file with its checksum is it
    weights_are_the_published_file = True

    def frameworks_needed(self, entry: Entry | None, *, random_weights: bool) -> tuple:
        """onnx and onnxruntime; with random weights also the framework that writes ``entry``'s file."""
        if entry is None:
            return super().frameworks_needed(entry, random_weights=random_weights)
        writer = WRITERS.get(entry.naming, ()) if random_weights else ()
        return tuple(f for f in self.source.frameworks if f.needed == "always" or f.module in writer)

    def load(self, entry: Entry, weights: Path | None, *, random_seed: int | None = None) -> NativeModel:
        if weights is None:
            refuse_unwritten(entry)
        self.prepare(weights, random_seed)
        scratch = tempfile.TemporaryDirectory(prefix="zoocheck-onnx-zoo-")
        if weights is None:
            # a zoo-like file written by the zoo file's exporter, with seeded random weights
            from zoocheck.converters.weights import random_weights

            params = random_weights(entry.arch, random_seed, entry.input_size)
            path = write_onnx_zoo_file(entry, params, Path(scratch.name) / f"{entry.name}.onnx")
        else:
            path = find_onnx(Path(weights), Path(scratch.name))
        read_model(path, entry.arch.num_classes)
        return OnnxZooNative(path, entry.arch, scratch)


# ---------------------------------------------------------------------------------------------
# Writing zoo-like files (tests, random weights)


def _relabel_opset(model, opset: int, ir_version: int) -> None:
    """Declare ``model`` at an older opset whose schemas its ops already satisfy.

    ``onnx.version_converter`` cannot go down past BatchNormalization-9. The ops of an MXNet
    ResNet, MobileNetV2 or VGG (Conv, BatchNormalization, Relu, Clip, MaxPool, Add,
    GlobalAveragePool, Flatten, Gemm, Identity) mean the same at opset 7; attributes the old schema
    lacks must hold their defaults and are dropped. BatchNormalization gets ``spatial=1`` as
    MXNet's old exporter wrote it; Clip's bounds, inputs from opset 11, become its attributes below
    it (the initializers then unread are dropped). The checker verifies.
    """
    from onnx import defs, helper, numpy_helper

    defaults = {("MaxPool", "ceil_mode"): 0, ("MaxPool", "dilations"): None, ("Conv", "dilations"): None}
    initializers = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        schema = defs.get_schema(node.op_type, opset)
        keep = []
        for attr in node.attribute:
            if attr.name in schema.attributes:
                keep.append(attr)
                continue
            value = helper.get_attribute_value(attr)
            default = defaults.get((node.op_type, attr.name), "missing")
            if default == "missing" or (default is None and any(v != 1 for v in value)) or (default is not None and value != default):
                raise ValueError(f"{node.op_type}.{attr.name}={value} cannot be expressed at opset {opset}")
        del node.attribute[:]
        node.attribute.extend(keep)
        if node.op_type == "BatchNormalization" and opset < 9:
            node.attribute.append(helper.make_attribute("spatial", 1))
        if node.op_type == "Clip" and opset < 11:
            for bound, name in zip(("min", "max"), node.input[1:]):
                if name:
                    node.attribute.append(helper.make_attribute(bound, float(numpy_helper.to_array(initializers[name]))))
            del node.input[1:]
    read = {name for node in model.graph.node for name in node.input}
    for unread in [t for t in model.graph.initializer if t.name not in read]:
        model.graph.initializer.remove(unread)
    for unread in [i for i in model.graph.input if i.name in initializers and i.name not in read]:
        model.graph.input.remove(unread)
    del model.opset_import[:]
    model.opset_import.append(helper.make_opsetid("", opset))
    model.ir_version = ir_version


def refuse_unwritten(entry: Entry) -> None:
    """NoBuilder unless zoocheck writes a file as the zoo's file of ``entry`` was made: by the
    framework it came from (``WRITERS``), unquantised."""
    fix = f"convert the published file instead (zoocheck fetch --src {entry.source} --model {entry.name})"
    _, quantisation = onnx_zoo_suffix(entry.name)
    if quantisation:
        raise NoBuilder(
            f"{entry.key} ({entry.arch.id}): the zoo's file is {quantisation}, quantised by Intel Neural Compressor: "
            f"zoocheck writes no random-weights file made that way; {fix}, or convert its fp32 entry with --precision int8"
        )
    if entry.naming not in WRITERS:
        made_by = UNWRITTEN.get(entry.naming, entry.naming or "an unknown exporter")
        raise NoBuilder(
            f"{entry.key} ({entry.arch.id}): the zoo's file was converted from {made_by}, which zoocheck does not have: "
            f"no random-weights writer of such ONNX-zoo files; {fix}"
        )


def write_onnx_zoo_file(entry: Entry, params: dict[str, np.ndarray], path: Path) -> Path:
    """Canonical ``params`` of ``entry.arch`` in a file made as the zoo's file of ``entry`` was: in
    the network it was exported from, by that framework's exporter, at the file's opset."""
    refuse_unwritten(entry)
    opset, _ = onnx_zoo_suffix(entry.name)
    if entry.naming == "pytorch":
        return write_torch_export(entry, params, path, opset)
    return write_zoo_like(mxnet_network(entry, params), path, entry.input_size, opset)


def mxnet_network(entry: Entry, params: dict[str, np.ndarray]):
    """The MXNet network the zoo's MXNet file of ``entry`` was exported from, holding ``params``: the
    family's MXNet network (GluonCV's, MXNet's model zoo's line for line) where it has one, else
    MXNet Gluon's model zoo's (the ResNets)."""
    from zoocheck.families.registry import family_of

    family = family_of(entry.arch)
    if family is not None and family.builds_network("gluoncv"):
        from zoocheck.converters.gluoncv_mxnet import canonical_network
        from zoocheck.converters.mxnet_compat import import_mxnet

        import_mxnet()  # before the family's network module imports MXNet's layers
        return canonical_network(entry, params, family.network("gluoncv"))
    from zoocheck.converters.gluon import canonical_network

    return canonical_network(entry, params)


def write_zoo_like(net, path: Path, input_size: int = 224, opset: int = ZOO_OPSET) -> Path:
    """Export an MXNet Gluon network the way the ONNX model zoo's MXNet files are: MXNet's exporter,
    input ``data`` with batch 1, at ``opset`` with the lowest IR version it allows (opset 7: IR
    version 3, initializers listed as inputs; MXNet 1.9.1 exports opset 12 and up, so an older
    opset is a relabelled opset-12 export)."""
    import onnx

    from zoocheck.converters.gluon import MIN_MXNET_OPSET, mxnet_to_onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mxnet_to_onnx(net, path, max(opset, MIN_MXNET_OPSET), input_size, dynamic=False)
    model = onnx.load(str(path))
    ir_version = onnx.helper.find_min_ir_version_for([onnx.helper.make_opsetid("", opset)])
    if opset < MIN_MXNET_OPSET:
        _relabel_opset(model, opset, ir_version)
    else:
        model.ir_version = ir_version
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return path


def write_torch_export(entry: Entry, params: dict[str, np.ndarray], path: Path, opset: int) -> Path:
    """The zoo's PyTorch files (MobileNetV2-10/12): torchvision's network of ``entry.arch`` holding
    ``params``, exported by torch.onnx at ``opset`` with input ``input`` and output ``output`` of
    batch ``batch_size`` (onnx/models#410), at the lowest IR version the opset allows."""
    import onnx
    import torch

    from zoocheck.converters.torch_common import load_canonical
    from zoocheck.converters.torch_hub import TorchvisionConverter
    from zoocheck.converters.weights.layouts import to_layout
    from zoocheck.zoo_registry import list_entries

    library = next((e for e in list_entries("torchvision") if e.arch == entry.arch), None)
    if library is None:
        raise NoBuilder(f"{entry.key} ({entry.arch.id}): torchvision has no such network to export the zoo's PyTorch file from")
    module = TorchvisionConverter().build(library)
    load_canonical(module, to_layout(params, entry.arch, "torchvision"), origin="canonical weights", what=f"torchvision {library.builder}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            module,
            (torch.zeros(1, 3, entry.input_size, entry.input_size),),
            str(path),
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "batch_size"}, "output": {0: "batch_size"}},
            opset_version=opset,
            dynamo=False,
        )
    model = onnx.load(str(path))
    model.ir_version = onnx.helper.find_min_ir_version_for(list(model.opset_import))
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return path


__all__ = [
    "OnnxZooConverter",
    "OnnxZooNative",
    "find_onnx",
    "flatten_scores",
    "read_model",
    "refuse_unwritten",
    "upgrade",
    "write_onnx_zoo_file",
    "write_zoo_like",
]
