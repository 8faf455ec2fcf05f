"""Architecture families: every registry entry keeps the architecture id and structure fingerprints
recorded before the families became plug-ins (tests/data/resnet_fingerprints.json; regenerate
with ZOOCHECK_REGENERATE_GOLDEN=1 and -m slow only for a deliberate change of ids or canonical graphs)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from zoocheck.cli import main
from zoocheck.converters.graph import canonical_fingerprint
from zoocheck.converters.normalize import read_metadata
from zoocheck.families.registry import Family, family_of, register_family, unregister_family
from zoocheck.sources import Framework, Source
from zoocheck.zoo_registry import get_entry, list_entries

GOLDEN = Path(__file__).parent / "data" / "resnet_fingerprints.json"
#: opsets whose canonical graphs differ in form (IR 3 below 9, no ceil_mode below 10, ...)
OPSETS = (7, 9, 11, 13, 17)


def _recorded(opsets_of=lambda arch_id: OPSETS) -> dict:
    entries = {e.key: e for e in list_entries()}
    fingerprints = {}
    for entry in entries.values():
        if entry.arch.id not in fingerprints:
            fingerprints[entry.arch.id] = {str(opset): canonical_fingerprint(entry.arch, opset) for opset in opsets_of(entry.arch.id)}
    return {"entries": {key: e.arch.id for key, e in sorted(entries.items())}, "fingerprints": dict(sorted(fingerprints.items()))}


def _assert_kept(now: dict, golden: dict) -> None:
    """Every recorded entry's id and every fingerprint computed in ``now`` are the recorded ones
    (entries added since, new families, are not compared)."""
    changed_ids = {key: (arch, now["entries"].get(key)) for key, arch in golden["entries"].items() if now["entries"].get(key) != arch}
    assert not changed_ids, f"entries whose architecture id changed (recorded, now): {changed_ids}"
    changed = {
        arch: (prints, now["fingerprints"].get(arch))
        for arch, prints in golden["fingerprints"].items()
        if now["fingerprints"].get(arch) != {opset: prints[opset] for opset in now["fingerprints"].get(arch, prints)}
    }
    assert not changed, f"architectures whose canonical structure fingerprints changed: {sorted(changed)}"


def _form(arch_id: str) -> str:
    """An architecture id without its depth and widths (runs of two or more digits): its form."""
    return re.sub(r"\d\d+", "", arch_id)


def test_every_recorded_entry_keeps_its_id_and_fingerprints():
    """Every entry's id, every architecture's fingerprint at opset 17, and at every opset of
    ``OPSETS`` for the shallowest architecture of each form (the opsets change the graph's form,
    the same for every depth); every architecture at every opset: the slow test below."""
    golden = json.loads(GOLDEN.read_text())
    shallowest = {}
    for arch_id in sorted(golden["fingerprints"], key=lambda a: (int(re.search(r"\d\d+", a).group()), a)):
        shallowest.setdefault(_form(arch_id), arch_id)
    every_opset = set(shallowest.values())
    _assert_kept(_recorded(lambda arch_id: OPSETS if arch_id in every_opset else (17,)), golden)


@pytest.mark.slow
def test_every_recorded_architecture_keeps_its_fingerprints_at_every_opset():
    now = _recorded()
    if os.environ.get("ZOOCHECK_REGENERATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(now, indent=1) + "\n")
    _assert_kept(now, json.loads(GOLDEN.read_text()))


#: one architecture of each ResNet form the random-weights scheme treats differently
DRAWN = ("resnet18", "resnet50_d", "resnet18_v2", "resnet50_v1", "resnet18_proj", "resnext101_32x4d")


def test_random_weights_are_drawn_as_recorded():
    """The family's random weights (and the numpy forward calibrating them) are what they were:
    each parameter's mean absolute value, to float32 noise: BLAS's summation order differs between
    machines and thread counts, and the calibration carries it through every layer before a batch
    norm (ResNeXt-101's deepest statistics: 1.2-1.4e-4); a change of the scheme moves them by far more."""
    import numpy as np

    from zoocheck.converters.weights import random_weights

    archs = {e.arch.id: e.arch for e in list_entries()}
    drawn = {}
    for arch_id in DRAWN:
        params = random_weights(archs[arch_id], seed=3, input_size=32)
        drawn[arch_id] = {name: float(np.abs(value).astype(np.float64).mean()) for name, value in sorted(params.items())}
    golden_path = GOLDEN.with_name("resnet_random_weights.json")
    if os.environ.get("ZOOCHECK_REGENERATE_GOLDEN"):
        golden_path.write_text(json.dumps(drawn, indent=0) + "\n")
    golden = json.loads(golden_path.read_text())
    for arch_id in DRAWN:
        assert list(drawn[arch_id]) == list(golden[arch_id]), f"{arch_id}: other parameter names"
        np.testing.assert_allclose(list(drawn[arch_id].values()), list(golden[arch_id].values()), rtol=1e-3, err_msg=arch_id)


# ---------------------------------------------------------------------------------------------
# a family added through the public descriptor alone (tests/tiny_family/), end to end


#: the test-only family: its own modules, one descriptor
TINY = Family(
    "tiny",
    "tiny_family.spec:TinySpec",
    "tiny_family.names",
    parameters="tiny_family.canonical:parameter_shapes",
    template="tiny_family.template:build_template",
    random_weights="tiny_family.random:draw",
    forward="tiny_family.canonical:forward",
    layer_outputs="tiny_family.canonical:layer_outputs",
    layouts=(("tiny_seq", "tiny_family.layouts:to_sequential"),),
)


@pytest.fixture
def tiny_family(registered_source, tmp_path):
    """The test-only ``tiny`` family and its two sources (``tiny-torch``: the canonical names;
    ``tiny-seq``: an nn.Sequential's), registered for one test."""
    register_family(TINY)
    torch = (Framework("torch", extra="torch"),)
    for name, registry in (("tiny-torch", "tiny_family.torch_entries"), ("tiny-seq", "tiny_family.seq_entries")):
        registered_source(
            Source(
                name=name,
                registry=registry,
                converter="tiny_family.converter:TinyFamilyConverter",
                frameworks=torch,
                runtime="torch",
                weights_format="torch-state-dict",
                checkpoint_writers=(("torch-state-dict", "tiny_family.converter:write_checkpoint"),),
            )
        )
    yield tmp_path / "results"
    unregister_family(TINY.name)


def test_a_new_family_runs_end_to_end_without_editing_zoocheck(tiny_family, capsys):
    results = str(tiny_family)
    assert main(["list", "--arch", "tinynet*", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {(e["source"], e["arch"]) for e in listed} == {("tiny-torch", "tinynet_w8"), ("tiny-seq", "tinynet_w8")}
    [fingerprint] = {e["structure_fingerprint"] for e in listed}
    assert fingerprint and fingerprint.startswith("sha256:")
    assert family_of(get_entry("tiny-seq", "tinynet-b").arch) == TINY

    # convert (canonical graph, the template's fingerprint) and parity against torch's own forward
    assert main(["convert", "--src", "tiny-torch", "--model", "tinynet-a", "--random-weights", "--results", results, "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert (record["status"], record["arch"]) == ("ok", "tinynet_w8"), record
    assert (read_metadata(record["onnx_path"])["graph"], read_metadata(record["onnx_path"])["structure_fingerprint"]) == (
        "canonical",
        fingerprint,
    )
    assert main(["parity", "--src", "tiny-seq", "--model", "tinynet-b", "--random-weights", "--results", results, "--json"]) == 0
    parity = json.loads(capsys.readouterr().out)
    parity = parity[0] if isinstance(parity, list) else parity
    assert parity["status"] == "ok" and all(c["max_rel_err"] < 1e-5 for c in parity["comparisons"])
    assert read_metadata(parity["onnx_path"])["structure_fingerprint"] == fingerprint

    # one common random set written in each source's layout, read back by each converter: one function
    assert main(["compare", "tiny-torch:tinynet-a", "tiny-seq:tinynet-b", "--random-weights", "--results", results, "--json"]) == 0
    compared = json.loads(capsys.readouterr().out)
    assert compared["verdict"] == "identical" and compared["weights"]["tensors"] == 6, compared


def test_a_sweep_runs_a_run_time_family_in_its_workers(tiny_family, capsys):
    """Sweep workers are other processes: the family (and sources) registered here at run time are
    registered there too, so its entries convert and pass parity as they do in this process."""
    assert (
        main(["sweep", "--src", "tiny-torch", "--random-weights", "--steps", "convert,parity", "--results", str(tiny_family), "--json"])
        == 0
    )
    outcomes = json.loads(capsys.readouterr().out)
    assert {(o["model"], o["step"], o["status"]) for o in outcomes} == {("tinynet-a", "convert", "ok"), ("tinynet-a", "parity", "ok")}, (
        outcomes
    )
