"""ONNX model zoo ResNet v1/v2 files (``resnet50-v1-7.onnx``...) as a source.

The weights file IS an ONNX file: opset 7, IR version 3 (initializers also listed as graph
inputs), input ``data`` with a fixed batch of 1, raw scores out. The zoo exported them from the
MXNet Gluon model zoo (the network of ``entry.arch``). "Converting" normalises the file
to zoocheck's conventions: upgraded to the requested opset with ``onnx.version_converter``, then
the shared normaliser renames ``data``->``input`` and the output ->``logits``, makes the batch
dynamic and adds metadata. The native forward is onnxruntime on the ORIGINAL, unmodified file.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from zoocheck.converters.base import Converter, NativeModel, NoBuilder, WeightsError, refuse_unbuilt
from zoocheck.zoo_registry.types import Architecture, Entry

ZOO_OPSET = 7
ZOO_IR_VERSION = 3


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

    def load(self, entry: Entry, weights: Path | None, *, random_seed: int | None = None) -> NativeModel:
        if weights is None:
            refuse_unbuilt(
                entry,
                ("resnet",),
                "random-weights writer of ONNX-zoo files",
                f"convert the published file instead (zoocheck fetch --src {entry.source} --model {entry.name})",
            )
        self.prepare(weights, random_seed)
        scratch = tempfile.TemporaryDirectory(prefix="zoocheck-onnx-zoo-")
        if weights is None:
            # A zoo-like file exported from the Gluon model it came from, with seeded random weights.
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
    ResNet (Conv, BatchNormalization, Relu, MaxPool, Add, GlobalAveragePool, Flatten, Gemm) mean
    the same at opset 7; attributes the old schema lacks must hold their defaults and are dropped.
    BatchNormalization gets ``spatial=1`` as MXNet's old exporter wrote it. The checker verifies.
    """
    from onnx import defs, helper

    defaults = {("MaxPool", "ceil_mode"): 0, ("MaxPool", "dilations"): None, ("Conv", "dilations"): None}
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
    del model.opset_import[:]
    model.opset_import.append(helper.make_opsetid("", opset))
    model.ir_version = ir_version


def write_zoo_like(net, path: Path, input_size: int = 224) -> Path:
    """Export an MXNet Gluon network the way the ONNX model zoo's ResNet files are: MXNet's exporter,
    input ``data`` with batch 1, opset 7, IR version 3 with initializers listed as inputs."""
    import onnx

    from zoocheck.converters.gluon import MIN_MXNET_OPSET, mxnet_to_onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mxnet_to_onnx(net, path, MIN_MXNET_OPSET, input_size, dynamic=False)
    model = onnx.load(str(path))
    _relabel_opset(model, ZOO_OPSET, ZOO_IR_VERSION)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return path


__all__ = ["OnnxZooConverter", "OnnxZooNative", "find_onnx", "flatten_scores", "read_model", "upgrade", "write_zoo_like"]


def write_onnx_zoo_file(entry: Entry, params: dict[str, np.ndarray], path: Path) -> Path:
    """The ONNX model zoo's ResNet files were exported from the Gluon model zoo's networks."""
    from zoocheck.converters.gluon import canonical_network

    return write_zoo_like(canonical_network(entry, params), path, entry.input_size)
