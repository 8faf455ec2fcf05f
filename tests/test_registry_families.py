"""torchvision and timm rows of the new families (MobileNetV2/V3, EfficientNet, EfficientNetV2,
DenseNet, VGG): every row of the shared tables is an entry or an excluded record with its reason,
each entry with the row's numbers and the library's own preprocessing; two entries share an
architecture id only where torch computes the same function from the same weights; one model of
each family converts and passes parity with random weights."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import at_size

from zoocheck.checks.parity import check_parity
from zoocheck.cli import main
from zoocheck.reports.lines import parity_line
from zoocheck.zoo_registry import get_entry, list_entries, list_excluded, select_entries
from zoocheck.zoo_registry.sources._common import read_rows
from zoocheck.zoo_registry.sources._families import FAMILIES, TABLE_FAMILIES

#: the shared reference tables the packaged copies come from (next to the repository, when present)
SHARED = Path(__file__).resolve().parents[2] / "shared" / "reference" / "published" / "families"
SHARED_COLUMNS = ("source", "family", "model", "variant", "top1", "top5", "params_m", "flops_g", "input_size",
                  "resize", "crop", "interpolation", "mean", "std", "weights_url", "checksum_or_sha", "notes")  # fmt: skip
DATA = {"torchvision": "families_torchvision.csv", "timm": "families_timm.csv"}


def _entry_name(source: str, row) -> str:
    return f"{row['model']}.{row['variant']}" if source == "torchvision" else row["model"]


# --- every row, as an entry or an excluded record ----------------------------------------------


@pytest.mark.parametrize("source", DATA)
def test_every_row_is_an_entry_or_excluded(source):
    """Each row of the packaged table is an entry of its family carrying the row's numbers at the
    row's input size, or an Excluded record with a reason: none dropped."""
    excluded = {x.model: x for x in list_excluded(source)}
    for row in read_rows(DATA[source]):
        name = _entry_name(source, row)
        if row.get("excluded"):
            assert excluded[name].reason == row["excluded"] and excluded[name].family == row["family"]
            continue
        entry = get_entry(source, name)
        assert entry.arch.family == TABLE_FAMILIES.get(row["family"], row["family"]) in FAMILIES, name
        [pub] = [p for p in entry.published if p.input_size == int(row["input_size"])]
        assert (pub.top1, pub.top5) == (float(row["top1"]), float(row["top5"])), name
        assert pub.params_m == float(row["params_m"])
    assert excluded.keys() <= {_entry_name(source, r) for r in read_rows(DATA[source])}


def test_quantized_weights_are_listed_as_excluded(capsys):
    assert main(["list", "--excluded", "--src", "torchvision", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["model"] for r in rows} == {
        "quantized_mobilenet_v2.IMAGENET1K_QNNPACK_V1",
        "quantized_mobilenet_v3_large.IMAGENET1K_QNNPACK_V1",
    }
    assert all("QNNPACK" in r["reason"] for r in rows)


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared reference tables are not next to this checkout")
@pytest.mark.parametrize("source", DATA)
def test_packaged_rows_are_the_shared_tables_rows(source):
    """zoocheck's copy holds exactly the shared table's rows of the six families, cell for cell."""
    with open(SHARED / f"{source}.csv", newline="", encoding="utf-8") as fh:
        shared = [tuple(r[c] for c in SHARED_COLUMNS) for r in csv.DictReader(fh) if r["family"] in FAMILIES + tuple(TABLE_FAMILIES)]
    packaged = [tuple(r[c] for c in SHARED_COLUMNS) for r in read_rows(DATA[source])]
    assert packaged == [tuple(cell.strip() for cell in r) for r in shared]


def test_list_arch_finds_them_with_their_published_numbers(capsys):
    assert main(["list", "--arch", "densenet121", "--json"]) == 0
    found = {(e["source"], e["name"]) for e in json.loads(capsys.readouterr().out)}
    assert {("torchvision", "densenet121.IMAGENET1K_V1"), ("timm", "densenet121.tv_in1k"), ("timm", "densenet121.ra_in1k")} <= found
    assert main(["list", "--arch", "efficientnet_v2_*"]) == 0
    out = capsys.readouterr().out
    assert "tf_efficientnetv2_b0.in1k" in out and "76.876" in out  # the number at the entry's own size (192)


def test_list_arch_takes_a_family_name_or_an_id_pattern(capsys):
    for family in ("densenet", "swin"):
        assert main(["list", "--arch", family, "--json"]) == 0
        listed = {(e["source"], e["name"]) for e in json.loads(capsys.readouterr().out)}
        assert listed == {(e.source, e.name) for e in list_entries() if e.arch.family == family} and len(listed) > 20
    assert main(["list", "--arch", "DenseNet12?", "--json"]) == 0  # a pattern is over the ids, not the family
    assert {e["arch"] for e in json.loads(capsys.readouterr().out)} == {"densenet121"}


@pytest.mark.parametrize(
    "table_family, sources",
    [
        ("deit", {"timm", "mmpretrain", "ppcls"}),
        ("deit3", {"timm", "mmpretrain"}),
        ("swin_v2", {"torchvision", "timm", "mmpretrain", "ppcls"}),
    ],
)
def test_list_arch_takes_the_zoo_tables_family_name(capsys, table_family, sources):
    """DeiT is a ViT and Swin V2 a Swin by the function computed (their ids), but the zoos' tables
    file them apart, and so does ``--arch``."""
    listed = select_entries(arch=table_family)
    assert {e.source for e in listed} == sources and all(e.arch.family == TABLE_FAMILIES[table_family] for e in listed)
    assert {e.key for e in listed} == {e.key for e in list_entries() if e.table_family == table_family}
    assert main(["list", "--arch", table_family.upper()]) == 0
    out = capsys.readouterr().out
    assert f"{len(listed)} models" in out and listed[0].name[:20] in out


# --- preprocessing as the library defines it ---------------------------------------------------


def test_timm_entries_are_their_pretrained_cfg():
    """Input size, resize (floor(size / crop_pct)), interpolation, mean/std, squash, default tag:
    the installed timm's pretrained_cfg of each tag."""
    timm = pytest.importorskip("timm")
    from timm.models._registry import _model_default_cfgs

    for entry in list_entries("timm"):
        if entry.arch.family not in FAMILIES:
            continue
        cfg = timm.get_pretrained_cfg(entry.name).to_dict()
        pre = entry.preprocess
        assert entry.input_size == pre.crop == cfg["input_size"][1], entry.name
        assert pre.resize == int(cfg["input_size"][1] / cfg["crop_pct"]) and pre.interpolation == cfg["interpolation"], entry.name
        assert pre.mean == pytest.approx(cfg["mean"]) and pre.std == pytest.approx(cfg["std"]), entry.name
        assert pre.resize_mode == ("squash" if cfg.get("crop_mode") == "squash" else "short"), entry.name
        arch, tag = entry.name.split(".", 1)
        assert (arch in entry.aliases) == (_model_default_cfgs[arch].tags[0] == tag), entry.name
        assert entry.weights is not None and (
            entry.weights.checksum is not None or entry.hub_id == cfg["hf_hub_id"].rstrip("/") or cfg["hf_hub_id"] == "timm/"
        )


def test_torchvision_entries_are_their_weights_transforms():
    torchvision = pytest.importorskip("torchvision")

    for entry in list_entries("torchvision"):
        if entry.arch.family not in FAMILIES:
            continue
        weights = torchvision.models.get_weight(entry.aliases[0])
        transform = weights.transforms()
        pre = entry.preprocess
        assert (pre.resize, pre.crop) == (transform.resize_size[0], transform.crop_size[0]), entry.name
        assert pre.interpolation == transform.interpolation.value and pre.antialias == transform.antialias, entry.name
        assert pre.mean == pytest.approx(transform.mean) and pre.std == pytest.approx(transform.std), entry.name
        assert entry.weights.url == weights.url and entry.weights.checksum.matches(weights.url.rsplit("-", 1)[-1].split(".")[0])


# --- one id per function -----------------------------------------------------------------------


def _randomized(module, seed: int):
    """Every parameter and batch-norm statistic drawn at random (no zero-init, no identity BN), so
    a structural difference shows in the outputs."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, value in module.state_dict().items():
            if not value.dtype.is_floating_point:
                continue
            if key.endswith("running_var") or (value.ndim == 1 and key.endswith("weight")):
                value.copy_(torch.rand(value.shape, generator=gen) + 0.5)
            else:
                value.copy_(torch.randn(value.shape, generator=gen) / max(1, value[0].numel()) ** 0.5)
    return module.eval()


def _same_weights(source, target) -> None:
    """``source``'s tensors loaded into ``target`` in module order (the two libraries name them
    differently; a Linear's weight goes into a 1x1 or 7x7 conv of as many numbers)."""
    pairs = [[(k, v) for k, v in m.state_dict().items() if not k.endswith("num_batches_tracked")] for m in (source, target)]
    assert len(pairs[0]) == len(pairs[1])
    state = {}
    for (ka, a), (kb, b) in zip(*pairs):
        assert a.numel() == b.numel(), (ka, tuple(a.shape), kb, tuple(b.shape))
        state[kb] = a.reshape(b.shape)
    target.load_state_dict(state, strict=False)


def _max_relative_difference(tv_name: str, timm_name: str, size: int) -> float:
    import torch

    timm = pytest.importorskip("timm")
    torchvision = pytest.importorskip("torchvision")
    a = _randomized(torchvision.models.get_model(tv_name), seed=1)
    b = timm.create_model(timm_name).eval()
    _same_weights(a, b)
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ya, yb = a(x), b(x)
    return float((ya - yb).abs().max() / ya.abs().max())


def _id(source: str, builder: str) -> str:
    return next(e.arch.id for e in list_entries(source) if e.builder == builder)


#: (torchvision builder, timm architecture, input size) of each kind of cross-zoo id
SAME_FUNCTION = {
    "mobilenet_v2": ("mobilenet_v2", "mobilenetv2_100", 64),
    "efficientnet": ("efficientnet_b0", "efficientnet_b0", 64),
    "densenet": ("densenet121", "densenet121", 64),
    "vgg": ("vgg11_bn", "vgg11_bn", 224),  # timm's 7x7-conv classifier equals torchvision's Linear at 224 only
    "convnext": ("convnext_tiny", "convnext_tiny", 64),  # layer scale after the permute back (torchvision) or on NCHW (timm)
}


def test_same_weights_have_one_id():
    """Weights published by both libraries (timm's ``tv_in1k`` tags, relations.csv) are loaded into
    networks of one id."""
    pairs = [(e, get_entry(*key.split("/", 1))) for e in list_entries("torchvision") for key in e.same_weights_as]
    pairs = [(a, b) for a, b in pairs if a.arch.family in FAMILIES and b.source == "timm"]
    assert len(pairs) == 12
    assert all(a.arch.id == b.arch.id for a, b in pairs), [(a.key, b.key) for a, b in pairs if a.arch.id != b.arch.id]


def test_every_id_torchvision_and_timm_share_is_of_a_kind_proven_below():
    tv = {e.arch.id: e.arch.family for e in list_entries("torchvision") if e.arch.family in FAMILIES}
    shared = {family for arch_id, family in tv.items() if arch_id in {e.arch.id for e in list_entries("timm")}}
    # the ViTs' and Swins' shared ids are proven by tests/test_canonical_vit.py and
    # test_canonical_swin.py: one set of canonical weights in both libraries' layouts, both forwards
    # equal to the numpy reference
    assert shared == set(SAME_FUNCTION) | {"vit", "swin"}


@pytest.mark.parametrize("family", [pytest.param(f, marks=pytest.mark.slow) if f == "vgg" else f for f in SAME_FUNCTION])
def test_a_shared_id_is_one_function(family):
    """torchvision's network and timm's, of one id, compute the same outputs from the same weights."""
    tv_name, timm_name, size = SAME_FUNCTION[family]
    assert _id("torchvision", tv_name) == _id("timm", timm_name)
    assert _max_relative_difference(tv_name, timm_name, size) < 1e-5


@pytest.mark.parametrize(
    "tv_name,timm_name,why",
    [
        ("efficientnet_b5", "efficientnet_b5", "batch-norm eps 1e-3 vs 1e-5"),
        ("mobilenet_v3_large", "mobilenetv3_large_100", "batch-norm eps 1e-3 vs 1e-5, Linear vs 1x1-conv head"),
        ("efficientnet_b0", "tf_efficientnet_b0", "TF 'same' padding and eps 1e-3"),
    ],
)
def test_different_ids_are_different_functions(tv_name, timm_name, why):
    assert _id("torchvision", tv_name) != _id("timm", timm_name), why
    assert _max_relative_difference(tv_name, timm_name, 64) > 1e-4, why


# --- convert and parity ------------------------------------------------------------------------

#: the smallest model of each family (a tf_ port for the "same" padding), with calibrated random
#: weights (``torch_random.randomize``: fp32 within ~1e-6 of fp64, tests/test_random_calibration.py),
#: at 64 pixels (the weights calibrated at that size) but VGG, whose classifier takes the 7x7 map
PARITY = [
    ("torchvision", "mobilenet_v2.IMAGENET1K_V1", 64),
    ("timm", "mobilenetv3_small_050.lamb_in1k", 64),
    ("timm", "tf_efficientnet_b0.in1k", 64),
    ("timm", "tf_efficientnetv2_b0.in1k", 64),
    ("torchvision", "densenet121.IMAGENET1K_V1", 64),
    pytest.param("timm", "vgg11.tv_in1k", 224, marks=pytest.mark.slow),
    pytest.param("torchvision", "mobilenet_v3_large.IMAGENET1K_V2", 64, marks=pytest.mark.slow),
    pytest.param("timm", "mobilenetv3_rw.rmsp_in1k", 64, marks=pytest.mark.slow),
    pytest.param("timm", "densenetblur121d.ra_in1k", 64, marks=pytest.mark.slow),
    pytest.param("torchvision", "efficientnet_v2_s.IMAGENET1K_V1", 64, marks=pytest.mark.slow),
]


@pytest.mark.parametrize("source,model,size", PARITY)
def test_parity_with_random_weights(tmp_path, source, model, size):
    """The entry converts and its ONNX file computes the library's forward on the photos."""
    result, _ = check_parity(
        at_size(get_entry(source, model), size), weights=None, random_seed=0, output=tmp_path / "model.onnx", isolate=False
    )
    assert result.status == "ok" and result.random_weights, parity_line(result)
