"""Architecture families: every registry entry keeps the architecture id and structure fingerprints
recorded before the families became plug-ins (tests/data/resnet_fingerprints.json; regenerate
with ZOOCHECK_REGENERATE_GOLDEN=1 only for a deliberate change of ids or canonical graphs)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from zoocheck.converters.graph import canonical_fingerprint
from zoocheck.zoo_registry import list_entries

GOLDEN = Path(__file__).parent / "data" / "resnet_fingerprints.json"
#: opsets whose canonical graphs differ in form (IR 3 below 9, no ceil_mode below 10, ...)
OPSETS = (7, 9, 11, 13, 17)


def _recorded() -> dict:
    entries = {e.key: e for e in list_entries()}
    fingerprints = {}
    for entry in entries.values():
        if entry.arch.id not in fingerprints:
            fingerprints[entry.arch.id] = {str(opset): canonical_fingerprint(entry.arch, opset) for opset in OPSETS}
    return {"entries": {key: e.arch.id for key, e in sorted(entries.items())}, "fingerprints": dict(sorted(fingerprints.items()))}


def test_every_recorded_entry_keeps_its_id_and_fingerprints():
    now = _recorded()
    if os.environ.get("ZOOCHECK_REGENERATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(now, indent=1) + "\n")
    golden = json.loads(GOLDEN.read_text())
    # entries added since (new families) are not compared; every recorded one must stay as it was
    changed_ids = {key: (arch, now["entries"].get(key)) for key, arch in golden["entries"].items() if now["entries"].get(key) != arch}
    assert not changed_ids, f"entries whose architecture id changed (recorded, now): {changed_ids}"
    changed = {arch: (prints, now["fingerprints"].get(arch)) for arch, prints in golden["fingerprints"].items() if now["fingerprints"].get(arch) != prints}
    assert not changed, f"architectures whose canonical structure fingerprints changed: {sorted(changed)}"


#: one architecture of each ResNet form the random-weights scheme treats differently
DRAWN = ("resnet18", "resnet50_d", "resnet18_v2", "resnet50_v1", "resnet18_proj", "resnext101_32x4d")


def test_random_weights_are_drawn_as_recorded():
    """The family's random weights (and the numpy forward calibrating them) are what they were:
    each parameter's mean absolute value, to float32 noise (BLAS differs between machines)."""
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
        np.testing.assert_allclose(list(drawn[arch_id].values()), list(golden[arch_id].values()), rtol=1e-4, err_msg=arch_id)
