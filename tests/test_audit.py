"""The analytical parameter / MAC counter against real models, and the audit's findings."""

from __future__ import annotations

import json

import pytest

from zoocheck.cli import main
from zoocheck.records import ParityResult, Tolerance
from zoocheck.store import ResultsStore
from zoocheck.zoo_registry import get_entry, list_entries
from zoocheck.zoo_registry.audit import audit, audit_entry, count
from zoocheck.zoo_registry.names import gluon_style, timm_style


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


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnext50_32x4d", "wide_resnet50_2"])
def test_counter_matches_torchvision(name):
    torchvision = pytest.importorskip("torchvision")
    model = getattr(torchvision.models, name)()
    for size in (224, 176):
        c = count(timm_style(name, "torchvision"), size)
        assert (c.params, c.bn_stats, c.macs) == _torch_counts(model, size)


@pytest.mark.parametrize("name", ["resnet50c", "resnet50d", "resnet18d", "resnet26d", "resnext50d_32x4d", "resnet50s"])
def test_counter_matches_timm(name):
    timm = pytest.importorskip("timm")
    model = timm.create_model(name, pretrained=False)
    for size in (224, 288):
        c = count(timm_style(name), size)
        assert (c.params, c.bn_stats, c.macs) == _torch_counts(model, size)


def test_counter_matches_timm_network200d_layer_table():
    """timm's resnet200d has He et al.'s (3, 24, 36, 3), not PaddleClas's (3, 12, 48, 3)."""
    timm = pytest.importorskip("timm")
    arch = timm_style("resnet200d")
    assert arch.resnet.layers == (3, 24, 36, 3) and arch.id == "resnet200_l3-24-36-3_d"
    c = count(arch, 64)
    assert (c.params, c.bn_stats, c.macs) == _torch_counts(timm.create_model("resnet200d", pretrained=False), 64)


def test_paddleclas_resnet18_projection_is_counted():
    """PaddleClas's ResNet18 has one more 1x1 conv + BN than torchvision's (stage 1's projection)."""
    entry = get_entry("ppcls", "ResNet18")
    tv = count(timm_style("resnet18", "torchvision"))
    pp = count(entry.arch)
    assert pp.params - tv.params == 64 * 64 + 2 * 64
    assert pp.macs - tv.macs == 64 * 64 * 56 * 56


@pytest.mark.parametrize("name, published", [("resnet18_v1", 11_699_112), ("resnet50_v1", 25_629_032), ("resnet50_v2", 25_595_060)])
def test_counter_matches_mxnet_gluon(name, published):
    """MXNet counts the batch-norm running statistics too; v1 bottleneck 1x1 convs carry a bias."""
    assert count(gluon_style(name).arch).params_with_bn_stats == published
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


def test_other_family_not_measured():
    entry = get_entry("timm", "resnetv2_50x1_bit.goog_distilled_in1k")
    assert count(entry.arch) is None
    assert {f.status for f in audit_entry(entry)} <= {"skipped"}


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


def test_every_torchvision_and_mmpretrain_number_agrees_except_the_typo():
    bad = [f for f in audit(list_entries("torchvision") + list_entries("mmpretrain")) if f.status == "failed"]
    assert [(f.model, f.quantity) for f in bad] == [("resnet34_8xb32_in1k", "params_m")]


def test_audit_command(tmp_path, capsys):
    results = ["--results", str(tmp_path)]
    # the resnet34 typo is a finding about mmpretrain's table (exit 0), a failure only with --strict
    assert main(["audit", "--src", "mmpretrain", *results]) == 0
    out = capsys.readouterr().out
    assert "resnet34_8xb32_in1k" in out and "1 disagree" in out
    assert main(["audit", "--src", "mmpretrain", "--strict", *results]) == 1
    capsys.readouterr()
    assert main(["audit", "--src", "torchvision", "--json", *results]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data and all(d["status"] == "ok" for d in data)
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
