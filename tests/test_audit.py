"""The graph counter (converters/graph/counts.py) against real models and the analytic counter it
replaced, and the audit's findings."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest

from zoocheck.checks.audit import audit, audit_entry
from zoocheck.cli import main
from zoocheck.converters.graph.counts import architecture_counts, count_graph
from zoocheck.records import ConversionRecord, ParityResult, Tolerance, record_from_json
from zoocheck.store import ResultsStore
from zoocheck.zoo_registry import get_entry, list_entries
from zoocheck.zoo_registry.names import gluon_style, timm_style
from zoocheck.zoo_registry.types import Published

#: (params, bn_stats, macs) per architecture id and input size, as the analytic ResNet counter
#: (zoo_registry/audit.py, deleted with this file's graph counter) computed them
RECORDED_COUNTS = Path(__file__).parent / "data" / "resnet_counts.json"


def _torch_counts(model, size):
    import torch

    macs = 0

    def hook(mod, inp, out):
        nonlocal macs
        if isinstance(mod, torch.nn.Conv2d):
            macs += out[0].numel() * (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1]
        else:
            macs += mod.in_features * mod.out_features

    for m in model.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            m.register_forward_hook(hook)
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, size, size))
    params = sum(p.numel() for p in model.parameters())
    stats = sum(b.numel() for n, b in model.named_buffers() if "running_" in n)
    return params, stats, macs


def test_counter_equals_the_analytic_counter_on_every_resnet_id():
    """Every ResNet-family id in the registry, at every input size an entry of it is fed or
    published at (and 176): the graph counter gives what the analytic counter it replaced gave."""
    recorded = json.loads(RECORDED_COUNTS.read_text())
    ids = {e.arch.id: e.arch for e in list_entries() if e.arch.family == "resnet"}
    assert set(ids) == set(recorded)
    for arch_id, sizes in recorded.items():
        for size, expected in sizes.items():
            c = architecture_counts(ids[arch_id], int(size))
            assert [c.params, c.bn_stats, c.macs] == expected, (arch_id, size)


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnext50_32x4d", "wide_resnet50_2"])
def test_counter_matches_torchvision(name):
    torchvision = pytest.importorskip("torchvision")
    model = getattr(torchvision.models, name)()
    for size in (224, 176):
        c = architecture_counts(timm_style(name, "torchvision"), size)
        assert (c.params, c.bn_stats, c.macs) == _torch_counts(model, size)


@pytest.mark.parametrize("name", ["resnet50c", "resnet50d", "resnet18d", "resnet26d", "resnext50d_32x4d", "resnet50s"])
def test_counter_matches_timm(name):
    timm = pytest.importorskip("timm")
    model = timm.create_model(name, pretrained=False)
    for size in (224, 288):
        c = architecture_counts(timm_style(name), size)
        assert (c.params, c.bn_stats, c.macs) == _torch_counts(model, size)


def test_counter_matches_timm_network200d_layer_table():
    """timm's resnet200d has He et al.'s (3, 24, 36, 3), not PaddleClas's (3, 12, 48, 3)."""
    timm = pytest.importorskip("timm")
    arch = timm_style("resnet200d")
    assert arch.structure.layers == (3, 24, 36, 3) and arch.id == "resnet200_l3-24-36-3_d"
    c = architecture_counts(arch, 64)
    assert (c.params, c.bn_stats, c.macs) == _torch_counts(timm.create_model("resnet200d", pretrained=False), 64)


def test_paddleclas_resnet18_projection_is_counted():
    """PaddleClas's ResNet18 has one more 1x1 conv + BN than torchvision's (stage 1's projection)."""
    entry = get_entry("ppcls", "ResNet18")
    tv = architecture_counts(timm_style("resnet18", "torchvision"), 224)
    pp = architecture_counts(entry.arch, 224)
    assert pp.params - tv.params == 64 * 64 + 2 * 64
    assert pp.macs - tv.macs == 64 * 64 * 56 * 56


@pytest.mark.parametrize("name, published", [("resnet18_v1", 11_699_112), ("resnet50_v1", 25_629_032), ("resnet50_v2", 25_595_060)])
def test_counter_matches_mxnet_gluon(name, published):
    """MXNet counts the batch-norm running statistics too (and v2's frozen input BN's gamma and
    beta); v1 bottleneck 1x1 convs carry a bias."""
    assert architecture_counts(gluon_style(name).arch, 224).params_with_bn_stats == published
    from zoocheck.converters import FrameworkUnavailable, converter_for

    try:
        converter_for("gluon").check_available()
    except (FrameworkUnavailable, Exception) as exc:  # noqa: BLE001
        pytest.skip(f"mxnet unavailable: {exc}")
    import mxnet as mx
    from mxnet.gluon.model_zoo import vision

    net = getattr(vision, name)()
    net.initialize()
    net(mx.nd.zeros((1, 3, 224, 224)))
    assert sum(p.data().size for p in net.collect_params().values()) == published


def _exported(model, size: int, *, keep_batch_norm: bool, symbolic_size: bool = True):
    """``model`` exported by torch.onnx at opset 17 with a symbolic image size or not, batch norm kept
    (without constant folding) or folded into the convolutions (the default). torch.onnx stores
    parameters of equal values once (a fresh model's BN weights are all ones): the others are
    Identity nodes of it."""
    import onnx
    import torch

    buffer = io.BytesIO()
    torch.onnx.export(
        model.eval(),
        torch.zeros(1, 3, size, size),
        buffer,
        opset_version=17,
        dynamo=False,
        do_constant_folding=not keep_batch_norm,
        input_names=["input"],
        dynamic_axes={"input": {0: "N", 2: "H", 3: "W"} if symbolic_size else {0: "N"}},
    )
    return onnx.load_from_string(buffer.getvalue())


def _library_model(library: str, name: str):
    if library == "timm":
        return pytest.importorskip("timm").create_model(name, pretrained=False)
    return getattr(pytest.importorskip("torchvision").models, name)()


# Not ResNets: depthwise convolutions, squeeze-excitation, hardswish, TF "same" padding (Pad of
# sizes computed by Shape/Cast/Div/Ceil nodes), DenseNet's concatenations and
# pre-activation batch norms, VGG's 100 M-parameter head (its AdaptiveAvgPool2d exports at a fixed
# size only).
@pytest.mark.parametrize(
    "library, name, sizes",
    [
        ("torchvision", "mobilenet_v3_small", (224, 160)),
        pytest.param("timm", "efficientnet_b0", (224, 160), marks=pytest.mark.slow),
        pytest.param("timm", "tf_efficientnet_b0", (224, 225), marks=pytest.mark.slow),  # pads computed from Shape at run time
        pytest.param("torchvision", "densenet121", (224, 160), marks=pytest.mark.slow),
        pytest.param("torchvision", "vgg11", (224,), marks=pytest.mark.slow),
    ],
)
def test_graph_counter_matches_the_library_on_other_families(library, name, sizes):
    """Parameters and BN statistics of the exported graph (batch norm kept) are the library's own
    to the value; its MACs are the conv + linear MACs a forward hook counts (within 1%; equal here),
    at the export's size and at another one where the file's spatial sizes are symbolic."""
    model = _library_model(library, name)
    graph = _exported(model, 224, keep_batch_norm=True, symbolic_size=len(sizes) > 1)
    for size in sizes:
        c = count_graph(graph, size)
        params, stats, macs = _torch_counts(model, size)
        assert (c.params, c.bn_stats) == (params, stats)
        assert c.macs == pytest.approx(macs, rel=0.01)
    # folded by the exporter: the same MACs, the statistics of the folded norms gone, one value per
    # folded channel less (DenseNet's norms before a convolution stay)
    folded = count_graph(_exported(model, 224, keep_batch_norm=False, symbolic_size=len(sizes) > 1), 224)
    c = count_graph(graph, 224)
    assert folded.macs == c.macs
    assert (folded.params < c.params and folded.bn_stats < c.bn_stats) if c.bn_stats else folded == c  # VGG has no batch norm


def test_graph_counter_counts_matmul_from_both_operands_shapes():
    """MatMul's MACs come from shape inference of both operands ([N, T, K] x [K, M], and a
    product of two activations), Gemm's honour transA, scalar Mul constants are not parameters."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.zeros((8, 5), np.float32), "w")
    g = numpy_helper.from_array(np.zeros((5, 7), np.float32), "g")
    half = numpy_helper.from_array(np.array(0.5, np.float32), "half")
    scale = numpy_helper.from_array(np.ones((5,), np.float32), "layer_scale")
    nodes = [
        helper.make_node("Reshape", ["input", "shape"], ["tokens"]),  # [1, 3, S, S] -> [1, 3 * S, S]
        helper.make_node("Transpose", ["tokens"], ["tokens_t"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["tokens", "tokens_t"], ["gram"]),  # [1, 3S, S] x [1, S, 3S]: activations only
        helper.make_node("Slice", ["tokens", "zero", "eight", "two"], ["cut"]),  # [1, 3S, 8]
        helper.make_node("MatMul", ["cut", "w"], ["proj"]),  # [1, 3S, 8] x [8, 5]
        helper.make_node("Mul", ["proj", "half"], ["halved"]),
        helper.make_node("Mul", ["halved", "layer_scale"], ["scaled"]),
        helper.make_node("ReduceMean", ["scaled"], ["pooled"], axes=[1], keepdims=0),  # [1, 5]
        helper.make_node("Transpose", ["pooled"], ["pooled_t"], perm=[1, 0]),
        helper.make_node("Gemm", ["pooled_t", "g"], ["logits"], transA=1),
    ]
    ints = [
        numpy_helper.from_array(np.array(v, np.int64), n) for n, v in [("shape", [1, -1, 0]), ("zero", [0]), ("eight", [8]), ("two", [2])]
    ]
    graph = helper.make_graph(
        nodes,
        "m",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, "H", "W"])],
        [
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 7]),
            helper.make_tensor_value_info("gram", TensorProto.FLOAT, [1, "T", "T"]),
        ],
        [w, g, half, scale, *ints],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    onnx.checker.check_model(model)
    c = count_graph(model, 16)
    assert c.params == 8 * 5 + 5 * 7 + 5 and c.bn_stats == 0
    assert c.macs == (48 * 48 * 16) + (48 * 5 * 8) + (7 * 5)


def _pooled_classifier(path: Path, height, width) -> Path:
    """An ONNX file: global pooling, then a 3 -> 1000 Gemm (3000 parameters, 3000 MACs)."""
    import onnx
    from onnx import TensorProto, helper

    weight = helper.make_tensor("fc.weight", TensorProto.FLOAT, [1000, 3], [0.0] * 3000)
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"]),
            helper.make_node("Gemm", ["flat", "fc.weight"], ["logits"], transB=1),
        ],
        "m",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, height, width])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000])],
        [weight],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_an_architecture_without_canonical_form_is_not_measured_until_converted(tmp_path):
    """An entry with no canonical graph is skipped with the command that measures it; once a
    conversion of it is recorded, its file's graph is counted (and a file that now holds another
    model is not)."""
    entry = get_entry("timm", "resnetv2_50x1_bit.goog_distilled_in1k")
    assert architecture_counts(entry.arch, 224) is None
    skipped = audit_entry(entry)
    assert {f.status for f in skipped} == {"skipped"}
    assert all(f"zoocheck convert --src timm --model {entry.name} --random-weights" in f.note for f in skipped)

    path = _pooled_classifier(tmp_path / "m.onnx", "H", "W")
    identity = {"source": "timm", "model": entry.name, "random_weights": True, "random_seed": 0}
    path.with_name("m.onnx.json").write_text(json.dumps(identity))
    record = ConversionRecord("ok", "timm", entry.name, entry.arch.id, random_weights=True, random_seed=0, onnx_path=str(path))
    measured = audit_entry(entry, [record])
    assert [(f.status, f.measured) for f in measured] == [("failed", 0.003)]
    assert measured[0].note == f"graph of {path} (no batch norm left: folded ones count one value per channel less)"
    path.with_name("m.onnx.json").write_text(json.dumps({**identity, "model": "resnet50"}))
    assert {f.status for f in audit_entry(entry, [record])} == {"skipped"}


def test_a_file_of_fixed_size_has_no_macs_at_another_size(tmp_path):
    """Parameters do not depend on the size; MACs at a size the file's input is not fixed at are
    unknown, and the MACs finding says why instead of reporting the file's own size's MACs."""
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(_pooled_classifier(tmp_path / "m.onnx", 224, 224)))
    assert count_graph(model, 224).macs == 3000
    at_288 = count_graph(model, 288)
    assert (at_288.params, at_288.macs) == (3000, None) and "fixed at 224x224, not 288x288" in at_288.macs_unknown
    entry = dataclasses.replace(
        get_entry("timm", "resnetv2_50x1_bit.goog_distilled_in1k"),
        published=(Published(None, None, "a page", flops_g=0.4, input_size=288),),
    )
    record = ConversionRecord(
        "ok", "timm", entry.name, entry.arch.id, random_weights=True, random_seed=0, onnx_path=str(tmp_path / "m.onnx")
    )
    (tmp_path / "m.onnx.json").write_text(json.dumps({"source": "timm", "model": entry.name, "random_weights": True, "random_seed": 0}))
    (finding,) = audit_entry(entry, [record])
    assert finding.status == "skipped" and finding.measured is None and "fixed at 224x224" in finding.note


def test_published_discrepancies_are_findings():
    entry = dataclasses.replace(get_entry("ppcls", "ResNet50"), discrepancies=("README.md: Params(M) 25.56 vs ResNet.md 25.55",))
    findings = audit_entry(entry)
    (discrepancy,) = [f for f in findings if f.quantity == "discrepancy"]
    assert discrepancy.status == "failed" and discrepancy.note == entry.discrepancies[0] and discrepancy.measured is None
    assert record_from_json(json.loads(json.dumps(discrepancy.to_json()))) == discrepancy
    untimed = lambda records: [dataclasses.replace(r, time="") for r in records]  # noqa: E731
    assert untimed(f for f in findings if f.quantity != "discrepancy") == untimed(audit_entry(get_entry("ppcls", "ResNet50")))


def test_known_disagreements_are_reported():
    findings = {(f.source, f.model, f.quantity, f.reference.split(" ")[0]): f for f in audit(list_entries())}
    resnet34 = findings[("mmpretrain", "resnet34_8xb32_in1k", "params_m", "mmpretrain")]
    assert resnet34.status == "failed" and resnet34.published == 2.18 and resnet34.measured == pytest.approx(21.797672)
    # PaddleClas per-family pages: FLOPs are 2 x MACs; ResNet50 8.19 GFLOPs agrees after halving
    r50 = [f for f in audit_entry(get_entry("ppcls", "ResNet50")) if f.quantity == "macs_g"]
    assert {f.published_unit for f in r50} == {"GMACs", "GFLOPs (2 x MACs)"} and all(f.status == "ok" for f in r50)
    # ... while ResNeXt50_32x4d's 23.64 M parameters (ResNeXt.md) do not match the built network
    rx = [f for f in audit_entry(get_entry("ppcls", "ResNeXt50_32x4d")) if f.quantity == "params_m"]
    assert {f.published: f.status for f in rx} == {25.10: "ok", 23.64: "failed"}
    # MXNet and paddle.flops count BN running statistics: agrees under that convention
    assert {f.convention for f in audit_entry(get_entry("gluon", "resnet50_v1")) if f.quantity == "params_m"} == {"with BN stats"}


def test_every_torchvision_and_mmpretrain_number_agrees_except_the_typo_and_mmpretrains_efficientnet_flops():
    bad = [f for f in audit(list_entries("torchvision") + list_entries("mmpretrain")) if f.status == "failed"]
    # mmpretrain's MobileNet MACs count more than the convolutions and the classifier: 0.319 G for
    # MobileNetV2, torchvision's network, for which torchvision publishes 0.301 and the canonical
    # graph measures 0.3008 (MobileNetV3-small: 0.06, 0.057, 0.0565)
    mobilenets = ("mobilenet-v2_8xb32_in1k", "mobilenet-v3-small-075_3rdparty_in1k", "mobilenet-v3-small_8xb128_in1k",
                  "mobilenet-v3-small_3rdparty_in1k", "mobilenet-v3-large_8xb128_in1k", "mobilenet-v3-large_3rdparty_in1k")  # fmt: skip
    # mmpretrain's in21k-pre Swins: the name says ImageNet-21k pre-training, its metafile ImageNet-1k
    # and its README "From scratch" (two published discrepancies each)
    swins = ("swin-base_in21k-pre-3rdparty_in1k", "swin-base_in21k-pre-3rdparty_in1k-384", "swin-large_in21k-pre-3rdparty_in1k",
             "swin-large_in21k-pre-3rdparty_in1k-384")  # fmt: skip
    # its in21k-pre ConvNeXts at 384 px: README "ImageNet-21k" pretraining vs metafile (one discrepancy each)
    convnexts = (
        "convnext-base_in21k-pre-3rdparty_in1k-384px",
        "convnext-large_in21k-pre-3rdparty_in1k-384px",
        "convnext-xlarge_in21k-pre-3rdparty_in1k-384px",
    )
    others = sorted((f.model, f.quantity) for f in bad if not f.model.startswith(("efficientnet-", "efficientnetv2-", "swinv2-")))
    assert others == sorted(
        [
            ("resnet34_8xb32_in1k", "params_m"),
            *((m, "macs_g") for m in mobilenets),
            *((m, "discrepancy") for m in swins for _ in range(2)),
            *((m, "discrepancy") for m in convnexts),
        ]
    )
    # mmpretrain's Swin MACs (mmengine's counter) leave out the attention's products (q times k, the
    # weights times v), which torchvision's (fvcore's) count: each agrees under its convention
    swin_b_384 = [f for f in audit_entry(get_entry("mmpretrain", "swin-base_3rdparty_in1k-384")) if f.quantity == "macs_g"]
    swin_t = [f for f in audit_entry(get_entry("torchvision", "swin_t.IMAGENET1K_V1")) if f.quantity == "macs_g"]
    assert [(f.convention, f.status) for f in swin_b_384] == [("conv+fc MACs", "ok")]
    assert [(f.convention, f.status) for f in swin_t] == [("conv+fc+attention MACs", "ok")]
    # its Swin V2 MACs are 1.29-1.31 times below that count, about (256 / 224)^2: as if counted at
    # 7/8 of the input size; kept as findings
    swin_v2 = [f for f in bad if f.model.startswith("swinv2-")]
    assert (
        {f.quantity for f in swin_v2} == {"macs_g"} and len(swin_v2) == 10 and all(1.28 < f.measured / f.normalised < 1.32 for f in swin_v2)
    )
    # mmpretrain's EfficientNet FLOPs (mmengine's counter) count the SiLU, batch-norm and SE
    # products too: 3-9% above the conv+fc MACs (torchvision's numbers for the same networks agree)
    flops = {f.model: f for f in bad if f.model.startswith("efficientnet-")}
    assert {f.quantity for f in flops.values()} == {"macs_g"} and len(flops) == 33
    assert all(1.03 < f.normalised / f.measured < 1.1 for model, f in flops.items() if not model.startswith("efficientnet-l2"))
    # its EfficientNetV2 FLOPs likewise: 5% (XL) to 28% (B0, the smallest) above the canonical
    # graph's conv+fc MACs, which agree with torchvision's for efficientnet_v2_s (8.37 G at 384)
    v2 = {f.model: f for f in bad if f.model.startswith("efficientnetv2-")}
    assert {f.quantity for f in v2.values()} == {"macs_g"} and len(v2) == 11
    assert all(1.05 < f.normalised / f.measured < 1.3 for f in v2.values())
    # ... and its L2 figures for 475 and 800 px are each other's
    l2_475, l2_800 = (
        flops["efficientnet-l2_3rdparty-ra-noisystudent_in1k-475px"],
        flops["efficientnet-l2_3rdparty-ra-noisystudent_in1k-800px"],
    )
    assert 1.0 < l2_475.normalised / l2_800.measured < 1.1 and 1.0 < l2_800.normalised / l2_475.measured < 1.1


def test_audit_command(tmp_path, capsys):
    results = ["--results", str(tmp_path)]
    # the resnet34 typo is a finding about mmpretrain's table (exit 0), a failure only with --strict
    assert main(["audit", "--src", "mmpretrain", *results]) == 0
    out = capsys.readouterr().out
    assert "resnet34_8xb32_in1k" in out and "61 disagree" in out  # and mmpretrain's MobileNet, EfficientNet(V2) and Swin V2 MACs (above)
    assert main(["audit", "--src", "mmpretrain", "--strict", *results]) == 1
    capsys.readouterr()
    assert main(["audit", "--src", "torchvision", "--json", *results]) == 0
    data = json.loads(capsys.readouterr().out)
    # every ResNet number agrees; the families without a canonical graph yet are not measured
    assert any(d["status"] == "ok" for d in data)
    assert all(d["status"] == "ok" or (d["status"] == "skipped" and "zoocheck convert --src torchvision" in d["note"]) for d in data)
    assert {"published", "normalised", "measured", "relative_error", "reference", "status"} <= set(data[0])


def test_audit_rerun_replaces_its_records(tmp_path, capsys):
    results = ["--results", str(tmp_path)]
    store = ResultsStore(tmp_path)
    parity = ParityResult("mmpretrain", "x", "torch", "onnxruntime", Tolerance(), (), random_weights=True)
    store.add(parity)
    assert main(["audit", "--src", "mmpretrain", *results]) == 0
    first = store.results("audit")
    assert first and all(r.source == "mmpretrain" for r in first)
    assert main(["audit", "--src", "mmpretrain", *results]) == 0
    assert main(["audit", "--src", "torchvision", *results]) == 0
    capsys.readouterr()
    records = store.results()
    mm = [r for r in records if r.KIND == "audit" and r.source == "mmpretrain"]
    assert len(mm) == len(first)  # replaced, not appended
    assert any(r.KIND == "audit" and r.source == "torchvision" for r in records)  # other sources kept
    assert [r for r in records if r.KIND == "parity"] == [parity]


def test_audit_command_reports_published_discrepancies(tmp_path, capsys, monkeypatch):
    import zoocheck.zoo_registry

    entry = dataclasses.replace(get_entry("ppcls", "ResNet50"), discrepancies=("README.md top-1 79.12 vs ResNet.md 79.21",))
    monkeypatch.setattr(zoocheck.zoo_registry, "list_entries", lambda src=None, arch=None: [entry])
    results = ["--results", str(tmp_path)]
    assert main(["audit", "--src", "ppcls", *results]) == 0
    out = capsys.readouterr().out
    assert "0 disagree" in out and "1 published discrepancies" in out
    assert main(["audit", "--src", "ppcls", "--strict", "--json", *results]) == 1
    (found,) = [f for f in json.loads(capsys.readouterr().out) if f["quantity"] == "discrepancy"]
    assert found["status"] == "failed" and found["note"] == entry.discrepancies[0]


@pytest.mark.parametrize("refused", ["zoocheck.converters.weights.parameter_shapes", "zoocheck.converters.graph.template_for"])
def test_a_family_member_its_canonical_parts_refuse_is_not_measured_on_them(refused, monkeypatch):
    """A family's parameters or template raise ValueError for a member they do not cover (a
    DenseNet with a blur-pool stem): that architecture has no counts of its own, no crash."""
    from zoocheck.converters.graph.counts import parameter_counts

    def refuse(*args):
        raise ValueError("no canonical form yet for the stem's blur pool")

    arch = timm_style("resnet18", "torchvision")
    monkeypatch.setattr(refused, refuse)
    for cached in (architecture_counts, parameter_counts):
        cached.cache_clear()
    try:
        assert architecture_counts(arch, 224) is None
    finally:
        monkeypatch.undo()
        for cached in (architecture_counts, parameter_counts):
            cached.cache_clear()
    assert architecture_counts(arch, 224) is not None


def test_the_products_of_two_computed_tensors_are_counted_apart():
    """A MatMul by a weight is a layer's; one of two computed tensors (q times k^T, as attention
    computes it) is counted in ``macs`` and apart in ``attention_macs``, since the zoos' counters
    differ on it. The input's symbolic sizes are the size counted at: 224 tokens of 224 features."""
    import numpy as np

    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    size, dim = 224, 8
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["input", "w"], ["q"]),
            helper.make_node("Transpose", ["q"], ["k"], perm=[0, 2, 1]),
            helper.make_node("MatMul", ["q", "k"], ["logits"]),
        ],
        "attention",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, "T", "C"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, "T", "T"])],
        [numpy_helper.from_array(np.zeros((size, dim), np.float32), "w")],
    )
    counts = count_graph(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), size)
    assert (counts.params, counts.macs, counts.attention_macs) == (size * dim, 2 * size * size * dim, size * size * dim)
