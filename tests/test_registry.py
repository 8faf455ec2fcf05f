"""The registry: a schema test over every entry, seed-table coverage, lookups, and the list/show CLI."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from conftest import at_size

from zoocheck.cli import main
from zoocheck.families.resnet.spec import resnet_spec
from zoocheck.sources import source_names
from zoocheck.zoo_registry import UnknownModelError, canonical_source, get_entry, list_entries
from zoocheck.zoo_registry.types import Checksum

SOURCES = source_names()
ENTRIES = list_entries()
IDS = [e.key for e in ENTRIES]
SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


# --- schema ----------------------------------------------------------------------------------


def test_every_source_lists_entries_and_the_whole_list_is_theirs():
    per_source = {s: list_entries(s) for s in SOURCES}
    assert all(per_source.values()), [s for s, entries in per_source.items() if not entries]
    assert [e.key for s in SOURCES for e in per_source[s]] == IDS


@pytest.mark.parametrize("source", list(SOURCES))
def test_names_and_aliases_unique_per_source(source):
    seen: dict[str, str] = {}
    for e in list_entries(source):
        for n in {e.name.lower(), *(a.lower() for a in e.aliases)}:
            assert n not in seen, f"{source}/{n} names both {seen[n]} and {e.name}"
            seen[n] = e.name


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_entry_schema(entry):
    assert entry.source in SOURCES and entry.name and entry.builder
    assert entry.label_space == "imagenet-1k"
    pre = entry.preprocess
    assert pre.crop <= pre.resize
    assert entry.input_size == pre.crop
    assert pre.scale in (1.0, 1.0 / 255.0)
    assert (pre.scale == 1.0) == (pre.mean[0] > 1.0), "mean/std scale must match `scale`"
    if entry.weights is not None:
        w = entry.weights
        assert re.match(r"^https?://", w.url) and w.file_name and "/" not in w.file_name
        if w.checksum is not None:
            assert isinstance(w.checksum, Checksum)  # its __post_init__ checks the hex and the length
            if w.checksum.kind == "prefix" and w.checksum.algorithm == "sha256":
                assert w.checksum.value in w.file_name, "a sha256 prefix is the one in the file name"
    for p in entry.published:
        assert p.reference
        if p.top1 is not None:
            assert 0 < p.top1 <= 100
        if p.top1 is not None and p.top5 is not None:
            assert 0 < p.top1 <= p.top5 <= 100
        if p.flops_g is not None:
            assert p.flops_unit in ("MACs", "FLOPs")
        if p.params_m is not None:
            assert p.params_m > 0
    if entry.arch.family == "resnet":
        assert entry.arch.structure.depth > 0


def test_checksum_kinds():
    kinds = {(e.source, e.weights.checksum.algorithm, e.weights.checksum.kind) for e in ENTRIES if e.weights and e.weights.checksum}
    assert ("torchvision", "sha256", "prefix") in kinds and ("gluon", "sha1", "full") in kinds
    assert ("onnx-zoo", "sha256", "full") in kinds and ("gluoncv", "sha1", "prefix") in kinds
    assert all(e.weights.checksum is None for e in list_entries("ppcls") if e.weights)


@pytest.mark.parametrize(
    "source, name, arch_id",
    [
        ("ppcls", "ResNet50_vd", "resnet50_d"),
        ("timm", "resnet50d.gluon_in1k", "resnet50_d"),
        ("mmpretrain", "resnetv1d50_8xb32_in1k", "resnet50_d"),
        ("gluoncv", "resnet50_v1d", "resnet50_d"),
        ("timm", "gluon_resnet50_v1c", "resnet50_c"),
        ("mmpretrain", "resnetv1c50", "resnet50_c"),
        ("ppcls", "ResNet50_vc", "resnet50_c"),
        ("gluon", "resnet50_v1", "resnet50_v1"),
        ("onnx-zoo", "resnet50-v1", "resnet50_v1"),
        ("onnx-zoo", "resnet50-v2-7", "resnet50_v2"),
        ("torchvision", "resnet50", "resnet50"),
        ("gluoncv", "resnet50_v1b", "resnet50"),
        ("ppcls", "ResNeXt101_vd_32x4d", "resnext101_32x4d_d"),
        ("timm", "resnext50d_32x4d", "resnext50_32x4d_d"),
        ("mmpretrain", "resnext101_32x4d", "resnext101_32x4d"),
        ("torchvision", "wide_resnet50_2", "wide_resnet50_2"),
        ("timm", "resnet50s.gluon_in1k", "resnet50_s"),
        ("gluoncv", "resnet50_v1s", "resnet50_s"),
        ("ppcls", "ResNet18", "resnet18_proj"),
        ("ppcls", "ResNet34_vd", "resnet34_d_proj"),
        ("timm", "resnet200d", "resnet200_l3-24-36-3_d"),
        ("ppcls", "ResNet200_vd", "resnet200_d"),
    ],
)
def test_architecture_ids_shared_across_sources(source, name, arch_id):
    assert get_entry(source, name).arch.id == arch_id


def test_lookups_and_aliases():
    assert get_entry("torchvision", "resnet50").name == "resnet50.IMAGENET1K_V1"  # what pretrained=True loads
    assert get_entry("torchvision", "ResNet50_Weights.DEFAULT").name == "resnet50.IMAGENET1K_V2"
    assert get_entry("torchvision", "resnet50.default").name == "resnet50.IMAGENET1K_V2"
    assert get_entry("timm", "resnet50").name == "resnet50.a1_in1k"
    assert get_entry("timm", "tv_resnext50_32x4d").name == "resnext50_32x4d.tv_in1k"
    assert get_entry("timm", "ig_resnext101_32x16d").name == "resnext101_32x16d.fb_wsl_ig1b_ft_in1k"
    assert get_entry("timm", "swsl_resnet50").name == "resnet50.fb_swsl_ig1b_ft_in1k"
    assert get_entry("mmcls", "resnext101_32x4d").name == "resnext101-32x4d_8xb32_in1k"
    assert get_entry("paddleclas", "resnext101_vd_32x4d").name == "ResNeXt101_vd_32x4d"
    assert get_entry("onnx", "ResNet50-v1").name == "resnet50-v1-7"
    assert get_entry("gluon", "resnet50_v1.legacy").name == "resnet50_v1-c940b1a0"
    assert get_entry("gluoncv", "resnet50_v1d-00319ddc").published[0].top1 == 78.48
    with pytest.raises(UnknownModelError) as err:
        get_entry("timm", "resnet5O")
    assert "resnet50.a1_in1k" in str(err.value)


def test_preprocessing_presets():
    mm = get_entry("mmpretrain", "resnet50_8xb32_in1k").preprocess
    assert (mm.image_library, mm.antialias, mm.scale, mm.mean[0], mm.size_rounding, mm.crop_rounding) == (
        "cv2",
        False,
        1.0,
        123.675,
        "floor",
        "round",
    )
    assert get_entry("mmpretrain", "resnetv1d50_8xb32_in1k").preprocess.image_library == "pil"
    rsb = get_entry("mmpretrain", "resnet50_8xb256-rsb-a1-600e_in1k").preprocess
    assert (rsb.resize, rsb.interpolation) == (236, "bicubic")
    pp = get_entry("ppcls", "ResNet50").preprocess
    assert (pp.image_library, pp.size_rounding, pp.crop_rounding) == ("cv2", "round", "floor")
    fix = get_entry("ppcls", "Fix_ResNet50_vd_ssld")
    assert (fix.preprocess.resize, fix.input_size) == (320, 320)
    assert get_entry("torchvision", "resnet50.IMAGENET1K_V2").preprocess.resize == 232
    t = get_entry("timm", "resnet50.a1_in1k")
    assert (t.preprocess.resize, t.preprocess.crop, t.preprocess.interpolation) == (235, 224, "bicubic")
    assert {p.input_size for p in t.published} == {224, 288}
    assert get_entry("onnx-zoo", "resnet18-v1-7").preprocess.resize_mode == "squash"
    g = get_entry("gluon", "resnet50_v1").preprocess
    assert (g.image_library, g.size_rounding, g.crop_rounding) == ("cv2", "floor", "floor")


def test_onnx_zoo_resnets_are_evaluated_like_their_gluon_models_but_squashed():
    """The ONNX zoo's ResNet v1/v2 files hold the Gluon networks they were exported from (the slow
    compare test: identical); their top-1 on the same photographs differs only by the preprocessing
    each zoo evaluates with: the zoo's notebook squashes to 256x256, Gluon resizes the short side."""
    import dataclasses

    exported = [e for e in list_entries("onnx-zoo") if e.exported_from and e.exported_from.startswith("gluon/")]
    assert {e.arch.id for e in exported} >= {f"resnet{depth}_{v}" for depth in (18, 34, 50, 101, 152) for v in ("v1", "v2")}
    for entry in exported:
        gluon = get_entry(*entry.exported_from.split("/", 1))
        assert gluon.arch == entry.arch, entry.name
        assert (entry.preprocess.resize_mode, gluon.preprocess.resize_mode) == ("squash", "short"), entry.name
        assert dataclasses.replace(entry.preprocess, resize_mode="short") == gluon.preprocess, entry.name


def test_timm_default_tags_match_installed_timm():
    timm = pytest.importorskip("timm")
    from timm.models._registry import _model_default_cfgs

    from zoocheck.zoo_registry.sources.timm import DEFAULT_TAGS

    for arch, tag in DEFAULT_TAGS.items():
        assert _model_default_cfgs[arch].tags[0] == tag, (arch, timm.__version__)


def test_registry_builds_without_frameworks():
    """`zoocheck list` must not pay for (or depend on) any framework; its speed is bench/registry_load.py's."""
    import subprocess
    import sys

    code = (
        "import sys;"
        "from zoocheck.sources import source_names; from zoocheck.zoo_registry import list_entries, _name_index;"
        "list_entries(); [_name_index(s) for s in source_names()];"
        "print([m for m in ('torch', 'timm', 'paddle', 'mxnet', 'mmpretrain', 'onnxruntime') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- seed coverage ---------------------------------------------------------------------------


def _table_rows(text: str, header_starts: str):
    """Rows (lists of cells) of every markdown table whose header row starts with ``header_starts``."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith(header_starts):
            j = i + 2
            while j < len(lines) and lines[j].strip().startswith("|"):
                yield [c.strip() for c in lines[j].strip().strip("|").split("|")]
                j += 1


def seed_rows() -> list[tuple[str, str, float, float, str]]:
    """(source, name as the seed writes it, top-1 %, top-5 %, seed file) of every ImageNet-1k row."""
    rows = []
    mm = (SEEDS / "mmpretrain_resnet_README.md").read_text(encoding="utf-8")
    section = mm.split("### Image Classification on ImageNet-1k", 1)[1].split("###", 1)[0]
    for c in _table_rows(section, "| Model"):
        rows.append(("mmpretrain", c[0].strip("`"), float(c[4]), float(c[5]), "mmpretrain_resnet_README.md"))
    pc = (SEEDS / "paddleclas_ResNet.md").read_text(encoding="utf-8")
    for c in _table_rows(pc, "| Models           | Top1"):
        rows.append(("ppcls", c[0], float(c[1]) * 100, float(c[2]) * 100, "paddleclas_ResNet.md"))
    ox = (SEEDS / "onnx_model_zoo_resnet_README.md").read_text(encoding="utf-8")
    for c in _table_rows(ox, "|Model"):
        stem = re.search(r"/(resnet\d+v\d)\.onnx\)", c[1]).group(1)
        rows.append(("onnx-zoo", stem, float(c[6]), float(c[7]), "onnx_model_zoo_resnet_README.md"))
    card = (SEEDS / "modelzoo_resnext_card.md").read_text(encoding="utf-8")
    for c in _table_rows(card, "| 模型"):
        source = re.match(r"\[(\w+)\]", c[1]).group(1)
        rows.append((source, c[0], float(c[2]), float(c[3]), "modelzoo_resnext_card.md"))
    return rows


@pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds not present (not a workplace checkout)")
def test_seed_tables_parsed_completely():
    rows = seed_rows()
    by_file: dict[str, int] = {}
    for r in rows:
        by_file[r[4]] = by_file.get(r[4], 0) + 1
    assert by_file == {
        "mmpretrain_resnet_README.md": 15,
        "paddleclas_ResNet.md": 16,
        "onnx_model_zoo_resnet_README.md": 10,
        "modelzoo_resnext_card.md": 29,
    }


@pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds not present (not a workplace checkout)")
def test_every_seed_row_is_in_the_registry_with_its_numbers():
    missing = []
    for source, name, top1, top5, seed in seed_rows():
        try:
            entry = get_entry(source, name)
        except Exception as exc:  # noqa: BLE001 - collect every miss
            missing.append(f"{seed}: {source}/{name}: {exc}")
            continue
        if not any(
            p.top1 is not None
            and math.isclose(p.top1, top1, abs_tol=1e-6)
            and p.top5 is not None
            and math.isclose(p.top5, top5, abs_tol=1e-6)
            for p in entry.published
        ):
            missing.append(f"{seed}: {source}/{name} -> {entry.name} lacks {top1}/{top5}")
    assert not missing, "\n".join(missing)


@pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds not present (not a workplace checkout)")
def test_seed_rows_in_list_json(capsys):
    assert main(["list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    index = {(d["source"], n.lower()): d for d in listed for n in [d["name"], *d["aliases"]]}
    for source, name, top1, top5, _ in seed_rows():
        d = index[(canonical_source(source), name.lower())]
        assert any(p["top1"] == pytest.approx(top1) and p["top5"] == pytest.approx(top5) for p in d["published"]), name


# --- CLI -------------------------------------------------------------------------------------


def test_list_json_fields(capsys):
    assert main(["list", "--src", "ppcls", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data) == len(list_entries("ppcls")) > 33  # the 33 ResNets and the new families
    for d in data:
        assert {"source", "name", "aliases", "arch", "builder", "weights", "preprocess", "input_size", "label_space", "published"} <= set(d)
        for p in d["published"]:
            assert {"top1", "top5", "params_m", "flops_g", "flops_unit", "input_size", "reference"} <= set(p)


def test_list_filters_and_table(capsys):
    assert main(["list", "--arch", "resnet50_d", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {d["source"] for d in data} == {"timm", "mmpretrain", "ppcls", "gluoncv"}
    assert main(["list", "--src", "onnx-zoo"]) == 0
    assert "resnet50-v1-7" in capsys.readouterr().out
    assert main(["list", "--src", "nope"]) == 2


def test_show(capsys):
    assert main(["show", "--src", "mmpretrain", "--model", "resnet34_8xb32_in1k", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["published"][0]["params_m"] == 2.18 and d["measured"]["params"] == 21797672
    assert any(f["status"] == "failed" for f in d["audit"])
    assert main(["show", "--src", "timm", "--model", "resnet50d"]) == 0
    assert "resnet50d.ra2_in1k" in capsys.readouterr().out


def test_show_unknown_suggests(capsys):
    assert main(["show", "--src", "ppcls", "--model", "ResNet50_vdd"]) == 2
    err = capsys.readouterr().err
    assert "ResNet50_vd" in err and err.count("\n") == 1


# --- every entry builds with random weights (needs the converters) ---------------------------


# A representative builds in the default run only if it is no bigger than a ResNet-50 (25.6 M
# parameters) with some margin; an entry whose size is unknown is never one. The families built at
# their full input size (below) only if no bigger than a DeiT-tiny with margin: a Swin-T at 224 px
# is 4-5 s, and small Swins of every zoo are built in test_canonical_swin and test_attention_taps.
REPRESENTATIVE_MAX_PARAMS_M = 30.0
FULL_SIZE_REPRESENTATIVE_MAX_PARAMS_M = 10.0
FULL_SIZE_FAMILIES = ("vit", "swin")


def _params_m(entry) -> float:
    """Millions of parameters: counted from the family's canonical parameter shapes when it
    declares them (batch-norm statistics apart; no template built at collection, as the audit's
    count builds one), else published."""
    from zoocheck.converters.weights import parameter_shapes
    from zoocheck.families.registry import family_of

    family = family_of(entry.arch)
    if family is not None and family.parameters is not None:
        try:
            shapes = parameter_shapes(entry.arch)
            return sum(math.prod(shape) for name, shape in shapes.items() if not name.endswith(("running_mean", "running_var"))) / 1e6
        except ValueError:  # a member the family's parameters do not cover
            pass
    published = [p.params_m for p in entry.published if p.params_m is not None]
    return min(published) if published else math.inf


def _representatives() -> set[str]:
    """The smallest entry per (source, family, ResNet stem/shortcut variant) for the default run,
    if it is small (measured in parameters: depth says nothing about an 'other' architecture)."""
    smallest: dict[tuple, tuple[float, str, str]] = {}
    for e in ENTRIES:
        spec = resnet_spec(e.arch)
        key = (e.source, e.arch.family, spec and spec.variant)
        candidate = (_params_m(e), e.name, e.key)
        cap = FULL_SIZE_REPRESENTATIVE_MAX_PARAMS_M if e.arch.family in FULL_SIZE_FAMILIES else REPRESENTATIVE_MAX_PARAMS_M
        if candidate[0] <= cap and (key not in smallest or candidate < smallest[key]):
            smallest[key] = candidate
    return {key for _, _, key in smallest.values()}


REPRESENTATIVES = _representatives()


def test_representatives_are_small_and_cover_every_source():
    assert {e.source for e in ENTRIES if e.key in REPRESENTATIVES} == set(SOURCES)
    assert all(_params_m(e) <= REPRESENTATIVE_MAX_PARAMS_M for e in ENTRIES if e.key in REPRESENTATIVES)


BUILD_PARAMS = [pytest.param(e, id=e.key, marks=() if e.key in REPRESENTATIVES else pytest.mark.slow) for e in ENTRIES]


@pytest.mark.parametrize("entry", BUILD_PARAMS)
def test_entry_builds_with_random_weights(entry):
    import numpy as np

    from zoocheck.converters import FrameworkUnavailable, converter_for
    from zoocheck.converters.base import NoBuilder

    converter = converter_for(entry.source)
    try:
        converter.check_available()
    except FrameworkUnavailable as exc:
        pytest.skip(str(exc))
    # exported ONNX files have a fixed size, and so have GluonCV's and PaddleClas's VGG (their Linear layers flatten the 7x7 map)
    # and the ViTs (their position embedding) and Swins (timm's shifted windows' masks are sized at build); the others are
    # built for 64-px inputs, their random weights calibrated at that size (the build does not depend on it)
    fixed_size = (
        entry.source == "onnx-zoo"
        or (entry.source, entry.arch.family) in (("gluoncv", "vgg"), ("ppcls", "vgg"))
        or entry.arch.family in FULL_SIZE_FAMILIES
    )
    size = entry.input_size if fixed_size else 64
    try:
        model = converter.load(at_size(entry, size), None, random_seed=0)
    except NoBuilder as exc:  # the refusal itself: tests/test_registry_families_zoos.py
        pytest.skip(str(exc))
    x = np.random.default_rng(0).standard_normal((1, 3, size, size)).astype(np.float32)
    out = model.forward(x)
    assert out.shape == (1, entry.arch.num_classes) and np.isfinite(out).all()
