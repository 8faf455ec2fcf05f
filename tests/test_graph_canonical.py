"""Canonical graphs from every source: equal structure fingerprints across sources of one
architecture, parity against the source framework, and every file zoocheck writes (canonical and
native) loading and agreeing in onnx's ReferenceEvaluator and onnxruntime at every optimisation
level. Random weights, 64x64 inputs, resnet18-sized in the default suite."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import NamedTuple

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx.reference import ReferenceEvaluator

from zoocheck.checks.images import random_inputs
from zoocheck.converters.graph import FINGERPRINT_KEY, canonical_fingerprint, finish_graph
from zoocheck.converters.graph.fingerprint import fingerprint
from zoocheck.converters.normalize import attach_metadata, onnx_facts, read_metadata, save_atomic
from zoocheck.converters.pipeline import DEFAULT_OPSET, convert
from zoocheck.validate import opset_range
from zoocheck.zoo_registry import get_entry, list_entries

SIZE = 64
SEED = 11
#: max |diff| / logit range (per row) between the source framework's float64 forward and the file
PARITY_TOL = 1e-5
#: the same against a framework with only a float32 forward (MXNet): two fp32 computations differ by
#: the sum of their noises (resnet152_v2, 50 pre-activation blocks: 9.0e-6 and 1.03e-5 of the range
#: with two random draws that differ only in the fp32 rounding of their calibration)
PARITY_TOL_FP32_REFERENCE = 2e-5
#: between consumers of one file and onnxruntime's default session
CONSUMER_TOL = 1e-5

# (source, model): a small model from every source
SMALL_CASES = [
    ("torchvision", "resnet18.IMAGENET1K_V1"),
    ("timm", "resnet18.fb_swsl_ig1b_ft_in1k"),
    ("mmpretrain", "resnet18_8xb32_in1k"),
    ("gluoncv", "resnet18_v1b"),
    ("gluon", "resnet18_v1"),
    ("gluoncv", "resnet18_v2"),
    ("onnx-zoo", "resnet18-v2-7"),
    ("ppcls", "ResNet18"),
]


def architecture_groups() -> dict[str, list[tuple[str, str]]]:
    """Every ResNet-family architecture id more than one source publishes -> its first entry per
    source, in registry order."""
    groups: dict[str, dict[str, str]] = {}
    for entry in list_entries():
        if entry.arch.family == "resnet":
            groups.setdefault(entry.arch.id, {}).setdefault(entry.source, entry.name)
    return {arch: list(by_source.items()) for arch, by_source in groups.items() if len(by_source) > 1}


def _group_params():
    # basic-block depths in the default suite, the rest (bottlenecks, ResNeXts, wide) slow
    return [
        pytest.param(
            arch, marks=() if get_entry(*cases[0]).arch.structure.block == "basic" and arch.startswith("resnet18") else pytest.mark.slow
        )
        for arch, cases in sorted(architecture_groups().items())
    ]


def small(source: str, name: str):
    return dataclasses.replace(get_entry(source, name), input_size=SIZE)


def weights_for(entry, directory: Path) -> Path | None:
    """A weights file where the source's converter takes no seeded random weights (the ONNX zoo)."""
    if entry.source != "onnx-zoo":
        return None
    from conftest import random_checkpoint

    return random_checkpoint(entry, directory / f"{entry.name}.onnx", SEED)


def max_rel(reference: np.ndarray, test: np.ndarray) -> float:
    reference, test = np.asarray(reference, np.float64), np.asarray(test, np.float64)
    return float((np.abs(reference - test).max(axis=1) / np.ptp(reference, axis=1)).max())


def ort_run(path: Path, batch: np.ndarray, level=ort.GraphOptimizationLevel.ORT_ENABLE_ALL) -> np.ndarray:
    options = ort.SessionOptions()
    options.graph_optimization_level = level
    sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": batch})[0]


class Converted(NamedTuple):
    entry: object
    path: Path
    native_outputs: np.ndarray  # the source framework's float32 forward on ``batch``
    native_outputs_fp64: np.ndarray | None  # its float64 forward, where the framework has one
    batch: np.ndarray

    def framework_reference(self) -> tuple[str, np.ndarray, float]:
        """The framework forward a file is judged against, and the bound: float64 where there is
        one (fp32 noise of the framework's own forward then does not count against the file),
        else float32."""
        if self.native_outputs_fp64 is not None:
            return "fp64", self.native_outputs_fp64, PARITY_TOL
        return "fp32", self.native_outputs, PARITY_TOL_FP32_REFERENCE


@pytest.fixture(scope="module")
def conversions(tmp_path_factory):
    """(source, model, graph form[, opset]) -> Converted (entry, file, native outputs, inputs).

    Each model is exported once, through the pipeline, as the native graph; its canonical file
    is made from that file by ``finish_graph``, the step the pipeline runs for ``--graph
    canonical`` (``test_pipeline_writes_canonical_by_default`` covers the pipeline's own call)."""
    cache: dict = {}
    root = tmp_path_factory.mktemp("graph")
    batch = random_inputs(2, SIZE, seed=1)

    def get(source: str, name: str, form: str, opset: int = DEFAULT_OPSET):
        if (source, name, "native", opset) not in cache:
            entry = small(source, name)
            weights = weights_for(entry, root)
            native = root / "native" / f"{source}_{name}_opset{opset}.onnx"
            conversion = convert(
                entry,
                output=native,
                weights=weights,
                random_seed=None if weights else SEED,
                opset=opset,
                inputs=batch,
                isolate=False,
                graph="native",
            )
            assert conversion.ok, conversion.failure
            canonical = root / "canonical" / native.name
            model, graph_facts = finish_graph(native, entry.arch, "canonical")
            metadata = {**read_metadata(native), **graph_facts}
            attach_metadata(model, metadata)
            save_atomic(model, canonical, metadata)
            for form_, path in (("native", native), ("canonical", canonical)):
                cache[(source, name, form_, opset)] = Converted(
                    entry, path, conversion.native_outputs, conversion.native_outputs_fp64, batch
                )
        return cache[(source, name, form, opset)]

    return get


def test_pipeline_writes_canonical_by_default(tmp_path):
    entry = small("torchvision", "resnet18.IMAGENET1K_V1")
    batch = random_inputs(1, SIZE, seed=2)
    conversion = convert(entry, output=tmp_path / "m.onnx", random_seed=SEED, inputs=batch, isolate=False)
    assert conversion.ok, conversion.failure
    meta = read_metadata(conversion.onnx_path)
    assert meta["graph"] == "canonical" and meta[FINGERPRINT_KEY] == canonical_fingerprint(entry.arch, 17)
    assert max_rel(conversion.native_outputs, ort_run(conversion.onnx_path, batch)) <= PARITY_TOL


@pytest.mark.parametrize("source, name", SMALL_CASES)
def test_canonical_file_holds_parity_and_has_its_architectures_fingerprint(conversions, source, name):
    converted = conversions(source, name, "canonical")
    entry, path, native_outputs, batch = converted.entry, converted.path, converted.native_outputs, converted.batch
    model = onnx.load(str(path))
    meta = read_metadata(path)
    assert meta["graph"] == "canonical"
    assert meta[FINGERPRINT_KEY] == fingerprint(model) == canonical_fingerprint(entry.arch, 17)
    outputs = ort_run(path, batch)
    kind, reference, tolerance = converted.framework_reference()
    err = max_rel(reference, outputs)
    print(f"{source}/{name}: canonical vs framework {kind} {err:.3g}")
    assert err <= tolerance, f"{entry.key}: canonical file vs {source}'s forward: {err:.3g}"
    assert (native_outputs.argmax(1) == outputs.argmax(1)).all()
    ops = {n.op_type for n in model.graph.node}
    assert not ops & {"BatchNormalization", "Identity", "Shape", "Reshape", "MatMul"}, ops
    assert all(n.name for n in model.graph.node)
    assert not any(a.name == "auto_pad" for n in model.graph.node for a in n.attribute)
    assert model.producer_name == "zoocheck" and model.producer_version
    assert model.ir_version == onnx.helper.find_min_ir_version_for(list(model.opset_import))


@pytest.mark.parametrize("arch", _group_params())
def test_sources_of_one_architecture_give_identical_graphs_but_for_values(conversions, arch):
    cases = architecture_groups()[arch]
    found = [conversions(s, n, "canonical") for s, n in cases]
    models = [onnx.load(str(converted.path)) for converted in found]
    prints = {f"{s}/{n}": fingerprint(m) for (s, n), m in zip(cases, models)}
    assert set(prints.values()) == {canonical_fingerprint(found[0].entry.arch, 17)}, prints
    first = models[0]
    for other in models[1:]:
        assert [(n.op_type, n.name, list(n.input), list(n.output)) for n in other.graph.node] == [
            (n.op_type, n.name, list(n.input), list(n.output)) for n in first.graph.node
        ]
        assert [(t.name, t.data_type, list(t.dims)) for t in other.graph.initializer] == [
            (t.name, t.data_type, list(t.dims)) for t in first.graph.initializer
        ]
    # canonical inputs are [N, 3, H, W]: the reference evaluator runs a 32x32 image (fast enough)
    tiny = random_inputs(1, 32, seed=4)
    # every source's figures first, then the verdict: one source over the bound hides no other
    figures = {}
    for (source, name), converted in zip(cases, found):
        outputs = ort_run(converted.path, converted.batch)
        kind, reference, tolerance = converted.framework_reference()
        parity, parity_fp32 = max_rel(reference, outputs), max_rel(converted.native_outputs, outputs)
        evaluator = max_rel(ort_run(converted.path, tiny), ReferenceEvaluator(str(converted.path)).run(None, {"input": tiny})[0])
        figures[f"{source}/{name}"] = (parity, tolerance, evaluator)
        print(
            f"{arch} {source}/{name}: canonical vs framework {kind} {parity:.3g} (vs fp32 {parity_fp32:.3g}), reference evaluator vs ORT {evaluator:.3g}"
        )
    assert all(parity <= tolerance for parity, tolerance, _ in figures.values()), f"canonical vs framework: {figures}"
    assert all(evaluator <= CONSUMER_TOL for _, _, evaluator in figures.values()), f"reference evaluator vs ORT: {figures}"


@pytest.mark.parametrize("form", ["canonical", "native"])
@pytest.mark.parametrize("source, name", SMALL_CASES)
def test_every_file_agrees_in_the_reference_evaluator_and_every_ort_level(conversions, source, name, form):
    converted = conversions(source, name, form)
    path, batch = converted.path, converted.batch
    reference = ort_run(path, batch)
    model = onnx.load(str(path))
    assert read_metadata(path)[FINGERPRINT_KEY] == fingerprint(model)
    # declared, not left to shape inference (MXNet's exporter writes [N, ?])
    assert onnx_facts(model)["output_shape"] == ["N", converted.entry.arch.num_classes]
    for level in (
        ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    ):
        assert max_rel(reference, ort_run(path, batch, level)) <= CONSUMER_TOL, level
    evaluated = ReferenceEvaluator(str(path)).run(None, {"input": batch[:1]})[0]
    assert max_rel(reference[:1], evaluated) <= CONSUMER_TOL


#: A small model from each exporter family (torch.onnx, paddle2onnx, mxnet.onnx) at the opsets
#: their exporters write: below 10 pools have no ceil_mode, below 9 (IR 3) initializers are inputs.
OPSET_CASES = [
    # default suite: torch's opset 9 (a vd pool without ceil_mode), paddle's opset 7 (IR 3, int64 Constants)
    pytest.param(
        source, name, opset, id=f"{source}-opset{opset}", marks=() if (source, opset) in (("timm", 9), ("ppcls", 7)) else pytest.mark.slow
    )
    for source, name in (("timm", "resnet18d.ra2_in1k"), ("ppcls", "ResNet18"), ("gluon", "resnet18_v1"))
    for opset in (7, 9, 11, 13, 17)
    if opset_range(source)[0] <= opset <= opset_range(source)[1]
]
#: onnx.reference evaluates BatchNormalization wrongly below opset 14 (version 6 for opsets 7/8
#: fails on inference mode, version 9 always normalises by the batch's own statistics); native
#: files that keep batch norm are run there only from this opset on
REFERENCE_BATCH_NORM_OPSET = 14


@pytest.mark.parametrize("source, name, opset", OPSET_CASES)
def test_every_accepted_opset_gives_files_that_pass_the_full_checker_and_load_everywhere(conversions, source, name, opset):
    for form in ("canonical", "native"):
        converted = conversions(source, name, form, opset)
        model = onnx.load(str(converted.path))
        assert onnx_facts(model)["opset"] == opset and model.ir_version == onnx.helper.find_min_ir_version_for(list(model.opset_import))
        onnx.checker.check_model(model, full_check=True)
        outputs = ort_run(converted.path, converted.batch)
        kind, reference, tolerance = converted.framework_reference()
        assert max_rel(reference, outputs) <= tolerance, f"{form} vs the framework's {kind} forward"
        if form == "canonical":
            assert fingerprint(model) == canonical_fingerprint(converted.entry.arch, opset)
        elif opset < REFERENCE_BATCH_NORM_OPSET and any(n.op_type == "BatchNormalization" for n in model.graph.node):
            continue
        evaluated = ReferenceEvaluator(str(converted.path)).run(None, {"input": converted.batch[:1]})[0]
        assert max_rel(outputs[:1], evaluated) <= CONSUMER_TOL, f"{form} in the reference evaluator"


def test_canonical_graph_is_refused_where_there_is_none(tmp_path, capsys):
    from zoocheck.cli import main

    argv = ["convert", "--src", "timm", "--model", "resnetrs50", "--random-weights", "--graph", "canonical", "--results", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no canonical graph" in err and "--graph native" in err
    assert not (tmp_path / "onnx").exists()


def test_show_and_list_give_the_architectures_fingerprint(capsys):
    import json

    from zoocheck.cli import main

    entry = get_entry("timm", "resnet50d")
    assert main(["show", "--src", "timm", "--model", "resnet50d"]) == 0
    assert f"canonical graph: {canonical_fingerprint(entry.arch, 17)}" in capsys.readouterr().out
    assert main(["list", "--arch", "resnet50_d", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {e["source"] for e in listed} >= {"timm", "mmpretrain", "ppcls", "gluoncv"}
    assert {e["structure_fingerprint"] for e in listed} == {canonical_fingerprint(entry.arch, 17)}
    assert main(["list", "--src", "timm", "--arch", "resnetrs50", "--json"]) == 0
    assert [e["structure_fingerprint"] for e in json.loads(capsys.readouterr().out)] == [None]
    # an entry without one is shown with the reason
    assert main(["show", "--src", "timm", "--model", "tf_mobilenetv3_large_100"]) == 0
    assert (
        "canonical graph: none (native graph only): mobilenet_v3_large_100_bneps1e-3_samepad: no canonical form yet for TF 'same' padding"
        in capsys.readouterr().out
    )
    assert main(["show", "--src", "timm", "--model", "tf_mobilenetv3_large_100", "--json"]) == 0
    assert "TF 'same' padding" in json.loads(capsys.readouterr().out)["canonical_graph_refusal"]


def openvino_run(path: Path, batch: np.ndarray) -> np.ndarray:
    import openvino as ov

    # f32 explicitly: on CPUs with bf16 units OpenVINO otherwise computes in bf16 (README)
    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return np.asarray(compiled(batch)[0])


def onnx2torch_run(path: Path, batch: np.ndarray) -> np.ndarray:
    import torch
    from onnx2torch import convert as to_torch

    module = to_torch(onnx.load(str(path))).eval()
    with torch.no_grad():
        return module(torch.from_numpy(batch)).numpy()


@pytest.mark.slow
@pytest.mark.parametrize("consumer", [openvino_run, onnx2torch_run], ids=["openvino-f32", "onnx2torch"])
@pytest.mark.parametrize("form", ["canonical", "native"])
@pytest.mark.parametrize("source, name", SMALL_CASES)
def test_every_file_agrees_in_openvino_and_onnx2torch(conversions, source, name, form, consumer):
    converted = conversions(source, name, form)
    path, batch = converted.path, converted.batch
    err = max_rel(ort_run(path, batch), consumer(path, batch))
    print(f"{consumer.__name__} {form} {source}/{name}: {err:.3g}")
    assert err <= CONSUMER_TOL


def test_over_2gb_path_canonicalises_with_external_data(tmp_path, monkeypatch):
    """The >2 GB WSL ResNeXts at small scale: every size limit on the way (paddle2onnx's, zoocheck's
    writer's, onnxslim's) lowered so that a ResNet18 takes the paths a 3.3 GB model takes (Paddle's
    program exported alone with the weights attached, onnxslim folding through external data, one
    .onnx.data file), and its canonical file still holds parity."""
    from zoocheck.converters import normalize, paddle

    monkeypatch.setattr(onnx.checker, "MAXIMUM_PROTOBUF", 1 << 20)
    monkeypatch.setattr(normalize, "PROTOBUF_LIMIT", 1 << 20)
    monkeypatch.setattr(paddle, "PROGRAM_ALONE_ABOVE", 1 << 20)
    monkeypatch.setattr(normalize, "EXTERNAL_SIZE_THRESHOLD", 0)
    entry = small("ppcls", "ResNet18")
    batch = random_inputs(2, SIZE, seed=6)
    conversion = convert(entry, output=tmp_path / "big.onnx", random_seed=SEED, inputs=batch, isolate=False)
    assert conversion.ok, conversion.failure
    assert (tmp_path / "big.onnx.data").is_file() and read_metadata(conversion.onnx_path)["graph"] == "canonical"
    assert max_rel(conversion.native_outputs, ort_run(conversion.onnx_path, batch)) <= PARITY_TOL
    assert fingerprint(onnx.load(str(conversion.onnx_path), load_external_data=False)) == canonical_fingerprint(entry.arch, 17)


def test_a_graph_deeper_than_the_recursion_limit_is_matched():
    """Matching walks ViT-H/14's chain of 1000 nodes (32 blocks) in producer order, not
    recursively: it needs no more stack for a deeper graph (a sweep of torchvision's vit_h_14
    failed its check stage with RecursionError). Run here under a recursion limit far below the
    chain's depth."""
    import sys

    import onnx

    from zoocheck.converters.graph import template_for
    from zoocheck.converters.graph.canonical import match

    entry = get_entry("torchvision", "vit_h_14.IMAGENET1K_SWAG_E2E_V1")
    template = template_for(entry.arch, 17, entry.input_size)
    exported = onnx.ModelProto()
    exported.CopyFrom(template)
    for node in exported.graph.node:  # the residual last, as torch.onnx writes ``x + input``: the chain is walked through every branch
        if node.op_type == "Add":
            node.input[:] = list(reversed(node.input))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(250)
    try:
        pairs = match(template, exported)
    finally:
        sys.setrecursionlimit(limit)
    assert len(pairs) == len(template.graph.node) == 1000
    assert all(pairs[n.name].name == n.name for n in template.graph.node)
