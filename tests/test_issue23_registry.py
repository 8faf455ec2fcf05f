"""Issue 23, the registry's part: one entry selector for every command, the published number that
goes with the size shown, cached weights that fail their checksum, and `fetch --url PATH`."""

from __future__ import annotations

import hashlib
import json

import pytest
from conftest import make_entry

from zoocheck.cli import main
from zoocheck.converters.weights_resolution import MissingWeightsError, resolve_weights
from zoocheck.zoo_registry import UnknownModelError, get_entry, published_at_input_size, select_entries
from zoocheck.zoo_registry.download import cached_weights_path, fetch
from zoocheck.zoo_registry.types import Checksum, Published, Weights

PAYLOAD = b"zoocheck test weights " * 1000


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOOCHECK_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


# --- one selector ----------------------------------------------------------------------------


def test_one_selector_matches_names_aliases_keys_and_patterns_in_the_order_given():
    keys = lambda entries: [e.key for e in entries]  # noqa: E731
    # a pattern matches aliases too (resnet18.gluon_in1k is gluon_resnet18_v1b), whatever the case
    assert keys(select_entries("timm", ["GLUON_resnet18*"])) == ["timm/resnet18.gluon_in1k"]
    # 'source/name' (a source alias or a pattern as prefix) picks from that source only
    assert keys(select_entries(None, ["paddleclas/ResNet18", "torchvision/resnet18"])) == [
        "ppcls/ResNet18",
        "torchvision/resnet18.IMAGENET1K_V1",
    ]
    assert {e.source for e in select_entries(None, ["*/resnet18"])} >= {"torchvision", "timm", "mmpretrain", "ppcls"}
    # the order of the names given, each entry once; the architecture filter applies to names too
    assert keys(select_entries("timm", ["resnet34", "resnet18", "resnet18.a1_in1k"])) == ["timm/resnet34.a1_in1k", "timm/resnet18.a1_in1k"]
    assert keys(select_entries(["timm", "ppcls"], ["resnet18*"], arch="resnet18_proj")) == ["ppcls/ResNet18"]
    with pytest.raises(UnknownModelError, match="closest: ResNet50_vd"):
        select_entries("ppcls", ["ResNet50_vdd"])
    with pytest.raises(UnknownModelError, match="no model matches 'ResNet5\\*_vdd'"):
        select_entries("ppcls", ["ResNet5*_vdd"])


def test_the_library_is_asked_only_for_a_name_the_registry_lacks_in_one_source():
    asked = []

    def library(source, name):
        asked.append((source, name))
        return make_entry(source, name) if name == "Known_By_Library" else None

    assert [e.name for e in select_entries("timm", ["resnet18", "Known_By_Library"], library=library)] == [
        "resnet18.a1_in1k",
        "Known_By_Library",
    ]
    assert asked == [("timm", "Known_By_Library")]  # the original spelling, never for a registry name
    with pytest.raises(UnknownModelError):
        select_entries(["timm", "torchvision"], ["Known_By_Library"], library=library)
    with pytest.raises(UnknownModelError):
        select_entries("timm", ["Known_By_*"], library=library)  # a pattern is never a library name
    assert asked == [("timm", "Known_By_Library")]


@pytest.mark.parametrize(
    ("source", "name", "shown"),
    [("torchvision", "mobilenet_v3_small", "mobilenet_v3_small.IMAGENET1K_V1"), ("timm", "efficientnet_b0", "efficientnet_b0.ra_in1k")],
)
def test_show_knows_the_library_models_convert_accepts(source, name, shown, capsys):
    assert main(["show", "--src", source, "--model", name, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == shown


def test_fetch_knows_the_library_models_convert_tells_to_fetch(cache, tmp_path, capsys):
    """convert's "no weights: run zoocheck fetch --src timm --model seresnet50.a1_in1k" must work."""
    local = tmp_path / "downloaded.safetensors"
    local.write_bytes(PAYLOAD)
    assert main(["fetch", "--src", "timm", "--model", "seresnet50", "--url", str(local)]) == 0
    assert capsys.readouterr().out.strip() == str(cache / "timm" / "seresnet50.a1_in1k.safetensors")


def test_preprocess_and_parity_patterns_match_aliases_as_sweep_does():
    from zoocheck.cli.common import resolve_entries

    # 'swsl_resnet18' is only an alias: a pattern over names alone selected nothing
    assert [e.name for e in resolve_entries("timm", ["swsl_resnet1*"])] == ["resnet18.fb_swsl_ig1b_ft_in1k"]


def test_a_single_model_option_refuses_a_pattern_selecting_several(capsys):
    assert main(["show", "--src", "timm", "--model", "resnet18*"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "selects" in err and "resnet18.a1_in1k" in err


# --- the published number that goes with the size shown --------------------------------------


def test_list_shows_the_number_published_at_the_entrys_input_size(capsys):
    entry = get_entry("timm", "resnet18.a1_in1k")
    assert entry.input_size == 224 and entry.published[0].input_size == 288  # timm lists its 288-px number first
    assert published_at_input_size(entry).top1 == 71.504
    assert main(["list", "--src", "timm", "--arch", "resnet18*"]) == 0
    [row] = [line for line in capsys.readouterr().out.splitlines() if "resnet18.a1_in1k" in line]
    assert "71.504" in row and "73.164" not in row and "224" in row


def test_no_number_is_shown_for_a_size_nothing_was_published_at():
    at_288 = Published(top1=80.0, top5=95.0, reference="test", input_size=288)
    assert published_at_input_size(make_entry("timm", "x", published=(at_288,))) is None
    unsized = Published(top1=70.0, top5=90.0, reference="test")
    assert published_at_input_size(make_entry("timm", "x", published=(at_288, unsized))) is unsized


# --- cached weights that fail their checksum -------------------------------------------------


def test_show_and_convert_say_the_cached_file_fails_its_checksum(cache, tmp_path, capsys):
    entry = get_entry("torchvision", "resnet18")
    cached = cached_weights_path(entry)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(PAYLOAD)
    found = hashlib.sha256(PAYLOAD).hexdigest()[:8]
    fix = f"zoocheck fetch --src torchvision --model {entry.name} --force"
    assert main(["show", "--src", "torchvision", "--model", "resnet18", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["cached_weights"] is None
    assert f"expected sha256[:8]=f37072fd, found sha256={found}" in data["cached_weights_error"] and fix in data["cached_weights_error"]
    assert main(["show", "--src", "torchvision", "--model", "resnet18"]) == 0
    assert "fail their checksum" in " ".join(capsys.readouterr().out.split())
    # refused before any framework starts: the line names the file, the checksums and the fix
    assert main(["convert", "--src", "torchvision", "--model", "resnet18", "--results", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(cached) in err and f"found sha256={found}" in err and fix in err and "no weights" not in err


def test_a_verified_cached_file_is_used_and_an_unverifiable_one_too(cache):
    verified = make_entry(
        "torchvision",
        "t",
        weights=Weights("http://127.0.0.1:9/v.pth", "v.pth", "torch-state-dict", Checksum("sha256", hashlib.sha256(PAYLOAD).hexdigest())),
    )
    unverifiable = make_entry("ppcls", "t", weights=Weights("http://127.0.0.1:9/u.pdparams", "u.pdparams", "paddle-pdparams"))
    for entry in (verified, unverifiable):
        cached_weights_path(entry).parent.mkdir(parents=True, exist_ok=True)
        cached_weights_path(entry).write_bytes(PAYLOAD)
        assert resolve_weights(entry, None, None) == cached_weights_path(entry)
    cached_weights_path(verified).write_bytes(PAYLOAD + b"!")
    with pytest.raises(MissingWeightsError, match="fail their checksum"):
        resolve_weights(verified, None, None)


# --- fetch --url PATH ------------------------------------------------------------------------


def test_fetch_takes_a_plain_path_and_says_when_it_does_not_exist(cache, tmp_path, monkeypatch, capsys):
    import zoocheck.cli.registry as cli_registry

    entry = make_entry(
        "torchvision",
        "t",
        weights=Weights("http://127.0.0.1:9/x.pth", "x.pth", "torch-state-dict", Checksum("sha256", hashlib.sha256(PAYLOAD).hexdigest())),
    )
    monkeypatch.setattr(cli_registry, "resolve_entry", lambda source, name: entry)
    mirror = tmp_path / "mirror" / "x.pth"
    mirror.parent.mkdir()
    mirror.write_bytes(PAYLOAD)
    assert fetch(entry, url=str(mirror), progress=False).read_bytes() == PAYLOAD
    monkeypatch.chdir(tmp_path)
    assert main(["fetch", "--src", "torchvision", "--model", "t", "--url", "mirror/x.pth", "--force"]) == 0  # relative too
    assert capsys.readouterr().out.strip() == str(cache / "torchvision" / "x.pth")
    assert (cache / "torchvision" / "x.pth").read_bytes() == PAYLOAD
    for missing in (tmp_path / "nope.pth", f"file://{tmp_path / 'nope.pth'}", tmp_path / "mirror"):
        assert main(["fetch", "--src", "torchvision", "--model", "t", "--url", str(missing), "--force"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(tmp_path) in err and ("no such file" in err or "is a directory" in err)
