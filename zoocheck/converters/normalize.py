"""Bring a raw exported ONNX file to zoocheck's conventions, whatever exporter wrote it.

Conventions (README "ONNX conventions"):
- one graph input ``input``: float32 [N, 3, H, W], N dynamic (dim_param "N");
- first graph output ``logits``: [N, num_classes] raw scores, N dynamic;
- ``metadata_props["zoocheck"]``: JSON description (source, model, weights, preprocessing, ...);
- ``onnx.checker`` passes; models over protobuf's 2 GB limit keep their weights in ONE external
  data file ``<name>.onnx.data`` beside the model;
- written atomically: nothing appears under the final name until every file is complete.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from zoocheck import rundir

INPUT_NAME = "input"
OUTPUT_NAME = "logits"
BATCH_DIM = "N"
METADATA_KEY = "zoocheck"
PRODUCER = "zoocheck"
# Above this many bytes of initializers a ModelProto cannot be serialised in one piece.
PROTOBUF_LIMIT = 2**31 - 1 - 64 * 2**20
# Tensors smaller than this stay inside the .onnx file even when the rest goes to external data.
EXTERNAL_SIZE_THRESHOLD = 1024


def _rename_value(graph, old: str, new: str) -> None:
    if old == new:
        return
    for node in graph.node:
        node.input[:] = [new if n == old else n for n in node.input]
        node.output[:] = [new if n == old else n for n in node.output]
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        if vi.name == old:
            vi.name = new


def _set_batch_dynamic(value_info) -> None:
    dims = value_info.type.tensor_type.shape.dim
    if dims:
        dims[0].ClearField("dim_value")
        dims[0].dim_param = BATCH_DIM


def initializer_bytes(model) -> int:
    total = 0
    for t in model.graph.initializer:
        if t.HasField("raw_data"):
            total += len(t.raw_data)
        else:
            # external or typed-field tensors: count by shape
            n = 1
            for d in t.dims:
                n *= d
            total += n * 4
    return total


def _declare_classes(value_info, num_classes: int) -> None:
    """The logits' class dimension as ``num_classes`` where the exporter left it unknown (MXNet
    writes [N, ?]); a different static count is a wrong export, refused."""
    dims = value_info.type.tensor_type.shape.dim
    if len(dims) != 2:
        return
    if dims[1].HasField("dim_value") and dims[1].dim_value != num_classes:
        raise ValueError(f"output {value_info.name!r} declares {dims[1].dim_value} classes, the model has {num_classes}")
    dims[1].ClearField("dim_param")
    dims[1].dim_value = num_classes


def normalize_model(model, metadata: dict, *, num_classes: int | None = None) -> onnx.ModelProto:  # noqa: F821
    """Rename the input/first output, make the batch dynamic (and the output [N, num_classes]
    where ``num_classes`` is given), make pads explicit, write what the opset's operator versions
    allow (``graph/rewrites/``), name every node, attach metadata. In place; returned."""
    import onnx

    from zoocheck.converters.graph.rewrites.conformance import constants_as_initializers, declare_initializers_as_inputs, name_nodes
    from zoocheck.converters.graph.rewrites.pads import explicit_pads

    graph = model.graph
    initializer_names = {t.name for t in graph.initializer}
    real_inputs = [i for i in graph.input if i.name not in initializer_names]
    if len(real_inputs) != 1:
        raise ValueError(f"expected one image input, found {[i.name for i in real_inputs]}")
    # Old exporters (opset < 9, ONNX zoo) list initializers as graph inputs too; drop those (at the
    # end they are listed again where the IR version requires it).
    if len(real_inputs) != len(graph.input):
        keep = [i for i in graph.input if i.name not in initializer_names]
        del graph.input[:]
        graph.input.extend(keep)
    image_input = graph.input[0]
    if image_input.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        raise ValueError(f"input {image_input.name!r} is not float32")
    _rename_value(graph, image_input.name, INPUT_NAME)
    _rename_value(graph, graph.output[0].name, OUTPUT_NAME)
    _set_batch_dynamic(graph.input[0])
    for out in graph.output:
        _set_batch_dynamic(out)
    if num_classes is not None:
        _declare_classes(graph.output[0], num_classes)
    # Intermediate shapes recorded with a fixed batch would contradict the dynamic batch.
    del graph.value_info[:]
    explicit_pads(model)
    constants_as_initializers(model)
    name_nodes(model)
    # The lowest IR version the opsets allow: what the most consumers load.
    model.ir_version = onnx.helper.find_min_ir_version_for(list(model.opset_import), ignore_unknown=True)
    declare_initializers_as_inputs(model)
    attach_metadata(model, metadata)
    return model


def attach_metadata(model, metadata: dict) -> None:
    """Set (replace) the zoocheck JSON description in ``model.metadata_props`` and name zoocheck
    as the producer (the exporters' own versions are in ``metadata["versions"]``)."""
    import onnx

    from zoocheck import __version__

    for prop in [p for p in model.metadata_props if p.key == METADATA_KEY]:
        model.metadata_props.remove(prop)
    onnx.helper.set_model_props(
        model, {**{p.key: p.value for p in model.metadata_props}, METADATA_KEY: json.dumps(metadata, sort_keys=True)}
    )
    model.producer_name, model.producer_version = PRODUCER, __version__


def onnx_facts(model) -> dict:
    """What a model file says about itself: opset, IR version, input and output shapes (the
    facts a record stores are read from the file written, never taken from what was asked for)."""

    def shape(value_info) -> list:
        return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]

    return {
        "opset": next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None),
        "ir_version": model.ir_version,
        "input_shape": shape(model.graph.input[0]) if model.graph.input else None,
        "output_shape": shape(model.graph.output[0]) if model.graph.output else None,
    }


def read_metadata(path: str | Path) -> dict:
    """The zoocheck JSON description stored in an ONNX file (weights are not loaded)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    for prop in model.metadata_props:
        if prop.key == METADATA_KEY:
            return json.loads(prop.value)
    raise ValueError(f"{path}: no zoocheck metadata; was it written by `zoocheck convert`?")


def save_with_external_data(model, path: Path) -> None:
    """Write ``model`` to ``path`` with every tensor of ``EXTERNAL_SIZE_THRESHOLD`` bytes or more in
    ONE external data file ``<path name>.data`` beside it (the README's layout for models over 2 GB)."""
    import onnx

    onnx.save_model(
        model,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=Path(path).name + ".data",
        size_threshold=EXTERNAL_SIZE_THRESHOLD,
    )


def save_atomic(model, output: Path, metadata: dict) -> list[Path]:
    """Check and write ``model`` to ``output`` (+ ``output.data`` if over 2 GB) and ``output.json``.

    Everything is first written inside a temporary folder next to ``output`` and checked there,
    then renamed into place, data file first, so a crash leaves no half-written file under a
    final name. Under 2 GB the model is serialised once: the checker, the file and its sha256 all
    take those bytes (a model of 180 MB: 0.5-0.8 s less than writing, parsing and reading it back).
    Returns the paths written.
    """
    import hashlib
    from concurrent.futures import ThreadPoolExecutor

    import onnx

    from zoocheck.digests import file_digest

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    external = initializer_bytes(model) > PROTOBUF_LIMIT
    data_name = output.name + ".data"
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    rundir.register_outside(staging)  # removed with the run even if this process is killed
    try:
        staged_model = staging / output.name
        if external:
            save_with_external_data(model, staged_model)
            # The path-based checker handles external data and models over 2 GB.
            onnx.checker.check_model(str(staged_model), full_check=False)
            sha256, size = file_digest(staged_model), staged_model.stat().st_size
        else:
            data = model.SerializeToString()

            def write_and_hash() -> str:
                staged_model.write_bytes(data)
                return hashlib.sha256(data).hexdigest()

            # beside the checker (file writes and hashlib release the GIL); the block waits for
            # the thread even when the check fails, so nothing writes once the staging folder goes
            with ThreadPoolExecutor(1, thread_name_prefix="onnx-write") as pool:
                written = pool.submit(write_and_hash)
                onnx.checker.check_model(data, full_check=False)
            sha256, size = written.result(), len(data)
            del data
        described = {**metadata, "onnx_file": {"name": output.name, "sha256": sha256, "bytes": size}}
        (staging / (output.name + ".json")).write_text(json.dumps(described, indent=2, sort_keys=True) + "\n")
        written = []
        # Tensors under size_threshold stay inline, so a data file exists only if some were large.
        has_data = (staging / data_name).exists()
        for name in ([data_name] if has_data else []) + [output.name + ".json", output.name]:
            os.replace(staging / name, output.parent / name)
            written.append(output.parent / name)
        if not has_data and (output.parent / data_name).exists():
            (output.parent / data_name).unlink()  # stale data of an earlier, larger conversion
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)
