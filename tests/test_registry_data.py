"""The registry's data: CSV columns against the entries built from them, relations between entries,
and a malformed row disabling only its own source. Pure Python (no framework)."""

from __future__ import annotations

import importlib
import re
import sys
import warnings
from urllib.parse import urlsplit

import pytest

from zoocheck import zoo_registry
from zoocheck.sources import all_sources, get_source, source_names
from zoocheck.zoo_registry import get_entry, list_entries
from zoocheck.zoo_registry.sources import _common

#: packaged CSV -> (registry source, the zoo label its `source` column holds)
CSV_FILES = {
    "torchvision.csv": ("torchvision", "torchvision"),
    "timm.csv": ("timm", "timm"),
    "mmpretrain.csv": ("mmpretrain", "mmpretrain"),
    "paddleclas.csv": ("ppcls", "paddleclas"),
    "mxnet_gluon_model_zoo.csv": ("gluon", "mxnet-gluon-model-zoo"),
    "gluoncv.csv": ("gluoncv", "gluoncv"),
    "onnx_model_zoo.csv": ("onnx-zoo", "onnx-model-zoo"),
}
ROWS = [pytest.param(file_name, row, id=f"{file_name}:{row.line}") for file_name in CSV_FILES for row in _common.read_rows(file_name)]


def _entry_of(source: str, row) -> object:
    return get_entry(source, f"{row['model']}.{row['variant']}" if source == "torchvision" else row["model"])


@pytest.mark.parametrize("file_name, row", ROWS)
def test_every_row_agrees_with_its_entry(file_name, row):
    """The columns the entry is not built from are cross-checks: a name parsed to the wrong depth,
    a preprocessing preset other than the zoo's, a row in the wrong file all fail here."""
    source, label = CSV_FILES[file_name]
    assert row["source"] == label
    entry = _entry_of(source, row)
    if entry.arch.family == "resnet":
        assert entry.arch.structure.depth == int(row["depth"])
    parts = [p for p in row["variant"].replace("-", "_").split("_") if p]
    assert all(p.lower() in entry.name.lower() or p.lower() in row["model"].lower() for p in parts), row["variant"]
    if source in ("mmpretrain", "ppcls", "torchvision") and row["resize"]:
        pre = entry.preprocess
        assert (pre.resize, pre.crop, pre.interpolation) == (int(row["resize"]), int(row["crop"]), row["interpolation"])
    if source == "torchvision":
        assert row["weights_enum"].endswith("." + row["variant"]) and row["weights_enum"] in entry.aliases


def test_every_csv_file_is_read():
    """No packaged table is ignored."""
    from importlib import resources

    packaged = {p.name for p in resources.files(_common.DATA_PACKAGE).joinpath("data").iterdir() if p.name.endswith(".csv")}
    families = {
        f"families_{name}"
        for name in ("torchvision.csv", "timm.csv", "mmpretrain.csv", "paddleclas.csv", "gluoncv.csv", "onnx_model_zoo.csv")
    }
    assert packaged == {*CSV_FILES, *families, "extra_published.csv", "relations.csv"}


def test_an_entry_is_typed_through_and_through():
    """No untyped bag (dict, Any, tuple of key/value pairs) where a typed field belongs, in the
    entry or anything it holds (issue 8: licence, hub id and alternate weights are fields)."""
    import dataclasses
    import typing

    from zoocheck.zoo_registry.types import Entry

    def untyped(hint) -> bool:
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if hint is typing.Any or hint is dict or origin is dict or origin is typing.Mapping:
            return True
        if origin is tuple and args[-1:] == (Ellipsis,) and typing.get_origin(args[0]) is tuple:
            return True  # tuple[tuple[str, str], ...]: a dict in disguise
        return any(untyped(a) for a in args if a is not Ellipsis)

    seen, pending, bags = {Entry}, [Entry], []
    while pending:
        cls = pending.pop()
        for name, hint in typing.get_type_hints(cls).items():
            if untyped(hint):
                bags.append(f"{cls.__name__}.{name}: {hint}")
            for t in (hint, *typing.get_args(hint)):
                for inner in (t, *typing.get_args(t)):
                    if dataclasses.is_dataclass(inner) and inner not in seen:
                        seen.add(inner)
                        pending.append(inner)
    assert not bags, bags


def test_a_preprocessing_spec_is_stored_as_json_holds_it():
    # records and ONNX metadata read back lists: the spec's own dict must compare equal to them
    spec = get_entry("ppcls", "ResNet50_vd").preprocess
    assert isinstance(spec.mean, tuple) and spec.to_dict()["mean"] == list(spec.mean)
    import json

    assert json.loads(json.dumps(spec.to_dict())) == spec.to_dict()


# --- relations --------------------------------------------------------------------------------

KEYS = {e.key: e for e in list_entries()}


@pytest.mark.parametrize("entry", [e for e in KEYS.values() if e.same_weights_as or e.exported_from], ids=lambda e: e.key)
def test_relations_point_at_existing_entries_of_the_same_architecture(entry):
    for key in (*entry.same_weights_as, *filter(None, [entry.exported_from])):
        assert key in KEYS, f"{entry.key} -> {key}: no such entry"
        assert KEYS[key].arch == entry.arch, f"{entry.key} is {entry.arch.id}, {key} is {KEYS[key].arch.id}"
        assert key != entry.key
    for key in entry.same_weights_as:
        assert entry.key in KEYS[key].same_weights_as  # the relation holds both ways


def test_cross_source_pairs_are_the_relations_of_relations_csv(monkeypatch):
    from zoocheck.checks.cross_source import cross_check_reference

    zoo, gluon = get_entry("onnx-zoo", "resnet18-v1-7"), get_entry("gluon", "resnet18_v1")
    everything = list_entries()
    assert cross_check_reference(zoo, everything) == gluon  # exported_from
    assert cross_check_reference(get_entry("timm", "resnet50.tv_in1k"), everything) == get_entry(
        "torchvision", "resnet50.IMAGENET1K_V1"
    )  # same_weights_as
    # the Caffe2 ResNet-50 files share gluon resnet50_v1's network, not its weights: no pair
    assert cross_check_reference(get_entry("onnx-zoo", "resnet50-caffe2-v1-7"), everything) is None
    # the row removed from relations.csv, the pair is gone
    read_rows = _common.read_rows
    without = tuple(r for r in read_rows("relations.csv") if (r["source"], r["name"]) != ("onnx-zoo", "resnet18-v1-7"))
    monkeypatch.setattr(_common, "read_rows", lambda name: without if name == "relations.csv" else read_rows(name))
    _common._relations.cache_clear()
    try:
        (unrelated,) = _common.with_relations((zoo,))
    finally:
        _common._relations.cache_clear()
    assert unrelated.exported_from is None and cross_check_reference(unrelated, everything) is None


def test_entries_sharing_a_weights_file_are_declared_the_same_weights():
    by_file: dict[str, list[str]] = {}
    for e in KEYS.values():
        if e.weights is not None:
            by_file.setdefault(e.weights.url, []).append(e.key)
            if e.weights.checksum is not None and e.weights.checksum.kind == "full":
                by_file.setdefault(str(e.weights.checksum), []).append(e.key)
    for keys in by_file.values():
        for a in keys:
            assert set(keys) - {a} <= set(KEYS[a].same_weights_as), f"{a} shares its weights file with {keys}"


def test_every_weights_url_is_a_clean_https_url():
    """A stray character copied from a table's notes (a trailing ';') makes the download 404."""
    for e in KEYS.values():
        for weights in ((e.weights,) if e.weights is not None else ()) + tuple(e.alternate_weights):
            url = urlsplit(weights.url)
            clean = re.fullmatch(r"[A-Za-z0-9._~/%+=@-]+", url.path)
            assert url.scheme == "https" and url.netloc and clean and not url.query, f"{e.key}: {weights.url!r}"


def test_every_torch_checkpoint_is_a_file_torch_load_or_safetensors_reads():
    """A JAX .npz (Google's ViT checkpoints) is not one: those tags name timm's hub copy instead."""
    for e in KEYS.values():
        if e.weights is not None and e.weights.format in ("torch-state-dict", "mmpretrain-checkpoint"):
            assert e.weights.file_name.endswith((".pth", ".pt", ".bin", ".safetensors")), f"{e.key}: {e.weights.file_name}"
    augreg = get_entry("timm", "vit_base_patch16_224.augreg_in1k").weights
    assert augreg.url == "https://huggingface.co/timm/vit_base_patch16_224.augreg_in1k/resolve/main/model.safetensors"


def test_known_relations():
    assert "timm/resnet50.tv_in1k" in get_entry("torchvision", "resnet50.IMAGENET1K_V1").same_weights_as
    assert "timm/resnet50d.gluon_in1k" in get_entry("gluoncv", "resnet50_v1d").same_weights_as
    assert "gluon/resnet18_v1" in get_entry("gluoncv", "resnet18_v1").same_weights_as
    assert get_entry("gluoncv", "resnet50_v1").same_weights_as == ()  # MXNet retrained resnet50_v1 / resnet152_v1
    assert get_entry("onnx-zoo", "resnet50-v1-7").exported_from == "gluon/resnet50_v1"
    assert get_entry("onnx-zoo", "resnet50-v1-12").exported_from == "gluon/resnet50_v1"  # the fp32 re-export
    assert get_entry("onnx-zoo", "resnet50-v1-12-int8").exported_from is None  # quantised: another function
    assert get_entry("ppcls", "ResNet50_vd").same_weights_as == ()


# --- typed facts instead of notes ----------------------------------------------------------------


def test_typed_facts():
    t = get_entry("timm", "resnext101_32x32d.fb_wsl_ig1b_ft_in1k")
    assert (t.licence, t.hub_id, t.origin_url) == (
        "cc-by-nc-4.0",
        "timm/resnext101_32x32d.fb_wsl_ig1b_ft_in1k",
        "https://github.com/facebookresearch/WSL-Images",
    )
    p = get_entry("ppcls", "ResNet50_vd")
    assert [(w.format, w.file_name) for w in p.alternate_weights] == [("paddle-inference", "ResNet50_vd_infer.tar")]
    wsl = get_entry("ppcls", "ResNeXt101_32x16d_wsl")
    assert wsl.weights.file_name == "ResNeXt101_32x16_wsl_pretrained.pdparams"  # what MODEL_URLS fetches
    assert "ResNeXt101_32x16d_wsl_pretrained.pdparams" in [w.file_name for w in wsl.alternate_weights]  # what the README links
    assert get_entry("onnx-zoo", "resnet50-v1-7").alternate_weights[0].url.startswith("https://s3.amazonaws.com/onnx-model-zoo/")
    assert get_entry("gluoncv", "resnet50_v1d-00319ddc").name == "resnet50_v1d-00319ddc"  # a non-default (tagged) weights row
    assert "TYPO" in get_entry("mmpretrain", "resnet34_8xb32_in1k").notes


def test_source_modules_parse_no_notes():
    """`notes` is prose for people: no source module reads it."""
    import inspect

    for module_name in (s.registry for s in all_sources()):
        assert '["notes"]' not in inspect.getsource(importlib.import_module(module_name)), module_name


# --- a malformed row ---------------------------------------------------------------------------


@pytest.fixture
def broken_mmpretrain_row(monkeypatch):
    """mmpretrain.csv with its third row's model name garbled; the registry rebuilt around it."""
    rows = list(_common.read_rows("mmpretrain.csv"))
    rows[2] = _common.Row({**rows[2], "model": "resnet50_garbled"}, "mmpretrain.csv", rows[2].line)
    real = _common.read_rows
    module = get_source("mmpretrain").registry

    def reset():
        zoo_registry._entries_of.cache_clear()
        zoo_registry._name_index.cache_clear()
        zoo_registry.SOURCE_ERRORS.clear()
        sys.modules.pop(module, None)

    monkeypatch.setattr(_common, "read_rows", lambda name: tuple(rows) if name == "mmpretrain.csv" else real(name))
    reset()
    yield rows[2].line
    monkeypatch.undo()
    reset()
    importlib.import_module(module)


def test_a_malformed_row_disables_only_its_own_source(broken_mmpretrain_row):
    with pytest.warns(zoo_registry.RegistryWarning, match=rf"mmpretrain.csv line {broken_mmpretrain_row} \(resnet50_garbled\)"):
        entries = list_entries()
    assert {e.source for e in entries} == set(source_names()) - {"mmpretrain"}
    assert get_entry("timm", "resnet50d").source == "timm"
    with pytest.raises(zoo_registry.SourceUnavailable, match="mmpretrain.csv line"):
        get_entry("mmpretrain", "resnet50_8xb32_in1k")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        list_entries()  # warned once, not on every call
